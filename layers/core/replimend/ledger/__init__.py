"""The audit ledger: one DynamoDB table, and the only DynamoDB code in replimend.

``Ledger`` is the facade every stage uses; behind it one module per aggregate:
  objects.py    object failure items: keys, codec, reads (a record, a key's history)
  failures.py   writes of object failures: S3 events and transitions (history on the item)
  due.py        due work (the DueWork index) and the registry of (source, destination) pairs
  incidents.py  incidents (one cause: source, destination, reason), counted once per batch
  jobs.py       Batch Replication jobs and their request tokens
  locks.py      per-source leases: one backfill starts a job for a source at a time
  activity.py   which keys of a bucket changed in which hour (audit by bucket and time)
  history.py    the history line format
  stream.py     the table's DynamoDB stream: which history lines a stream record wrote
  table.py      calls, pages, batch reads, time and key formats

Indexes (both sparse, both KEYS_ONLY: a write that changes no index key costs no index write):
  DueWork  due_pk D#<source>#<destination>#<shard>  due_sk <next attempt>#<digest>  FAILED/BLOCKED objects
  Lists    list_pk INCIDENT#OPEN|INCIDENT#FIXED|JOB#ACTIVE|JOB#DONE  list_sk <source>#…

Lifecycle decisions are not made here: ``replimend.lifecycle`` makes them, the ledger persists
them and refuses a transition the lifecycle does not allow. Writes that belong to a batch (incident
counts, activity pages) are buffered inside ``with ledger.batch():`` and written once at its end;
outside a batch they are written at once.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from replimend.ledger.activity import ActivityLog, hour_of
from replimend.ledger.due import DUE_INDEX, DueWork
from replimend.ledger.failures import FailureStore
from replimend.ledger.incidents import IncidentStore
from replimend.ledger.jobs import JobStore
from replimend.ledger.locks import SourceLocks
from replimend.ledger.objects import ObjectReader, ref_from_keys
from replimend.ledger.table import Clock, Table, format_time, parse_time
from replimend.lifecycle import DUE_STATES, STATE_FOR_ACTION, RecordOutcome
from replimend.models import (
    Classification,
    FailureRecord,
    HistoryEntry,
    Incident,
    JobRecord,
    ObjectRef,
    ObjectState,
    ObservedEvent,
    ReplicationEvent,
)
from replimend.reasons import UNKNOWN_REASON

if TYPE_CHECKING:
    from replimend.settings import LedgerSettings

__all__ = ["DUE_INDEX", "STATE_FOR_ACTION", "Ledger", "RecordOutcome", "format_time", "parse_time"]


class Ledger:
    """Object failures, their history, incidents and jobs, in one DynamoDB table."""

    def __init__(
        self,
        table: Any,
        *,
        index_shards: int = 16,
        history_retention_days: int = 0,
        clock: Clock | None = None,
    ) -> None:
        if index_shards < 1:
            raise ValueError("index_shards must be at least 1")
        self._table = Table(table)
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._activity = ActivityLog(self._table)
        self._due = DueWork(self._table, index_shards=index_shards, clock=self._now)
        self._objects = ObjectReader(self._table)
        self._failures = FailureStore(
            self._table,
            due=self._due,
            retention_days=history_retention_days,
            clock=self._now,
            note=self._note,
        )
        self._incidents = IncidentStore(self._table, clock=self._now)
        self._jobs = JobStore(self._table, clock=self._now)
        self._locks = SourceLocks(self._table, clock=self._now)
        self._batch_depth = 0

    @classmethod
    def from_settings(cls, settings: LedgerSettings, *, clock: Clock | None = None) -> Ledger:
        import boto3
        from botocore.config import Config

        resource = boto3.resource("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 8}))
        return cls(
            resource.Table(settings.ledger_table),
            index_shards=settings.index_shards,
            history_retention_days=settings.history_retention_days,
            clock=clock,
        )

    @property
    def table_name(self) -> str:
        return self._table.name

    @property
    def history_retention_days(self) -> int:
        return self._failures.retention_days

    @property
    def index_shards(self) -> int:
        return self._due.index_shards

    def recorded_index_shards(self) -> int | None:
        """The largest index shard count the ledger's writers recorded; None before any failure."""
        return self._due.recorded_shards()

    def _now(self) -> datetime:
        return self._clock()

    def _note(self, bucket: str, key: str, at: datetime) -> None:
        self._activity.note(bucket, key, at)

    # ------------------------------------------------------------------ batching

    @contextmanager
    def batch(self) -> Iterator[Ledger]:
        """Buffer per-batch writes (incident counts, activity pages) and write them once at the end."""
        self._batch_depth += 1
        try:
            yield self
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self.flush()

    def flush(self) -> None:
        self._activity.flush()
        self._incidents.flush()

    def _flush_unless_batching(self) -> None:
        if self._batch_depth == 0:
            self.flush()

    # ------------------------------------------------------------------ object failures

    def record_event(
        self, event: ReplicationEvent, classification: Classification, *, actor: str = "ingest"
    ) -> RecordOutcome:
        """Record one S3 event; idempotent, and the result is the same in any delivery order
        (the rules are ``lifecycle.decide_event``)."""
        decision, ref = self._failures.record_event(event, classification, actor=actor)
        if decision.opens_incident and ref is not None:
            self._incidents.tally(
                ref.source_bucket,
                ref.destination_bucket,
                classification.failure_reason or UNKNOWN_REASON.code,
                new_objects=decision.counts_for_incident,
                at=event.event_time if decision.outcome is not RecordOutcome.DUPLICATE else None,
            )
        self._flush_unless_batching()
        return decision.outcome

    def record_found(
        self,
        ref: ObjectRef,
        state: ObjectState,
        *,
        failure_reason: str | None,
        job_id: str,
        actor: str = "track_jobs",
        detail: str | None = None,
    ) -> FailureRecord | None:
        """Enter a version a backfill job's report names (``found_by: backfill``); None if known."""
        found = self._failures.record_found(
            ref, state, failure_reason=failure_reason, job_id=job_id, actor=actor, detail=detail
        )
        self._flush_unless_batching()
        return found

    def get_failure(self, ref: ObjectRef) -> FailureRecord | None:
        return self._objects.get(ref)

    def get_failures(self, refs: list[ObjectRef]) -> list[FailureRecord]:
        """The records of ``refs`` that exist, in order (BatchGetItem, a hundred a call)."""
        return self._objects.get_many(refs)

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
        """Move a record to ``to_state`` if still at ``record.version``; ConflictError (with the
        record as it is now in ``.current``) otherwise; IllegalTransitionError if not allowed."""
        moved = self._failures.transition(
            record,
            to_state,
            reason=reason,
            actor=actor,
            job_id=job_id,
            next_attempt_at=next_attempt_at,
            attempts=attempts,
            failure_reason=failure_reason,
            detail=detail,
        )
        self._flush_unless_batching()
        return moved

    def sources(self) -> list[str]:
        """Every source bucket with records, sorted (the pair registry names them all)."""
        return self._due.sources()

    def open_sources(self) -> list[str]:
        """Source buckets with FAILED or BLOCKED objects now."""
        return [source for source in self._due.sources() if self._due.has_due_work(source)]

    def due_failures(
        self, source_bucket: str, *, now: datetime, limit: int | None = None
    ) -> Iterator[FailureRecord]:
        """FAILED/BLOCKED objects of a source (every destination) whose next attempt is due, oldest first."""
        return self._due.due(source_bucket, now=now, limit=limit)

    def due_versions(self, source_bucket: str, *, now: datetime) -> Iterator[list[FailureRecord]]:
        """Each source version with a due record, oldest next attempt first, with its records
        towards every destination the source has (the pair registry names them all): read with
        BatchGetItem, a hundred keys a call, so a source with one destination costs one item read
        per version, as reading the due records alone would."""
        destinations = [d for s, d in self._due.pairs() if s == source_bucket]
        seen: set[tuple[str, str | None]] = set()
        keys = self._due.due_keys(source_bucket, now=now)
        while True:
            window: list[ObjectRef] = []
            for found in keys:
                ref = ref_from_keys(str(found["pk"]), str(found["sk"]))
                if (ref.key, ref.version_id) not in seen:
                    seen.add((ref.key, ref.version_id))
                    window.append(ref)
                    if len(window) * max(len(destinations), 1) >= 100:
                        break
            if not window:
                return
            # The due record's own destination too, should the registry not name it yet.
            asked = [
                ObjectRef(source_bucket, r.key, r.version_id, destination)
                for r in window
                for destination in dict.fromkeys([*destinations, r.destination_bucket])
            ]
            records = self._objects.get_many(asked)
            for ref in window:
                versions = [r for r in records if (r.ref.key, r.ref.version_id) == (ref.key, ref.version_id)]
                if any(record.state in DUE_STATES for record in versions):
                    yield versions

    def version_records(self, source_bucket: str, key: str, version_id: str | None) -> list[FailureRecord]:
        """A version's record towards each destination it failed for (any state)."""
        return self._objects.records_of_version(source_bucket, key, version_id)

    def failures_in_state(
        self,
        state: ObjectState,
        *,
        source_bucket: str | None = None,
        destination_bucket: str | None = None,
        failure_reason: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[FailureRecord]:
        """Objects now in ``state``, by source bucket then the time they entered it.

        FAILED/BLOCKED come from the due-work index; other states from the activity log of each
        source bucket (bounded by since/until when given), each key's items read once.
        """
        records = self._in_state(state, source_bucket, destination_bucket)
        produced = 0
        for record in records:
            if failure_reason is not None and record.failure_reason != failure_reason:
                continue
            entered = record.state_since
            if since is not None and (entered is None or entered < since):
                continue
            if until is not None and (entered is None or entered > until):
                continue
            yield record
            produced += 1
            if limit is not None and produced >= limit:
                return

    def _in_state(
        self, state: ObjectState, source_bucket: str | None, destination_bucket: str | None
    ) -> Iterator[FailureRecord]:
        pairs = [
            (s, d)
            for s, d in self._due.pairs()
            if (source_bucket is None or s == source_bucket)
            and (destination_bucket is None or d == destination_bucket)
        ]
        for source in sorted({s for s, _ in pairs}):
            if state in DUE_STATES:
                found = [
                    r
                    for r in self._due.due(source, now=None)
                    if r.state is state
                    and (destination_bucket is None or r.ref.destination_bucket == destination_bucket)
                ]
            else:
                found = [
                    r
                    for key in self._activity.keys(source, None, None)
                    for r in self._objects.records_of_key(source, key)
                    if r.state is state
                    and (destination_bucket is None or r.ref.destination_bucket == destination_bucket)
                ]
            epoch = datetime.min.replace(tzinfo=UTC)
            yield from sorted(found, key=lambda r: (r.state_since or epoch, r.ref.key))

    def failures_seen(
        self, source_bucket: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[FailureRecord]:
        """A source's failures first seen inside [since, until], in (first seen, key, version,
        destination) order, from the activity log: an hour's records are read and sorted together,
        and a record is produced in the hour it was first seen only, so never twice."""
        for hour, keys in self._activity.hours(source_bucket, since, until):
            found = [
                record
                for key in keys
                for record in self._objects.records_of_key(source_bucket, key)
                if (seen := seen_at(record)) is not None
                and hour_of(seen) == hour
                and _inside(seen, since, until)
            ]
            yield from sorted(found, key=failure_order)

    def observed_events(
        self, source_bucket: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[ObservedEvent]:
        """Observe-only events (RTC threshold misses, not tracked) of a source inside [since, until]."""
        for key in self._activity.keys(source_bucket, since, until):
            yield from self._objects.observed_events(source_bucket, key, since, until)

    def source_buckets(self, *, observed: bool = False) -> list[str]:
        """Every source bucket that ever had a failure (the pair registry); with ``observed``, also
        those that only sent observe-only events."""
        sources = set(self._due.sources())
        if observed:
            sources.update(self._due.observed_sources())
        return sorted(sources)

    # ------------------------------------------------------------------ history and audit

    def object_records(self, source_bucket: str, key: str) -> list[FailureRecord]:
        """A key's records: every version towards every destination it failed for."""
        return self._objects.records_of_key(source_bucket, key)

    def history(self, source_bucket: str, key: str) -> list[HistoryEntry]:
        """An object's audit trail across all its versions and destinations, in time order."""
        return self._objects.history(source_bucket, key)

    def audit_by_bucket(
        self, bucket: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[HistoryEntry]:
        """Every history line of the bucket's objects inside [since, until], in time order."""
        streams = [
            [e for e in self._objects.history(bucket, key) if _inside(e.at, since, until)]
            for key in self._activity.keys(bucket, since, until)
        ]
        return heapq.merge(*streams, key=lambda e: (e.at, e.kind != "event"))

    def audit_by_reason(
        self, reason: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[HistoryEntry]:
        """History lines written while an object's failure reason was ``reason``, in time order."""
        buckets = sorted({source for source, _ in self._due.pairs()})
        streams = [
            (e for e in self.audit_by_bucket(bucket, since=since, until=until) if e.failure_reason == reason)
            for bucket in buckets
        ]
        return heapq.merge(*streams, key=lambda e: (e.at, e.kind != "event"))

    # ------------------------------------------------------------------ incidents

    def touch_incident(
        self,
        source_bucket: str,
        destination_bucket: str,
        reason: str,
        *,
        new_objects: int = 0,
        at: datetime | None = None,
    ) -> Incident:
        return self._incidents.touch(
            source_bucket, destination_bucket, reason, new_objects=new_objects, at=at
        )

    def get_incident(self, source_bucket: str, destination_bucket: str, reason: str) -> Incident | None:
        return self._incidents.get(source_bucket, destination_bucket, reason)

    def list_incidents(self, *, open_only: bool = True) -> list[Incident]:
        return self._incidents.list(open_only=open_only)

    def set_incident_fixed(
        self, source_bucket: str, destination_bucket: str, reason: str, *, actor: str, fixed: bool = True
    ) -> Incident:
        return self._incidents.set_fixed(source_bucket, destination_bucket, reason, actor=actor, fixed=fixed)

    def record_diagnosis(
        self,
        source_bucket: str,
        destination_bucket: str,
        reason: str,
        summary: str,
        checks: Sequence[Mapping[str, Any]] = (),
    ) -> Incident:
        return self._incidents.record_diagnosis(source_bucket, destination_bucket, reason, summary, checks)

    def claim_incident_reminder(
        self, source_bucket: str, destination_bucket: str, reason: str, *, interval: timedelta
    ) -> bool:
        return self._incidents.claim_reminder(source_bucket, destination_bucket, reason, interval=interval)

    # ------------------------------------------------------------------ jobs

    def create_job(self, job: JobRecord) -> bool:
        return self._jobs.create(job)

    def get_job(self, job_id: str) -> JobRecord | None:
        return self._jobs.get(job_id)

    def find_job_by_token(self, token: str) -> JobRecord | None:
        return self._jobs.find_by_token(token)

    def update_job(self, job: JobRecord, **changes: Any) -> JobRecord:
        return self._jobs.update(job, **changes)

    def list_jobs(self, *, active_only: bool = False) -> list[JobRecord]:
        return self._jobs.list(active_only=active_only)

    def active_jobs(self, source_bucket: str | None = None) -> list[JobRecord]:
        return self._jobs.list(active_only=True, source_bucket=source_bucket)

    # ------------------------------------------------------------------ per-source locks

    def acquire_source_lock(self, source_bucket: str, owner: str, *, lease: timedelta) -> bool:
        """Hold ``source_bucket`` for ``owner`` (a conditional put); False while another owner holds
        an unexpired lease. The same owner acquires again (a retried run)."""
        return self._locks.acquire(source_bucket, owner, lease=lease)

    def release_source_lock(self, source_bucket: str, owner: str) -> None:
        self._locks.release(source_bucket, owner)


def seen_at(record: FailureRecord) -> datetime | None:
    """When a failure was first seen: its first event's time, else (no eventTime) its first state change."""
    return record.first_seen or record.state_since


def failure_order(record: FailureRecord) -> tuple[datetime, str, str, str]:
    seen = seen_at(record) or datetime.min.replace(tzinfo=UTC)
    return (seen, record.ref.key, record.ref.version_id or "", record.ref.destination_bucket)


def _inside(at: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or at >= since) and (until is None or at <= until)
