"""Object failures: one item per (source, key, version, destination), its audit trail on the item.

Item (attribute names are short on purpose: DynamoDB bills each write per started KB of the item,
names included, and the object item is written at every step of the lifecycle):
  pk  O#<source>#<key>                 the full S3 key (a partition key may be 2,048 bytes)
  sk  V#<version|null>#<destination>
  st state · sbe set by an event · rsn failure reason · act action · att attempts
  fs first seen · ls/seq/eid newest event (time, sequencer, id) · nx next attempt · job current job
  rule · reg Region · size · dst_arn (only when not the plain bucket ARN)
  h   history lines, oldest first (``history.py``); older lines overflow to ``H#`` items
  oe  ids of events whose lines overflowed (duplicate detection)
  due_pk D#<source>#<destination>#<shard>   due_sk <next attempt>#<digest>   only while FAILED/BLOCKED
  exp TTL (closed objects, when a retention is set)

Writes never read first: a new failure is a conditional put (attribute_not_exists); when the item
exists, DynamoDB answers with it (ReturnValuesOnConditionCheckFailure=ALL_OLD) and the event is
re-decided on what it returned. Transitions are conditional on the item's ``v`` counter.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from replimend.errors import ConflictError, MalformedEventError, NotFoundError
from replimend.ledger import history as lines
from replimend.ledger.table import (
    AFTER_TIME,
    NO_DESTINATION,
    NULL_VERSION,
    Clock,
    Item,
    Table,
    as_int,
    digest,
    format_time,
    maybe_time,
    shard_of,
)
from replimend.lifecycle import (
    CLOSED_STATES,
    DUE_STATES,
    EventDecision,
    RecordOutcome,
    check_transition,
    decide_event,
)
from replimend.models import (
    Action,
    Classification,
    FailureRecord,
    HistoryEntry,
    ObjectRef,
    ObjectState,
    ReplicationEvent,
)

DUE_INDEX = "DueWork"
PAIRS_PK = "PAIRS"
#: History lines kept on the object item; beyond this the older ones move to an overflow item.
INLINE_HISTORY = 8
#: Conditional-write attempts before a lost race is reported as ConflictError (each lost race
#: returns the winner's item, so an attempt costs one write and no read).
MAX_WRITE_ATTEMPTS = 16

ActivityNote = Callable[[str, str, datetime], None]


def object_pk(source_bucket: str, key: str) -> str:
    return f"O#{source_bucket}#{key}"


def object_sk(version_id: str | None, destination_bucket: str) -> str:
    return f"V#{version_id or NULL_VERSION}#{destination_bucket}"


def object_key(ref: ObjectRef) -> dict[str, str]:
    return {
        "pk": object_pk(ref.source_bucket, ref.key),
        "sk": object_sk(ref.version_id, ref.destination_bucket),
    }


def identity(ref: ObjectRef) -> str:
    """The digest of an object failure used in index keys (never the S3 key itself)."""
    return digest(ref.key, ref.version_id or NULL_VERSION, ref.destination_bucket)


def ref_of_event(event: ReplicationEvent) -> ObjectRef:
    if not event.source_bucket or event.key is None:
        raise MalformedEventError(f"{event.event_type} event {event.event_id} names no source bucket or key")
    return ObjectRef(
        event.source_bucket, event.key, event.version_id, event.destination_bucket or NO_DESTINATION
    )


def ref_from_keys(pk: str, sk: str) -> ObjectRef:
    source_bucket, key = pk[2:].split("#", 1)
    # Bucket names and S3 version IDs never contain "#"; the key may, so it is split off last.
    _, version, destination = sk.split("#", 2)
    return ObjectRef(source_bucket, key, None if version == NULL_VERSION else version, destination)


def describe(ref: ObjectRef) -> str:
    version = ref.version_id or NULL_VERSION
    return f"s3://{ref.source_bucket}/{ref.key} version {version} -> {ref.destination_bucket}"


def record_from_item(item: Item) -> FailureRecord:
    ref = ref_from_keys(str(item["pk"]), str(item["sk"]))
    history = lines.decode_all(ref, [str(t) for t in item.get("h", [])])
    transitions = [entry for entry in history if entry.kind == "transition"]
    event_ids = {entry.event_id for entry in history if entry.kind == "event" and entry.event_id}
    event_ids.update(str(e) for e in item.get("oe", ()))
    destination_arn = item.get("dst_arn") or (
        f"arn:aws:s3:::{ref.destination_bucket}" if ref.destination_bucket != NO_DESTINATION else None
    )
    return FailureRecord(
        ref=ref,
        state=ObjectState(item["st"]),
        failure_reason=item.get("rsn"),
        action=Action(item["act"]),
        category=_category(item.get("rsn")),
        attempts=as_int(item.get("att")),
        first_seen=maybe_time(item.get("fs")),
        last_seen=maybe_time(item.get("ls")),
        last_sequencer=item.get("seq"),
        destination_bucket_arn=destination_arn,
        rule_id=item.get("rule"),
        region=item.get("reg"),
        next_attempt_at=maybe_time(item.get("nx")),
        job_id=item.get("job"),
        job_ids=list(dict.fromkeys(e.job_id for e in transitions if e.job_id)),
        version=as_int(item.get("v")),
        state_since=transitions[-1].at if transitions else None,
        state_by_event=bool(item.get("sbe", False)),
        last_event_id=item.get("eid"),
        event_ids=frozenset(event_ids),
        history_count=len(history),
    )


def _category(reason: str | None) -> str:
    from replimend.reasons import reason_entry

    return reason_entry(reason).category


class FailureStore:
    """Object failure items: recording events, transitions, due work, history."""

    def __init__(
        self, table: Table, *, index_shards: int, retention_days: int, clock: Clock, note: ActivityNote
    ) -> None:
        self._table = table
        self.index_shards = index_shards
        self.retention_days = retention_days
        self._clock = clock
        self._note = note
        # Pairs registered by this process: the registry item is written once per container.
        self._registered_pairs: set[tuple[str, str]] = set()

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
        for _ in range(MAX_WRITE_ATTEMPTS):
            try:
                if current is None:
                    self._table.put(created, Attr("pk").not_exists(), old=True)
                    self._register_pair(ref)
                else:
                    decision, item = self._apply_to_existing(current, event, classification, actor, now)
                    if item is None:
                        return decision, ref
                    self._table.put(item, Attr("v").eq(as_int(current.get("v"))), old=True)
                    if decision.transition and decision.to_state in DUE_STATES:
                        self._register_pair(ref)
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
                item.update(self._due_attrs(ref, now))
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
            item.update(self._due_attrs(ref, now))
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
        }
        try:
            self._table.put(item, Attr("pk").not_exists())
        except ConflictError:
            return EventDecision(RecordOutcome.DUPLICATE)
        self._note(ref.source_bucket, ref.key, at)
        return EventDecision(RecordOutcome.OBSERVED)

    # ------------------------------------------------------------------ transitions

    def get(self, ref: ObjectRef) -> FailureRecord | None:
        item = self._table.get(**object_key(ref))
        return record_from_item(item) if item else None

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
            sets.update(self._due_attrs(ref, due_at))
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
            overflow = {
                "pk": item["pk"],
                "sk": f"H#{version}#{ref.destination_bucket}#{as_int(item.get('v')):010d}",
                "h": moved,
                "exp": item.get("exp"),
            }
            self._table.put(overflow)
            moved_events = [e.event_id for e in (lines.decode(ref, t) for t in moved) if e.event_id]
            if moved_events:
                item["oe"] = sorted({*(str(e) for e in item.get("oe", ())), *moved_events})
        item["h"] = history

    # ------------------------------------------------------------------ due work and pairs

    def _due_attrs(self, ref: ObjectRef, due_at: datetime) -> dict[str, Any]:
        ident = identity(ref)
        at = format_time(due_at)
        return {
            "nx": at,
            "due_pk": f"D#{ref.source_bucket}#{ref.destination_bucket}#{shard_of(ident, self.index_shards)}",
            "due_sk": f"{at}#{ident}",
        }

    def _expiry(self, state: ObjectState, now: datetime) -> int | None:
        if self.retention_days <= 0 or state not in CLOSED_STATES:
            return None
        return int((now + timedelta(days=self.retention_days)).timestamp())

    def _register_pair(self, ref: ObjectRef) -> None:
        pair = (ref.source_bucket, ref.destination_bucket)
        if pair in self._registered_pairs:
            return
        self._table.update(
            {"pk": PAIRS_PK, "sk": f"P#{ref.source_bucket}#{ref.destination_bucket}"},
            UpdateExpression="SET #src = :s, #dst = :d, #at = if_not_exists(#at, :t)",
            ExpressionAttributeNames={
                "#src": "source_bucket",
                "#dst": "destination_bucket",
                "#at": "registered_at",
            },
            ExpressionAttributeValues={
                ":s": ref.source_bucket,
                ":d": ref.destination_bucket,
                ":t": format_time(self._clock()),
            },
            ReturnValues="NONE",
        )
        self._registered_pairs.add(pair)

    def pairs(self) -> list[tuple[str, str]]:
        """Every (source, destination) that ever had a failure (a handful of registry items)."""
        items = self._table.query(KeyConditionExpression=Key("pk").eq(PAIRS_PK) & Key("sk").begins_with("P#"))
        return sorted((str(i["source_bucket"]), str(i["destination_bucket"])) for i in items)

    def has_due_work(self, source_bucket: str, destination_bucket: str) -> bool:
        for shard in range(self.index_shards):
            response = self._table.call(
                "Query",
                IndexName=DUE_INDEX,
                KeyConditionExpression=Key("due_pk").eq(f"D#{source_bucket}#{destination_bucket}#{shard}"),
                Limit=1,
            )
            if response.get("Items"):
                return True
        return False

    def due(
        self, source_bucket: str, destination_bucket: str, *, now: datetime | None, limit: int | None = None
    ) -> Iterator[FailureRecord]:
        """FAILED/BLOCKED records of a pair (due by ``now`` when given), oldest first, across shards.

        The index holds keys only; the records are read with BatchGetItem (strongly consistent), so
        a record that moved since the index saw it is skipped rather than acted on.
        """
        partitions = [f"D#{source_bucket}#{destination_bucket}#{n}" for n in range(self.index_shards)]
        high = format_time(now) + AFTER_TIME if now is not None else None
        page = min(limit, 500) if limit else 500
        keys = self._table.query_merged(DUE_INDEX, partitions, "due_pk", "due_sk", high=high, page_size=page)
        produced = 0
        for chunk in _chunks(keys, 100):
            found = self._table.batch_get([{"pk": str(k["pk"]), "sk": str(k["sk"])} for k in chunk])
            for key in chunk:
                item = found.get((str(key["pk"]), str(key["sk"])))
                if item is None or ObjectState(item["st"]) not in DUE_STATES:
                    continue
                yield record_from_item(item)
                produced += 1
                if limit is not None and produced >= limit:
                    return

    # ------------------------------------------------------------------ history

    def object_items(self, source_bucket: str, key: str) -> Iterator[Item]:
        return self._table.query(KeyConditionExpression=Key("pk").eq(object_pk(source_bucket, key)))

    def records_of_key(self, source_bucket: str, key: str) -> list[FailureRecord]:
        return [
            record_from_item(i)
            for i in self.object_items(source_bucket, key)
            if str(i["sk"]).startswith("V#")
        ]

    def history(self, source_bucket: str, key: str) -> list[HistoryEntry]:
        """Every line of every version and destination of a key, in time order (a line found in
        two items, after a retried overflow, once)."""
        seen: dict[tuple[str | None, str, str], HistoryEntry] = {}
        reasons: dict[tuple[str | None, str], str | None] = {}  # carried through a ref's items in order
        for item in self.object_items(source_bucket, key):
            sk = str(item["sk"])
            if sk.startswith("E#"):
                ref = ObjectRef(source_bucket, key, item.get("ver"), str(item.get("dst", NO_DESTINATION)))
            else:
                _, version, destination = sk.split("#", 2)
                if sk.startswith("H#"):
                    destination = destination.rsplit("#", 1)[0]
                ref = ObjectRef(source_bucket, key, None if version == NULL_VERSION else version, destination)
            texts = [str(t) for t in item.get("h", [])]
            entries = lines.decode_all(ref, texts, reasons.get((ref.version_id, ref.destination_bucket)))
            if entries:
                reasons[(ref.version_id, ref.destination_bucket)] = entries[-1].failure_reason
            for text, entry in zip(texts, entries, strict=True):
                seen.setdefault((ref.version_id, ref.destination_bucket, text), entry)
        return sorted(seen.values(), key=lambda entry: (entry.at, entry.kind != "event"))


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


def _chunks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    while True:
        chunk = list(itertools.islice(items, size))
        if not chunk:
            return
        yield chunk
