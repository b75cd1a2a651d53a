"""Object failure items: keys, and the codec between items and ``FailureRecord``/history.

Item (attribute names are short on purpose: DynamoDB bills each write per started KB of the item,
names included, and the object item is written at every step of the lifecycle):
  pk  O#<source>#<key>                 the full S3 key (a partition key may be 2,048 bytes)
  sk  V#<version|null>#<destination>
  st state · sbe set by an event · rsn failure reason · act action · att attempts
  fs first seen · ls/seq/eid newest event (time, sequencer, id) · nx next attempt · job current job
  rule · reg Region · size · dst_arn (only when not the plain bucket ARN)
  h   history lines, oldest first (``history.py``); older lines overflow to ``H#`` items
  oe  ids of events whose lines overflowed (duplicate detection)
  due_pk/due_sk  the due-work index keys (``due.py``), only while FAILED/BLOCKED
  exp TTL (closed objects, when a retention is set)
  fb  found_by: "backfill" when a backfill job's report found it (absent: an S3 event did)
Observe-only events (RTC thresholds, not tracked) are items of their own: sk E#<time>#<event id>.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from boto3.dynamodb.conditions import Key

from replimend.errors import MalformedEventError
from replimend.ledger import history as lines
from replimend.ledger.table import (
    NO_DESTINATION,
    NULL_VERSION,
    Item,
    Table,
    as_int,
    digest,
    key_condition,
    maybe_time,
    time_bounds,
)
from replimend.models import (
    Action,
    FailureRecord,
    HistoryEntry,
    ObjectRef,
    ObjectState,
    ObservedEvent,
    ReplicationEvent,
)

FOUND_BY_EVENT = "event"
FOUND_BY_BACKFILL = "backfill"


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
        found_by=str(item.get("fb") or FOUND_BY_EVENT),
    )


def _category(reason: str | None) -> str:
    from replimend.reasons import reason_entry

    return reason_entry(reason).category


class ObjectReader:
    """Reads of object items: one record, every record of a key, a key's whole history."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, ref: ObjectRef) -> FailureRecord | None:
        item = self._table.get(**object_key(ref))
        return record_from_item(item) if item else None

    def object_items(self, source_bucket: str, key: str) -> Iterator[Item]:
        return self._table.query(KeyConditionExpression=Key("pk").eq(object_pk(source_bucket, key)))

    def get_many(self, refs: list[ObjectRef]) -> list[FailureRecord]:
        """The records of ``refs`` that exist, in the order asked (strongly consistent)."""
        found = self._table.batch_get([object_key(ref) for ref in refs])
        items = (found.get((key["pk"], key["sk"])) for key in map(object_key, refs))
        return [record_from_item(item) for item in items if item is not None]

    def records_of_version(self, source_bucket: str, key: str, version_id: str | None) -> list[FailureRecord]:
        """A version's record towards each destination it failed for."""
        items = self._table.query(
            KeyConditionExpression=Key("pk").eq(object_pk(source_bucket, key))
            & Key("sk").begins_with(f"V#{version_id or NULL_VERSION}#"),
            ConsistentRead=True,  # decisions are made on it: never act on a stale copy
        )
        return [record_from_item(item) for item in items]

    def records_of_key(self, source_bucket: str, key: str) -> list[FailureRecord]:
        return [
            record_from_item(i)
            for i in self.object_items(source_bucket, key)
            if str(i["sk"]).startswith("V#")
        ]

    def observed_events(
        self, source_bucket: str, key: str, since: datetime | None, until: datetime | None
    ) -> list[ObservedEvent]:
        """The key's observe-only events inside [since, until] (only its ``E#`` items are read)."""
        low, high = time_bounds(since, until)
        condition = key_condition(
            "pk", object_pk(source_bucket, key), "sk", f"E#{low or ''}", f"E#{high or '~'}"
        )
        found = []
        for item in self._table.query(KeyConditionExpression=condition):
            ref = ObjectRef(source_bucket, key, item.get("ver"), str(item.get("dst", NO_DESTINATION)))
            for entry in lines.decode_all(ref, [str(t) for t in item.get("h", [])]):
                # Observe-only events carry no failureReason, so the line's reason is the event name.
                found.append(ObservedEvent(ref, entry.at, str(entry.reason or ""), item.get("rule")))
        return found

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
