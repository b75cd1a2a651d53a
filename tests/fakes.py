"""In-memory fakes of the ports, for unit tests of the logic without moto.

``InMemoryLedger`` stores records in a dict and makes its decisions with ``replimend.lifecycle``
exactly as the DynamoDB ledger does; only the storage differs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

from replimend.errors import ConflictError, NotFoundError
from replimend.lifecycle import DUE_STATES, RecordOutcome, check_transition, decide_event
from replimend.models import (
    Classification,
    FailureRecord,
    HistoryEntry,
    ObjectRef,
    ObjectState,
    ReplicationEvent,
)


class InMemoryLedger:
    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.records: dict[ObjectRef, FailureRecord] = {}
        self.lines: dict[ObjectRef, list[HistoryEntry]] = {}
        self.clock = clock or (lambda: datetime(2024, 9, 5, tzinfo=UTC))

    def record_event(
        self, event: ReplicationEvent, classification: Classification, *, actor: str = "ingest"
    ) -> RecordOutcome:
        assert event.source_bucket and event.key is not None
        ref = ObjectRef(event.source_bucket, event.key, event.version_id, event.destination_bucket or "-")
        record = self.records.get(ref)
        decision = decide_event(record, event, classification)
        if decision.outcome in (RecordOutcome.IGNORED, RecordOutcome.OBSERVED, RecordOutcome.DUPLICATE):
            return decision.outcome
        now = self.clock()
        state = decision.to_state or ObjectState.FAILED
        if record is None:
            check_transition(None, state)
            record = FailureRecord(
                ref=ref,
                state=state,
                failure_reason=classification.failure_reason,
                action=classification.action,
                category=classification.category,
                state_since=now,
                state_by_event=True,
                version=0,
            )
        if decision.transition:
            check_transition(self.records[ref].state if ref in self.records else None, state)
            record = dataclasses.replace(record, state=state, state_since=now, state_by_event=True)
        if decision.newest:
            record = dataclasses.replace(
                record,
                failure_reason=classification.failure_reason,
                action=classification.action,
                last_seen=event.event_time,
                last_sequencer=event.sequencer,
                last_event_id=event.event_id,
            )
        record = dataclasses.replace(
            record,
            first_seen=decision.first_seen or record.first_seen,
            event_ids=record.event_ids | {event.event_id},
            next_attempt_at=now if state in DUE_STATES and decision.transition else record.next_attempt_at,
            version=record.version + 1,
        )
        self.records[ref] = record
        self.lines.setdefault(ref, []).append(
            HistoryEntry(
                ref,
                event.event_time or now,
                "event",
                None,
                None,
                classification.failure_reason,
                actor,
                event_id=event.event_id,
            )
        )
        return decision.outcome

    def get_failure(self, ref: ObjectRef) -> FailureRecord | None:
        return self.records.get(ref)

    def transition(
        self,
        record: FailureRecord,
        to_state: ObjectState,
        *,
        reason: str,
        actor: str,
        job_id: str | None = None,
        next_attempt_at: datetime | None = None,
        attempts: int | None = None,
        failure_reason: str | None = None,
        detail: str | None = None,
    ) -> FailureRecord:
        current = self.records.get(record.ref)
        if current is None:
            raise NotFoundError(str(record.ref))
        if current.version != record.version:
            raise ConflictError("moved", current)
        check_transition(current.state, to_state)
        now = self.clock()
        moved = dataclasses.replace(
            current,
            state=to_state,
            state_since=now,
            state_by_event=False,
            version=current.version + 1,
            job_id=job_id or current.job_id,
            attempts=current.attempts if attempts is None else attempts,
            failure_reason=failure_reason or current.failure_reason,
            next_attempt_at=next_attempt_at or (now if to_state in DUE_STATES else current.next_attempt_at),
        )
        self.records[record.ref] = moved
        self.lines.setdefault(record.ref, []).append(
            HistoryEntry(
                record.ref,
                now,
                "transition",
                current.state,
                to_state,
                reason,
                actor,
                job_id=job_id,
                detail=detail,
            )
        )
        return moved
