"""Writes of object failure items: recording S3 events and lifecycle transitions.

Writes never read first: a new failure is a conditional put (attribute_not_exists); when the item
exists, DynamoDB answers with it (ReturnValuesOnConditionCheckFailure=ALL_OLD, PutItem/UpdateItem in
the DynamoDB API reference: "the item attributes as they appeared before they were updated with
the request") and the event is re-decided on what it returned. Transitions are conditional on
the item's ``v`` counter. The item layout is in ``objects.py``; the due-work index attributes come
from ``due.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr

from replimend.errors import ConflictError, NotFoundError
from replimend.ledger import history as lines
from replimend.ledger.due import DueWork
from replimend.ledger.objects import (
    FOUND_BY_BACKFILL,
    describe,
    object_key,
    object_pk,
    record_from_item,
    ref_from_keys,
    ref_of_event,
)
from replimend.ledger.table import NULL_VERSION, Clock, Item, Table, as_int, format_time
from replimend.lifecycle import (
    CLOSED_STATES,
    DUE_STATES,
    EventDecision,
    RecordOutcome,
    check_transition,
    decide_event,
)
from replimend.models import Classification, FailureRecord, ObjectRef, ObjectState, ReplicationEvent
from replimend.reasons import reason_entry

#: History lines kept on the object item; beyond this the older ones move to an overflow item.
INLINE_HISTORY = 8
#: Conditional-write attempts before a lost race is reported as ConflictError (each lost race
#: returns the winner's item, so an attempt costs one write and no read).
MAX_WRITE_ATTEMPTS = 16

ActivityNote = Callable[[str, str, datetime], None]


class FailureStore:
    """Writes object failure items: S3 events and lifecycle transitions."""

    def __init__(
        self, table: Table, *, due: DueWork, retention_days: int, clock: Clock, note: ActivityNote
    ) -> None:
        self._table = table
        self._due = due
        self.retention_days = retention_days
        self._clock = clock
        self._note = note

    # ------------------------------------------------------------------ events

    def record_event(
        self, event: ReplicationEvent, classification: Classification, *, actor: str
    ) -> tuple[EventDecision, ObjectRef | None]:
        decision = decide_event(None, event, classification)
        if decision.outcome is RecordOutcome.IGNORED:
            return decision, None
        ref = ref_of_event(event)
        if decision.outcome is RecordOutcome.OBSERVED:
            return self._observe(ref, event, classification, actor), ref
        now = self._clock()
        created = self._new_item(
            ref, event=event, classification=classification, decision=decision, actor=actor, now=now
        )
        current: Item | None = None
        # The pair is registered before any item of it exists: readers rely on the registry
        # naming every destination a source has records for (once per pair per container).
        self._due.register_pair(ref)
        for _ in range(MAX_WRITE_ATTEMPTS):
            try:
                if current is None:
                    self._table.put(created, Attr("pk").not_exists(), old=True)
                else:
                    decision, item = self._apply_to_existing(current, event, classification, actor, now)
                    if item is None:
                        return decision, ref
                    self._table.put(item, Attr("v").eq(as_int(current.get("v"))), old=True)
            except ConflictError as exc:
                # The item exists (or changed): DynamoDB returned it; decide again on what it holds.
                current = exc.current if isinstance(exc.current, dict) else None
                now = self._clock()
                continue
            self._note(ref.source_bucket, ref.key, event.event_time or now)
            return decision, ref
        raise ConflictError(f"{describe(ref)} kept changing; event {event.event_id} left for redelivery")

    def _apply_to_existing(
        self,
        current: Item,
        event: ReplicationEvent,
        classification: Classification,
        actor: str,
        now: datetime,
    ) -> tuple[EventDecision, Item | None]:
        """The decision for an existing item, and the item to write (None: nothing to write)."""
        record = record_from_item(current)
        decision = decide_event(record, event, classification)
        if decision.outcome is RecordOutcome.DUPLICATE:
            return decision, None
        item = dict(current)
        new_lines = [lines.event_line(event, classification, actor, decision.detail)]
        if decision.first_seen is not None:
            item["fs"] = format_time(decision.first_seen)
        if decision.newest:
            item.update(_newest_event_fields(event, classification))
        if decision.transition and decision.to_state is not None:
            check_transition(record.state, decision.to_state)
            item["st"] = str(decision.to_state)
            item["sbe"] = True
            new_lines.append(
                lines.transition_line(
                    record.version + 1,
                    now,
                    record.state,
                    decision.to_state,
                    actor=actor,
                    why=None,  # the event line just before says why, and names the reason
                    event_id=event.event_id,
                )
            )
            ref = record.ref
            if decision.to_state in DUE_STATES:
                item.update(self._due.attrs(ref, now))
            else:
                item.update(_without_due())
            item["exp"] = self._expiry(decision.to_state, now)
        item["v"] = record.version + 1
        self._append_lines(item, new_lines)
        return decision, {k: v for k, v in item.items() if v is not None}

    def _new_item(
        self,
        ref: ObjectRef,
        *,
        event: ReplicationEvent,
        classification: Classification,
        decision: EventDecision,
        actor: str,
        now: datetime,
    ) -> Item:
        state = decision.to_state or ObjectState.FAILED
        check_transition(None, state)
        item: Item = {
            **object_key(ref),
            "st": str(state),
            "sbe": True,
            "v": 1,
            "fs": format_time(event.event_time) if event.event_time else None,
            **_newest_event_fields(event, classification),
            "h": [
                lines.event_line(event, classification, actor, None),
                lines.transition_line(
                    1,
                    now,
                    None,
                    state,
                    actor=actor,
                    why=None,  # the event line just before says why, and names the reason
                ),
            ],
            "exp": self._expiry(state, now),
        }
        if (
            event.destination_bucket_arn
            and event.destination_bucket_arn != f"arn:aws:s3:::{ref.destination_bucket}"
        ):
            item["dst_arn"] = event.destination_bucket_arn
        if state in DUE_STATES:
            item.update(self._due.attrs(ref, now))
        return {k: v for k, v in item.items() if v is not None}

    def _observe(
        self, ref: ObjectRef, event: ReplicationEvent, classification: Classification, actor: str
    ) -> EventDecision:
        """An observe-only event: its own history item (no object failure, no index)."""
        at = event.event_time or self._clock()
        item = {
            "pk": object_pk(ref.source_bucket, ref.key),
            "sk": f"E#{format_time(at)}#{event.event_id}",
            "h": [lines.event_line(event, classification, actor, None)],
            "dst": ref.destination_bucket,
            "ver": ref.version_id,
            "rule": event.rule_id,  # RTC threshold misses are reported per rule
        }
        try:
            self._table.put(item, Attr("pk").not_exists())
        except ConflictError:
            return EventDecision(RecordOutcome.DUPLICATE)
        self._due.register_observed_source(ref.source_bucket)
        self._note(ref.source_bucket, ref.key, at)
        return EventDecision(RecordOutcome.OBSERVED)

    # ------------------------------------------------------------------ found by backfill

    def record_found(
        self,
        ref: ObjectRef,
        state: ObjectState,
        *,
        failure_reason: str | None,
        job_id: str,
        actor: str,
        detail: str | None = None,
    ) -> FailureRecord | None:
        """A version a backfill job's report names and no event ever did: a new record whose first
        history line says so (``found_by: backfill``); None when a record exists already (an event or
        an earlier run got there first: that record is left as it is)."""
        check_transition(None, state)
        now = self._clock()
        entry = reason_entry(failure_reason)
        item: Item = {
            **object_key(ref),
            "st": str(state),
            "v": 1,
            "fs": format_time(now),
            "ls": format_time(now),
            "rsn": failure_reason,
            "act": str(entry.action),
            "job": job_id,
            "fb": FOUND_BY_BACKFILL,
            "h": [
                lines.transition_line(
                    1,
                    now,
                    None,
                    state,
                    actor=actor,
                    why=f"found_by: {FOUND_BY_BACKFILL}",
                    job_id=job_id,
                    failure_reason=failure_reason,
                    detail=detail,
                )
            ],
            "exp": self._expiry(state, now),
        }
        if state in DUE_STATES:
            self._due.register_pair(ref)
            item.update(self._due.attrs(ref, now))
        try:
            self._table.put(item, Attr("pk").not_exists())
        except ConflictError:
            return None
        self._note(ref.source_bucket, ref.key, now)
        return record_from_item({k: v for k, v in item.items() if v is not None})

    # ------------------------------------------------------------------ transitions

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
        """Move a record to ``to_state`` if it is still at ``record.version``.

        ConflictError otherwise, carrying the record as it is now (``exc.current``), or None.
        """
        check_transition(record.state, to_state)
        ref = record.ref
        now = self._clock()
        line = lines.transition_line(
            record.version + 1,
            now,
            record.state,
            to_state,
            actor=actor,
            why=reason,
            job_id=job_id,
            failure_reason=failure_reason if failure_reason != record.failure_reason else None,
            detail=detail,
        )
        sets: dict[str, Any] = {"st": str(to_state), "v": record.version + 1, "sbe": None}
        if attempts is not None:
            sets["att"] = attempts
        if failure_reason is not None:
            sets["rsn"] = failure_reason
        if job_id is not None:
            sets["job"] = job_id
        if to_state in DUE_STATES:
            due_at = next_attempt_at or record.next_attempt_at or now
            sets.update(self._due.attrs(ref, due_at))
        else:
            sets.update(_without_due())
            if next_attempt_at is not None:
                sets["nx"] = format_time(next_attempt_at)
        sets["exp"] = self._expiry(to_state, now)
        if record.history_count + 1 > INLINE_HISTORY:
            new_item = self._transition_with_overflow(record, sets, line)
        else:
            new_item = self._update(ref, record.version, sets, [line])
        self._note(ref.source_bucket, ref.key, now)
        return record_from_item(new_item)

    def _update(self, ref: ObjectRef, version: int, sets: dict[str, Any], new_lines: list[str]) -> Item:
        names: dict[str, str] = {"#h": "h", "#v": "v"}
        values: dict[str, Any] = {":lines": new_lines, ":expected": version}
        set_parts = ["#h = list_append(#h, :lines)"]
        remove_parts = []
        for index, (attribute, value) in enumerate(sets.items()):
            names[f"#a{index}"] = attribute
            if value is None:
                remove_parts.append(f"#a{index}")
            else:
                values[f":a{index}"] = value
                set_parts.append(f"#a{index} = :a{index}")
        expression = "SET " + ", ".join(set_parts)
        if remove_parts:
            expression += " REMOVE " + ", ".join(remove_parts)
        try:
            return self._table.update(
                object_key(ref),
                UpdateExpression=expression,
                ConditionExpression="#v = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConflictError as exc:
            current = record_from_item(exc.current) if isinstance(exc.current, dict) else None
            if current is None:
                raise NotFoundError(f"{describe(ref)} is not in the ledger") from exc
            raise ConflictError(
                f"{describe(ref)} moved since version {version}; re-read it", current
            ) from exc

    def _transition_with_overflow(self, record: FailureRecord, sets: dict[str, Any], line: str) -> Item:
        """A transition that also moves the item's older history lines to an overflow item."""
        ref = record.ref
        current = self._table.get(**object_key(ref))
        if current is None:
            raise NotFoundError(f"{describe(ref)} is not in the ledger")
        if as_int(current.get("v")) != record.version:
            raise ConflictError(
                f"{describe(ref)} moved since version {record.version}; re-read it", record_from_item(current)
            )
        item = {**current, **sets}
        self._append_lines(item, [line])
        item = {k: v for k, v in item.items() if v is not None}
        try:
            self._table.put(item, Attr("v").eq(record.version), old=True)
        except ConflictError as exc:
            fresh = record_from_item(exc.current) if isinstance(exc.current, dict) else None
            raise ConflictError(
                f"{describe(ref)} moved since version {record.version}; re-read it", fresh
            ) from exc
        return item

    def _append_lines(self, item: Item, new_lines: Sequence[str]) -> None:
        """Append history lines; past INLINE_HISTORY the older ones go to an overflow item first.

        The overflow item's key comes from the object's version, so a retried write rewrites the
        same item (no duplicate lines) and a lost race leaves lines the readers de-duplicate.
        """
        history = [*item.get("h", []), *new_lines]
        if len(history) > INLINE_HISTORY:
            keep = 2
            moved, history = history[:-keep], history[-keep:]
            ref = ref_from_keys(str(item["pk"]), str(item["sk"]))
            version = ref.version_id or NULL_VERSION
            # No TTL on overflow items: a closed object may reopen (the newest event decides), and
            # an ``exp`` set while it was closed would then expire an open object's history.
            overflow = {
                "pk": item["pk"],
                "sk": f"H#{version}#{ref.destination_bucket}#{as_int(item.get('v')):010d}",
                "h": moved,
            }
            self._table.put(overflow)
            moved_events = [e.event_id for e in (lines.decode(ref, t) for t in moved) if e.event_id]
            if moved_events:
                item["oe"] = sorted({*(str(e) for e in item.get("oe", ())), *moved_events})
        item["h"] = history

    # ------------------------------------------------------------------ due work and pairs

    def _expiry(self, state: ObjectState, now: datetime) -> int | None:
        if self.retention_days <= 0 or state not in CLOSED_STATES:
            return None
        return int((now + timedelta(days=self.retention_days)).timestamp())


def _newest_event_fields(event: ReplicationEvent, classification: Classification) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "rsn": classification.failure_reason,
        "act": str(classification.action),
        "ls": format_time(event.event_time) if event.event_time else None,
        "seq": event.sequencer,
        "eid": event.event_id,
    }
    # Descriptive fields: keep what an earlier event told us when a later one omits them. (Not the
    # ETag: the version id already names the content, and every byte is paid at every write.)
    for name, value in (("rule", event.rule_id), ("reg", event.region), ("size", event.size)):
        if value is not None:
            fields[name] = value
    return {k: v for k, v in fields.items() if v is not None}


def _without_due() -> dict[str, Any]:
    return {"due_pk": None, "due_sk": None, "nx": None}
