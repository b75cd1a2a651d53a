"""The audit ledger: one DynamoDB table, and the only DynamoDB code in replimend.

Items (pk / sk):
  object failure   OBJ#<src>#<key>             VER#<version|null>#DST#<dest>
  history entry    OBJ#<src>#<key>             HIST#<iso time>#<version|null>#<dest>#<entry id>
                   (entry id: E<event id> for an S3 event, T<item version> for a transition)
  incident         INC#<src>#<dest>#<reason>   INC
  job              JOB#<job id>                JOB
  request token    TOKEN#<token>               TOKEN          (ClientRequestToken -> job id)
  pair registry    PAIRS                       PAIR#<src>#<dest>

Indexes (all sparse; ``<n>`` is a stable hash of key+version+destination modulo ``index_shards``, so a
failure storm on one bucket spreads over n partitions; readers query every shard and merge):
  DueWork   due_pk    DUE#<src>#<dest>#<n>      due_sk    <next_attempt_at>#<key>#<version>
            only on objects in FAILED or BLOCKED
  ByBucket  bucket_pk BKT#<src>#<n>             bucket_sk <time>#<key>#<version>#<dest>#<id>   (history)
  ByReason  reason_pk RSN#<reason>#<n>          reason_sk <time>#<src>#<key>#<version>#<dest>#<id>  (history)
  ByState   state_pk  STATE#<state>#<n>         state_sk  <src>#<since>#<key>#<version>#<dest>  (objects)
                      INCIDENT#OPEN | INCIDENT#FIXED        <src>#<dest>#<reason>
                      JOB#ACTIVE | JOB#DONE                 <src>#<created at>#<job id>

Times are fixed-width UTC strings (``2024-09-05T21:04:32.527000Z``) so string order is time order.

Writes are single-item conditional writes, not transactions: the object item is written first
(conditional on its ``version`` counter), then its history entries with put-if-absent on keys
derived deterministically from the event or from the object's new version. A crash between the two
loses no state, and a redelivered event repairs the missing history (see ``record_event``).
Transactions would double the write cost of a million-object storm for no extra safety here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import itertools
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from replimend.errors import AwsCallError, ConflictError, MalformedEventError, NotFoundError
from replimend.models import (
    TERMINAL_JOB_STATUSES,
    Action,
    Classification,
    FailureRecord,
    HistoryEntry,
    Incident,
    JobRecord,
    ObjectRef,
    ObjectState,
    ReplicationEvent,
)

if TYPE_CHECKING:
    from replimend.settings import LedgerSettings

Clock = Callable[[], datetime]

DUE_INDEX = "DueWork"
BUCKET_INDEX = "ByBucket"
REASON_INDEX = "ByReason"
STATE_INDEX = "ByState"

NULL_VERSION = "null"  # how S3 itself names the version of an object written while versioning was off
NO_DESTINATION = "-"  # events that name no destination (some observe-only events)
EPOCH_TIME = "1970-01-01T00:00:00.000000Z"  # stands in for a missing eventTime, so dedup keys stay stable
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# One character above "#", so "<time>" + _AFTER_TIME bounds every sort key that starts with that time.
_AFTER_TIME = "$"

PAIRS_PK = "PAIRS"
INCIDENT_SK = "INC"
JOB_SK = "JOB"
TOKEN_SK = "TOKEN"

#: States that put an object in the due-work index (remediate picks from these).
DUE_STATES = frozenset({ObjectState.FAILED, ObjectState.BLOCKED})
#: What a failure event does to an object, by action (observe and ignore never touch objects).
STATE_FOR_ACTION: Mapping[Action, ObjectState] = {
    Action.RETRY: ObjectState.FAILED,
    Action.RETRY_AFTER_FIX: ObjectState.FAILED,
    Action.ESCALATE: ObjectState.ESCALATED,
    Action.CLOSE_OBSOLETE: ObjectState.OBSOLETE,
    Action.CLOSE_DONE: ObjectState.DONE,
}
#: Closed states a genuinely newer failure event may reopen. GAVE_UP and ESCALATED belong to a
#: person now: new events are recorded in history but do not restart automatic remediation.
REOPENABLE_STATES = frozenset({ObjectState.REPLICATED, ObjectState.DONE, ObjectState.OBSOLETE})
#: Read-modify-write attempts before a lost race is reported as ConflictError.
MAX_WRITE_ATTEMPTS = 6
_PAGE_SIZE = 500


class RecordOutcome(StrEnum):
    """What ``Ledger.record_event`` did with one event."""

    CREATED = "CREATED"  # a new object failure item
    UPDATED = "UPDATED"  # an existing item took the event (state and/or fields changed)
    DUPLICATE = "DUPLICATE"  # the same event was recorded before: nothing changed
    STALE = "STALE"  # older than what the item already reflects: history only
    OBSERVED = "OBSERVED"  # observe-only event: history only
    IGNORED = "IGNORED"  # not a replication event: nothing written


# --------------------------------------------------------------------------- keys and formats


def format_time(at: datetime) -> str:
    """Fixed-width UTC text; naive datetimes are taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def _version_text(version_id: str | None) -> str:
    return version_id or NULL_VERSION


def object_pk(source_bucket: str, key: str) -> str:
    return f"OBJ#{source_bucket}#{key}"


def object_sk(version_id: str | None, destination_bucket: str) -> str:
    return f"VER#{_version_text(version_id)}#DST#{destination_bucket}"


def incident_pk(source_bucket: str, destination_bucket: str, reason: str) -> str:
    return f"INC#{source_bucket}#{destination_bucket}#{reason}"


def job_pk(job_id: str) -> str:
    return f"JOB#{job_id}"


def token_pk(token: str) -> str:
    return f"TOKEN#{token}"


def shard_of(ref: ObjectRef, shards: int) -> int:
    """Stable index shard of an object (same on every host and Python run, unlike hash())."""
    identity = f"{ref.key}\0{_version_text(ref.version_id)}\0{ref.destination_bucket}".encode()
    digest = hashlib.blake2b(identity, digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def compare_sequencers(left: str, right: str) -> int:
    """-1, 0 or 1. S3: right-pad the shorter sequencer with zeros, then compare as strings."""
    width = max(len(left), len(right))
    a, b = left.upper().ljust(width, "0"), right.upper().ljust(width, "0")
    return (a > b) - (a < b)


def _time_bounds(
    since: datetime | None, until: datetime | None, prefix: str = ""
) -> tuple[str | None, str | None]:
    """Sort-key range for "<prefix><time>..." keys; None where the range is open."""
    low = prefix + format_time(since) if since else (prefix or None)
    high = prefix + format_time(until) + _AFTER_TIME if until else (prefix + "\uffff" if prefix else None)
    return low, high


# --------------------------------------------------------------------------- the adapter


class Ledger:
    """DynamoDB single-table adapter: object failures, their history, incidents and jobs."""

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
        self._table = table
        self.index_shards = index_shards
        self.history_retention_days = history_retention_days
        self._clock = clock or (lambda: datetime.now(UTC))
        # Pairs registered by this process: a storm on one pair writes its registry item once per container.
        self._registered_pairs: set[tuple[str, str]] = set()

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
        return str(self._table.name)

    def _now(self) -> datetime:
        return self._clock()

    # ------------------------------------------------------------------ low-level calls

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        method = getattr(self._table, _SNAKE[operation])
        try:
            response: dict[str, Any] = method(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            message = str(error.get("Message", exc))
            if code == "ConditionalCheckFailedException":
                raise ConflictError(
                    f"{operation} on {self.table_name}: condition failed ({message})"
                ) from exc
            raise AwsCallError(operation, code, message) from exc
        return response

    def _update(
        self,
        key: Mapping[str, str],
        sets: Mapping[str, Any],
        *,
        condition: ConditionBase | str | None = None,
        condition_values: Mapping[str, Any] | None = None,
        extra_names: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """SET every non-None value, REMOVE every None one; returns the item as written."""
        names: dict[str, str] = dict(extra_names or {})
        values: dict[str, Any] = dict(condition_values or {})
        set_parts, remove_parts = [], []
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
        kwargs: dict[str, Any] = {
            "Key": dict(key),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_NEW",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        if condition is not None:
            kwargs["ConditionExpression"] = condition
        return dict(self._call("UpdateItem", **kwargs)["Attributes"])

    def _put_once(self, item: Mapping[str, Any]) -> bool:
        """Put unless an item with this key exists; False when it did (a duplicate)."""
        try:
            self._call("PutItem", Item=dict(item), ConditionExpression=Attr("sk").not_exists())
        except ConflictError:
            return False
        return True

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._call("GetItem", Key={"pk": pk, "sk": sk}, ConsistentRead=True)
        item = response.get("Item")
        return dict(item) if item else None

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of a query, page by page (lazily: a merge pulls only what it needs)."""
        kwargs.setdefault("Limit", _PAGE_SIZE)
        while True:
            response = self._call("Query", **kwargs)
            yield from response.get("Items", [])
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return
            kwargs["ExclusiveStartKey"] = last_key

    def _query_shards(
        self,
        index: str,
        partition_attr: str,
        sort_attr: str,
        partition_prefix: str,
        *,
        low: str | None = None,
        high: str | None = None,
        filter_expression: ConditionBase | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Query every shard of an index partition and merge them into one sort-key order."""

        def shard(number: int) -> Iterator[dict[str, Any]]:
            condition: ConditionBase = Key(partition_attr).eq(f"{partition_prefix}#{number}")
            if low is not None and high is not None:
                condition = condition & Key(sort_attr).between(low, high)
            elif high is not None:
                condition = condition & Key(sort_attr).lte(high)
            elif low is not None:
                condition = condition & Key(sort_attr).gte(low)
            kwargs: dict[str, Any] = {
                "IndexName": index,
                "KeyConditionExpression": condition,
                "Limit": page_size or _PAGE_SIZE,
            }
            if filter_expression is not None:
                kwargs["FilterExpression"] = filter_expression
            return self._query(**kwargs)

        streams = [shard(number) for number in range(self.index_shards)]
        return heapq.merge(*streams, key=lambda item: str(item[sort_attr]))

    # ------------------------------------------------------------------ object failures

    def get_failure(self, ref: ObjectRef) -> FailureRecord | None:
        item = self._get(
            object_pk(ref.source_bucket, ref.key), object_sk(ref.version_id, ref.destination_bucket)
        )
        return _record_from_item(item) if item else None

    def record_event(
        self, event: ReplicationEvent, classification: Classification, *, actor: str = "ingest"
    ) -> RecordOutcome:
        """Record one S3 event; idempotent, safe under redelivery, reordering and concurrent workers.

        Decisions an operator can rely on:
        - the same event twice (same event_id) changes nothing (DUPLICATE);
        - an event older than the one the item reflects (smaller ``sequencer``; equal sequencer and
          not-later ``eventTime``) only adds a history line (STALE);
        - a newer failure event for an open item refreshes it (reason, last_seen) and may close it
          (escalate/close_*); an item IN_JOB keeps its state: the job's report decides;
        - a newer failure event for a REPLICATED/DONE/OBSOLETE item reopens it, but only when it
          happened after the item was closed: a late event from before the close (e.g. the failure of
          the batch job that is already accounted for) must not restart remediation;
        - GAVE_UP and ESCALATED items keep their state (a person owns them); the event is in history.
        """
        action = classification.action
        if action is Action.IGNORE:
            return RecordOutcome.IGNORED
        ref = _ref_of(event)
        if action is Action.OBSERVE:
            written = self._put_once(self._event_history_item(ref, event, classification, actor, detail=None))
            return RecordOutcome.OBSERVED if written else RecordOutcome.DUPLICATE
        target = STATE_FOR_ACTION[action]
        for attempt in range(1, MAX_WRITE_ATTEMPTS + 1):
            item = self._get(
                object_pk(ref.source_bucket, ref.key), object_sk(ref.version_id, ref.destination_bucket)
            )
            try:
                return self._apply_event(
                    item=item, ref=ref, event=event, classification=classification, target=target, actor=actor
                )
            except ConflictError:
                # Another worker wrote the item between our read and write: re-read and re-decide.
                if attempt == MAX_WRITE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _apply_event(
        self,
        *,
        item: dict[str, Any] | None,
        ref: ObjectRef,
        event: ReplicationEvent,
        classification: Classification,
        target: ObjectState,
        actor: str,
    ) -> RecordOutcome:
        now = self._now()
        event_at = format_time(event.event_time) if event.event_time else EPOCH_TIME
        retry_after_fix = classification.action is Action.RETRY_AFTER_FIX
        if item is None:
            new_item = self._write_object(
                ref,
                expected_version=None,
                state=target,
                now=now,
                fields=_event_fields(event, classification, first_seen=event_at),
                transition={
                    "from": None,
                    "reason": classification.failure_reason,
                    "actor": actor,
                    "job_id": None,
                    "detail": f"new {event.event_type}",
                    "event_id": event.event_id,
                },
                next_attempt_at=now,
            )
            self._put_once(self._event_history_item(ref, event, classification, actor, detail=None))
            self._put_once(self._transition_history_item(new_item))
            if retry_after_fix:
                self._touch_incident_for(ref, classification, event_at, new_objects=1, reopen=True)
            return RecordOutcome.CREATED

        if item.get("last_event_id") == event.event_id:
            # Already applied. Re-put its history (put-if-absent) in case the worker that applied it
            # died between the object write and the history writes.
            self._put_once(self._event_history_item(ref, event, classification, actor, detail=None))
            if item.get("lt_event_id") == event.event_id:
                self._put_once(self._transition_history_item(item))
            if retry_after_fix:
                self._touch_incident_for(ref, classification, event_at, new_objects=0, reopen=False)
            return RecordOutcome.DUPLICATE

        if not _is_newer(event, event_at, item):
            written = self._put_once(
                self._event_history_item(
                    ref,
                    event,
                    classification,
                    actor,
                    detail="older than the event already recorded: no change",
                )
            )
            return RecordOutcome.STALE if written else RecordOutcome.DUPLICATE

        current = ObjectState(item["state"])
        new_state = _state_after_newer_event(current, target, event_at, str(item.get("state_since", "")))
        reason_changed = item.get("failure_reason") != classification.failure_reason
        fields = _event_fields(event, classification, first_seen=None)
        transition: dict[str, Any] | None = None
        detail: str | None = None
        if new_state is not current:
            detail = f"newer {event.event_type}"
            transition = {
                "from": current,
                "reason": classification.failure_reason,
                "actor": actor,
                "job_id": None,
                "detail": detail,
                "event_id": event.event_id,
            }
        elif current not in DUE_STATES:
            detail = f"state {current} kept"
        new_item = self._write_object(
            ref,
            expected_version=int(item["version"]),
            state=new_state,
            now=now,
            fields=fields,
            transition=transition,
            next_attempt_at=now if transition is not None and new_state in DUE_STATES else None,
            existing=item,
        )
        self._put_once(self._event_history_item(ref, event, classification, actor, detail=detail))
        if transition is not None:
            self._put_once(self._transition_history_item(new_item))
        if retry_after_fix:
            counts = transition is not None and new_state is ObjectState.FAILED
            counts = counts or (reason_changed and new_state in DUE_STATES)
            self._touch_incident_for(ref, classification, event_at, new_objects=int(counts), reopen=True)
        return RecordOutcome.UPDATED

    def _write_object(
        self,
        ref: ObjectRef,
        *,
        expected_version: int | None,
        state: ObjectState,
        now: datetime,
        fields: Mapping[str, Any],
        transition: Mapping[str, Any] | None,
        next_attempt_at: datetime | None,
        existing: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create (expected_version None) or conditionally update an object item."""
        if state in DUE_STATES:
            self._register_pair(ref.source_bucket, ref.destination_bucket)
        sets: dict[str, Any] = dict(fields)
        sets["updated_at"] = format_time(now)
        if expected_version is None:
            sets.update(
                entity="object",
                source_bucket=ref.source_bucket,
                key=ref.key,
                version_id=ref.version_id,
                destination_bucket=ref.destination_bucket,
                attempts=0,
                job_ids=[],
            )
        sets["version"] = (expected_version or 0) + 1
        if transition is not None:
            state_since = format_time(now)
            due_at = next_attempt_at or _maybe_time(existing, "next_attempt_at") or now
            sets.update(self._state_attrs(ref, state, state_since, due_at))
            sets.update(
                lt_from=str(transition["from"]) if transition["from"] else None,
                lt_reason=transition["reason"],
                lt_actor=transition["actor"],
                lt_job_id=transition["job_id"],
                lt_detail=transition["detail"],
                lt_event_id=transition["event_id"],
            )
        return self._put_object(ref, existing, sets, expected_version)

    def _put_object(
        self,
        ref: ObjectRef,
        existing: Mapping[str, Any] | None,
        changes: Mapping[str, Any],
        expected_version: int | None,
    ) -> dict[str, Any]:
        """Write the whole item (existing attributes + changes; None removes) if still at expected_version.

        A full PutItem rather than an UpdateItem of ~20 clauses: same write units, and moto (local
        mode, tests) evaluates long update expressions in quadratic time.
        """
        item = {**(existing or {}), **changes}
        item["pk"] = object_pk(ref.source_bucket, ref.key)
        item["sk"] = object_sk(ref.version_id, ref.destination_bucket)
        item = {name: value for name, value in item.items() if value is not None}
        if expected_version is None:
            condition: ConditionBase = Attr("pk").not_exists()
        else:
            condition = Attr("version").eq(expected_version)
        self._call("PutItem", Item=item, ConditionExpression=condition)
        return item

    def _state_attrs(
        self, ref: ObjectRef, state: ObjectState, state_since: str, due_at: datetime
    ) -> dict[str, Any]:
        """State plus the index attributes that follow from it (None removes)."""
        shard = shard_of(ref, self.index_shards)
        version = _version_text(ref.version_id)
        due = state in DUE_STATES
        return {
            "state": str(state),
            "state_since": state_since,
            "next_attempt_at": format_time(due_at) if due else None,
            "due_pk": f"DUE#{ref.source_bucket}#{ref.destination_bucket}#{shard}" if due else None,
            "due_sk": f"{format_time(due_at)}#{ref.key}#{version}" if due else None,
            "state_pk": f"STATE#{state}#{shard}",
            "state_sk": f"{ref.source_bucket}#{state_since}#{ref.key}#{version}#{ref.destination_bucket}",
        }

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
        """Move an object to ``to_state`` if it is still at ``record.version`` (else ConflictError).

        Records read from an index may lag the table; on ConflictError re-read with get_failure.
        """
        ref = record.ref
        now = self._now()
        if to_state in DUE_STATES:
            self._register_pair(ref.source_bucket, ref.destination_bucket)
        state_since = format_time(now)
        due_at = next_attempt_at or record.next_attempt_at or now
        sets: dict[str, Any] = self._state_attrs(ref, to_state, state_since, due_at)
        sets.update(
            updated_at=state_since,
            version=record.version + 1,
            lt_from=str(record.state),
            lt_reason=reason,
            lt_actor=actor,
            lt_job_id=job_id,
            lt_detail=detail,
            lt_event_id=None,
        )
        if attempts is not None:
            sets["attempts"] = attempts
        if failure_reason is not None:
            sets["failure_reason"] = failure_reason
        if job_id is not None:
            sets["job_id"] = job_id
            sets["job_ids"] = (
                [*record.job_ids, job_id] if job_id not in record.job_ids else list(record.job_ids)
            )
        if next_attempt_at is not None and to_state not in DUE_STATES:
            sets["next_attempt_at"] = format_time(next_attempt_at)
        moved = ConflictError(f"{_describe_ref(ref)} moved since version {record.version}; re-read it")
        existing = self._get(
            object_pk(ref.source_bucket, ref.key), object_sk(ref.version_id, ref.destination_bucket)
        )
        if existing is None:
            raise NotFoundError(f"{_describe_ref(ref)} is not in the ledger")
        if _int(existing.get("version")) != record.version:
            raise moved
        try:
            new_item = self._put_object(ref, existing, sets, record.version)
        except ConflictError as exc:
            raise moved from exc
        self._put_once(self._transition_history_item(new_item))
        return _record_from_item(new_item)

    # ------------------------------------------------------------------ pairs and due work

    def _register_pair(self, source_bucket: str, destination_bucket: str) -> None:
        pair = (source_bucket, destination_bucket)
        if pair in self._registered_pairs:
            return
        self._call(
            "UpdateItem",
            Key={"pk": PAIRS_PK, "sk": f"PAIR#{source_bucket}#{destination_bucket}"},
            UpdateExpression="SET #src = :s, #dst = :d, #at = if_not_exists(#at, :t)",
            ExpressionAttributeNames={
                "#src": "source_bucket",
                "#dst": "destination_bucket",
                "#at": "registered_at",
            },
            ExpressionAttributeValues={
                ":s": source_bucket,
                ":d": destination_bucket,
                ":t": format_time(self._now()),
            },
        )
        self._registered_pairs.add(pair)

    def open_pairs(self) -> list[tuple[str, str]]:
        """(source, destination) pairs that have FAILED or BLOCKED objects.

        The registry holds every pair that ever had open work (a handful of items); each is confirmed
        by a one-item probe of its due-work shards, so the answer never drifts from the objects.
        """
        pairs = []
        for item in self._query(
            KeyConditionExpression=Key("pk").eq(PAIRS_PK) & Key("sk").begins_with("PAIR#")
        ):
            pair = (str(item["source_bucket"]), str(item["destination_bucket"]))
            if self._has_due_work(*pair):
                pairs.append(pair)
        return sorted(pairs)

    def _has_due_work(self, source_bucket: str, destination_bucket: str) -> bool:
        for shard in range(self.index_shards):
            response = self._call(
                "Query",
                IndexName=DUE_INDEX,
                KeyConditionExpression=Key("due_pk").eq(f"DUE#{source_bucket}#{destination_bucket}#{shard}"),
                Limit=1,
            )
            if response.get("Items"):
                return True
        return False

    def due_failures(
        self, source_bucket: str, destination_bucket: str, *, now: datetime, limit: int | None = None
    ) -> Iterator[FailureRecord]:
        """FAILED/BLOCKED objects of a pair whose next attempt is due, oldest first, across shards."""
        merged = self._query_shards(
            DUE_INDEX,
            "due_pk",
            "due_sk",
            f"DUE#{source_bucket}#{destination_bucket}",
            high=format_time(now) + _AFTER_TIME,
            page_size=min(limit, _PAGE_SIZE) if limit else _PAGE_SIZE,
        )
        return (_record_from_item(item) for item in itertools.islice(merged, limit))

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
        """Objects currently in ``state``; ordered by source bucket, then time they entered the state.

        since/until bound the time the object entered its state (in the key when source_bucket is
        given, a filter otherwise).
        """
        filters: list[ConditionBase] = []
        if destination_bucket is not None:
            filters.append(Attr("destination_bucket").eq(destination_bucket))
        if failure_reason is not None:
            filters.append(Attr("failure_reason").eq(failure_reason))
        low: str | None = None
        high: str | None = None
        if source_bucket is not None:
            low, high = _time_bounds(since, until, prefix=f"{source_bucket}#")
        else:
            if since is not None:
                filters.append(Attr("state_since").gte(format_time(since)))
            if until is not None:
                filters.append(Attr("state_since").lte(format_time(until)))
        merged = self._query_shards(
            STATE_INDEX,
            "state_pk",
            "state_sk",
            f"STATE#{state}",
            low=low,
            high=high,
            filter_expression=_all_of(filters),
        )
        return (_record_from_item(item) for item in itertools.islice(merged, limit))

    # ------------------------------------------------------------------ history and audit

    def history(self, source_bucket: str, key: str) -> list[HistoryEntry]:
        """An object's audit trail across all its versions and destinations, in time order."""
        items = self._query(
            KeyConditionExpression=Key("pk").eq(object_pk(source_bucket, key))
            & Key("sk").begins_with("HIST#")
        )
        return [_history_from_item(item) for item in items]

    def audit_by_bucket(
        self, bucket: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[HistoryEntry]:
        low, high = _time_bounds(since, until)
        merged = self._query_shards(
            BUCKET_INDEX, "bucket_pk", "bucket_sk", f"BKT#{bucket}", low=low, high=high
        )
        return (_history_from_item(item) for item in merged)

    def audit_by_reason(
        self, reason: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[HistoryEntry]:
        low, high = _time_bounds(since, until)
        merged = self._query_shards(
            REASON_INDEX, "reason_pk", "reason_sk", f"RSN#{reason}", low=low, high=high
        )
        return (_history_from_item(item) for item in merged)

    def _history_item(
        self,
        ref: ObjectRef,
        *,
        at: str,
        entry_id: str,
        kind: str,
        failure_reason: str | None,
        attrs: Mapping[str, Any],
    ) -> dict[str, Any]:
        version = _version_text(ref.version_id)
        shard = shard_of(ref, self.index_shards)
        tail = f"{version}#{ref.destination_bucket}#{entry_id}"
        item: dict[str, Any] = {
            "pk": object_pk(ref.source_bucket, ref.key),
            "sk": f"HIST#{at}#{tail}",
            "entity": "history",
            "kind": kind,
            "at": at,
            "source_bucket": ref.source_bucket,
            "key": ref.key,
            "version_id": ref.version_id,
            "destination_bucket": ref.destination_bucket,
            "failure_reason": failure_reason,
            "bucket_pk": f"BKT#{ref.source_bucket}#{shard}",
            "bucket_sk": f"{at}#{ref.key}#{tail}",
            **attrs,
        }
        if failure_reason:
            item["reason_pk"] = f"RSN#{failure_reason}#{shard}"
            item["reason_sk"] = f"{at}#{ref.source_bucket}#{ref.key}#{tail}"
        if self.history_retention_days > 0:
            expires = parse_time(at) + timedelta(days=self.history_retention_days)
            # TTL is counted from when we write, so a late-delivered old event is not deleted at once.
            expires = max(expires, self._now() + timedelta(days=self.history_retention_days))
            item["expires_at"] = int(expires.timestamp())
        return {name: value for name, value in item.items() if value is not None}

    def _event_history_item(
        self,
        ref: ObjectRef,
        event: ReplicationEvent,
        classification: Classification,
        actor: str,
        *,
        detail: str | None,
    ) -> dict[str, Any]:
        return self._history_item(
            ref,
            at=format_time(event.event_time) if event.event_time else EPOCH_TIME,
            entry_id=f"E{event.event_id}",
            kind="event",
            failure_reason=classification.failure_reason,
            attrs={
                "actor": actor,
                "event_id": event.event_id,
                "event_type": event.event_type,
                "sequencer": event.sequencer,
                "action": str(classification.action),
                "reason": classification.failure_reason or event.event_type,
                "detail": detail,
                "recorded_at": format_time(self._now()),
            },
        )

    def _transition_history_item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The history line of the object's last transition, rebuilt from the object item itself."""
        ref = _ref_from_item(item)
        return self._history_item(
            ref,
            at=str(item["state_since"]),
            entry_id=f"T{int(item['version']):010d}",
            kind="transition",
            failure_reason=item.get("failure_reason"),
            attrs={
                "from_state": item.get("lt_from"),
                "to_state": item["state"],
                "reason": item.get("lt_reason"),
                "actor": item.get("lt_actor") or "unknown",
                "job_id": item.get("lt_job_id"),
                "event_id": item.get("lt_event_id"),
                "detail": item.get("lt_detail"),
            },
        )

    # ------------------------------------------------------------------ incidents

    def _touch_incident_for(
        self, ref: ObjectRef, classification: Classification, event_at: str, *, new_objects: int, reopen: bool
    ) -> None:
        reason = classification.failure_reason or "unknown"
        self._upsert_incident(
            ref.source_bucket,
            ref.destination_bucket,
            reason,
            new_objects=new_objects,
            at=parse_time(event_at) if reopen else None,
            read_back=False,
        )

    def touch_incident(
        self,
        source_bucket: str,
        destination_bucket: str,
        reason: str,
        *,
        new_objects: int = 0,
        at: datetime | None = None,
    ) -> Incident:
        """Open the incident if it is new, count ``new_objects`` more objects under it.

        ``at`` is when the failure happened: a fixed incident reopens when a failure happened after
        it was marked fixed (the fix did not hold); earlier failures delivered late do not reopen it.
        With neither, an existing incident is left exactly as it is.
        """
        incident = self._upsert_incident(
            source_bucket, destination_bucket, reason, new_objects=new_objects, at=at, read_back=True
        )
        assert incident is not None  # read_back=True always returns one
        return incident

    def _upsert_incident(
        self,
        source_bucket: str,
        destination_bucket: str,
        reason: str,
        *,
        new_objects: int,
        at: datetime | None,
        read_back: bool,
    ) -> Incident | None:
        """touch_incident; without read_back an untouched existing incident is not read (None)."""
        now = format_time(self._now())
        key = {"pk": incident_pk(source_bucket, destination_bucket, reason), "sk": INCIDENT_SK}
        ensure_only: dict[str, Any] = {}
        if new_objects == 0 and at is None:
            ensure_only["ConditionExpression"] = Attr("pk").not_exists()
        # Hand-written expression: if_not_exists and ADD have no place in _update's SET/REMOVE.
        try:
            item = self._call(
                "UpdateItem",
                Key=key,
                UpdateExpression=(
                    "SET #entity = :e, #src = :s, #dst = :d, #reason = :r, "
                    "#opened = if_not_exists(#opened, :now), #fixed = if_not_exists(#fixed, :false), "
                    "#spk = if_not_exists(#spk, :open), #ssk = :ssk, "
                    "#last = :last ADD #count :n, #version :zero"
                ),
                ExpressionAttributeNames={
                    "#entity": "entity",
                    "#src": "source_bucket",
                    "#dst": "destination_bucket",
                    "#reason": "failure_reason",
                    "#opened": "opened_at",
                    "#fixed": "fixed",
                    "#spk": "state_pk",
                    "#ssk": "state_sk",
                    "#last": "last_failure_at",
                    "#count": "object_count",
                    "#version": "version",
                },
                ExpressionAttributeValues={
                    ":e": "incident",
                    ":s": source_bucket,
                    ":d": destination_bucket,
                    ":r": reason,
                    ":now": now,
                    ":last": format_time(at) if at else now,
                    ":false": False,
                    ":open": "INCIDENT#OPEN",
                    ":ssk": f"{source_bucket}#{destination_bucket}#{reason}",
                    ":n": new_objects,
                    ":zero": 0,
                },
                ReturnValues="ALL_NEW",
                **ensure_only,
            )["Attributes"]
        except ConflictError:
            if not read_back:
                return None
            existing = self.get_incident(source_bucket, destination_bucket, reason)
            if existing is None:  # deleted in between; nothing sensible to return
                raise
            return existing
        incident = _incident_from_item(item)
        if at is not None and incident.fixed and incident.fixed_at is not None and at > incident.fixed_at:
            try:
                item = self._update(
                    key,
                    {
                        "fixed": False,
                        "fixed_at": None,
                        "fixed_by": None,
                        "reopened_at": now,
                        "reopened_because": f"failure at {format_time(at)} after the fix",
                        "state_pk": "INCIDENT#OPEN",
                        "version": incident.version + 1,
                    },
                    condition=Attr("version").eq(incident.version),
                )
                incident = _incident_from_item(item)
            except ConflictError:
                pass  # someone else changed it first (reopened, or fixed again): theirs stands
        return incident

    def get_incident(self, source_bucket: str, destination_bucket: str, reason: str) -> Incident | None:
        item = self._get(incident_pk(source_bucket, destination_bucket, reason), INCIDENT_SK)
        return _incident_from_item(item) if item else None

    def list_incidents(self, *, open_only: bool = True) -> list[Incident]:
        partitions = ["INCIDENT#OPEN"] if open_only else ["INCIDENT#OPEN", "INCIDENT#FIXED"]
        incidents = [
            _incident_from_item(item)
            for partition in partitions
            for item in self._query(
                IndexName=STATE_INDEX, KeyConditionExpression=Key("state_pk").eq(partition)
            )
        ]
        return sorted(incidents, key=lambda i: (i.source_bucket, i.destination_bucket, i.failure_reason))

    def set_incident_fixed(
        self, source_bucket: str, destination_bucket: str, reason: str, *, actor: str, fixed: bool = True
    ) -> Incident:
        """Mark (or unmark) the cause fixed; raises NotFoundError for an unknown incident."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = self.get_incident(source_bucket, destination_bucket, reason)
            if current is None:
                raise NotFoundError(f"no incident {source_bucket} -> {destination_bucket} {reason}")
            now = format_time(self._now())
            try:
                item = self._update(
                    {"pk": incident_pk(source_bucket, destination_bucket, reason), "sk": INCIDENT_SK},
                    {
                        "fixed": fixed,
                        "fixed_at": now if fixed else None,
                        "fixed_by": actor if fixed else None,
                        "marked_by": actor,
                        "marked_at": now,
                        "state_pk": "INCIDENT#FIXED" if fixed else "INCIDENT#OPEN",
                        "version": current.version + 1,
                    },
                    condition=Attr("version").eq(current.version),
                )
            except ConflictError:
                continue
            return _incident_from_item(item)
        raise ConflictError(f"incident {source_bucket} -> {destination_bucket} {reason} kept changing")

    def record_diagnosis(
        self, source_bucket: str, destination_bucket: str, reason: str, summary: str
    ) -> Incident:
        """Store the summary of the last diagnosis (gate check) of an incident."""
        try:
            item = self._update(
                {"pk": incident_pk(source_bucket, destination_bucket, reason), "sk": INCIDENT_SK},
                {"last_diagnosis": summary, "last_diagnosis_at": format_time(self._now())},
                condition=Attr("pk").exists(),
            )
        except ConflictError as exc:
            raise NotFoundError(f"no incident {source_bucket} -> {destination_bucket} {reason}") from exc
        return _incident_from_item(item)

    # ------------------------------------------------------------------ jobs

    def create_job(self, job: JobRecord) -> bool:
        """Record a job started in S3; False if a job with this id is already recorded."""
        if job.created_at is None:
            job = dataclasses.replace(job, created_at=self._now())
        try:
            self._call("PutItem", Item=self._job_item(job), ConditionExpression=Attr("pk").not_exists())
            created = True
        except ConflictError:
            created = False
        # Also on the "exists" path: heals a crash between the two puts.
        self._put_token(job.client_request_token, job.job_id)
        return created

    def _put_token(self, token: str, job_id: str) -> None:
        try:
            self._call(
                "PutItem",
                Item={"pk": token_pk(token), "sk": TOKEN_SK, "entity": "token", "job_id": job_id},
                ConditionExpression=Attr("pk").not_exists() | Attr("job_id").eq(job_id),
            )
        except ConflictError as exc:
            raise ConflictError(
                f"request token {token} already belongs to another job than {job_id}"
            ) from exc

    def get_job(self, job_id: str) -> JobRecord | None:
        item = self._get(job_pk(job_id), JOB_SK)
        return _job_from_item(item) if item else None

    def find_job_by_token(self, token: str) -> JobRecord | None:
        item = self._get(token_pk(token), TOKEN_SK)
        return self.get_job(str(item["job_id"])) if item else None

    def update_job(self, job: JobRecord, **changes: Any) -> JobRecord:
        """Apply ``changes`` if the job is still at ``job.version`` (else ConflictError)."""
        allowed = {f.name for f in dataclasses.fields(JobRecord)} - {"job_id", "version"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"update_job: not a changeable JobRecord field: {', '.join(sorted(unknown))}")
        updated = dataclasses.replace(job, **changes, version=job.version + 1)
        try:
            self._call(
                "PutItem", Item=self._job_item(updated), ConditionExpression=Attr("version").eq(job.version)
            )
        except ConflictError as exc:
            raise ConflictError(f"job {job.job_id} moved since version {job.version}; re-read it") from exc
        return updated

    def list_jobs(self, *, active_only: bool = False) -> list[JobRecord]:
        partitions = ["JOB#ACTIVE"] if active_only else ["JOB#ACTIVE", "JOB#DONE"]
        jobs = [
            _job_from_item(item)
            for partition in partitions
            for item in self._query(
                IndexName=STATE_INDEX, KeyConditionExpression=Key("state_pk").eq(partition)
            )
        ]
        return sorted(jobs, key=lambda j: (j.created_at or datetime.min.replace(tzinfo=UTC), j.job_id))

    def active_jobs(self, source_bucket: str | None = None) -> list[JobRecord]:
        condition: ConditionBase = Key("state_pk").eq("JOB#ACTIVE")
        if source_bucket is not None:
            condition = condition & Key("state_sk").begins_with(f"{source_bucket}#")
        jobs = [
            _job_from_item(item)
            for item in self._query(IndexName=STATE_INDEX, KeyConditionExpression=condition)
        ]
        return sorted(jobs, key=lambda j: (j.created_at or datetime.min.replace(tzinfo=UTC), j.job_id))

    def _job_item(self, job: JobRecord) -> dict[str, Any]:
        item = _dataclass_attrs(job)
        active = _job_is_active(job.status)
        created = format_time(job.created_at) if job.created_at else EPOCH_TIME
        item.update(
            pk=job_pk(job.job_id),
            sk=JOB_SK,
            entity="job",
            state_pk="JOB#ACTIVE" if active else "JOB#DONE",
            state_sk=f"{job.source_bucket}#{created}#{job.job_id}",
        )
        return item


# --------------------------------------------------------------------------- item <-> model

_SNAKE = {"GetItem": "get_item", "PutItem": "put_item", "UpdateItem": "update_item", "Query": "query"}


def _job_is_active(status: str) -> bool:
    return status not in {str(s) for s in TERMINAL_JOB_STATUSES}


def _all_of(conditions: list[ConditionBase]) -> ConditionBase | None:
    if not conditions:
        return None
    combined = conditions[0]
    for condition in conditions[1:]:
        combined = combined & condition
    return combined


def _ref_of(event: ReplicationEvent) -> ObjectRef:
    if not event.source_bucket or event.key is None:
        raise MalformedEventError(f"{event.event_type} event {event.event_id} names no source bucket or key")
    return ObjectRef(
        event.source_bucket, event.key, event.version_id, event.destination_bucket or NO_DESTINATION
    )


def _describe_ref(ref: ObjectRef) -> str:
    version = _version_text(ref.version_id)
    return f"s3://{ref.source_bucket}/{ref.key} version {version} -> {ref.destination_bucket}"


def _event_fields(
    event: ReplicationEvent, classification: Classification, *, first_seen: str | None
) -> dict[str, Any]:
    seen = format_time(event.event_time) if event.event_time else EPOCH_TIME
    fields: dict[str, Any] = {
        "failure_reason": classification.failure_reason,
        "action": str(classification.action),
        "category": classification.category,
        "reason_known": classification.known,
        "last_seen": seen,
        "last_sequencer": event.sequencer,
        "last_event_id": event.event_id,
        "last_event_type": event.event_type,
    }
    if first_seen is not None:
        fields["first_seen"] = first_seen
    # Optional descriptive fields: keep what an earlier event told us when a later one omits them.
    for name, value in (
        ("destination_bucket_arn", event.destination_bucket_arn),
        ("rule_id", event.rule_id),
        ("region", event.region),
        ("size", event.size),
        ("etag", event.etag),
    ):
        if value is not None:
            fields[name] = value
    return fields


def _is_newer(event: ReplicationEvent, event_at: str, item: Mapping[str, Any]) -> bool:
    """Whether the event is later than the one the item reflects (sequencer first, then eventTime)."""
    recorded = item.get("last_sequencer")
    if event.sequencer and recorded:
        order = compare_sequencers(event.sequencer, str(recorded))
        if order != 0:
            return order > 0
    return event_at > str(item.get("last_seen", ""))


def _state_after_newer_event(
    current: ObjectState, target: ObjectState, event_at: str, state_since: str
) -> ObjectState:
    if current in DUE_STATES:
        # Still failing: a retry-kind event keeps FAILED/BLOCKED; escalate/close_* end it.
        return current if target is ObjectState.FAILED else target
    if current in REOPENABLE_STATES and target in (ObjectState.FAILED, ObjectState.ESCALATED):
        return target if event_at > state_since else current
    return current  # IN_JOB (its job decides), GAVE_UP and ESCALATED (a person owns them), closed + close_*


def _maybe_time(item: Mapping[str, Any] | None, name: str) -> datetime | None:
    value = item.get(name) if item else None
    return parse_time(str(value)) if value else None


def _int(value: Any, default: int = 0) -> int:
    return int(value) if isinstance(value, (int, Decimal)) else default


def _ref_from_item(item: Mapping[str, Any]) -> ObjectRef:
    return ObjectRef(
        source_bucket=str(item["source_bucket"]),
        key=str(item["key"]),
        version_id=str(item["version_id"]) if item.get("version_id") else None,
        destination_bucket=str(item["destination_bucket"]),
    )


def _record_from_item(item: Mapping[str, Any]) -> FailureRecord:
    return FailureRecord(
        ref=_ref_from_item(item),
        state=ObjectState(item["state"]),
        failure_reason=item.get("failure_reason"),
        action=Action(item["action"]),
        category=str(item.get("category", "")),
        attempts=_int(item.get("attempts")),
        first_seen=_maybe_time(item, "first_seen"),
        last_seen=_maybe_time(item, "last_seen"),
        last_sequencer=item.get("last_sequencer"),
        destination_bucket_arn=item.get("destination_bucket_arn"),
        rule_id=item.get("rule_id"),
        region=item.get("region"),
        next_attempt_at=_maybe_time(item, "next_attempt_at"),
        job_id=item.get("job_id"),
        job_ids=[str(j) for j in item.get("job_ids", [])],
        version=_int(item.get("version")),
    )


def _history_from_item(item: Mapping[str, Any]) -> HistoryEntry:
    from_state, to_state = item.get("from_state"), item.get("to_state")
    return HistoryEntry(
        ref=_ref_from_item(item),
        at=parse_time(str(item["at"])),
        kind=str(item["kind"]),
        from_state=ObjectState(from_state) if from_state else None,
        to_state=ObjectState(to_state) if to_state else None,
        reason=item.get("reason"),
        actor=str(item.get("actor", "unknown")),
        job_id=item.get("job_id"),
        event_id=item.get("event_id"),
        detail=item.get("detail"),
    )


def _incident_from_item(item: Mapping[str, Any]) -> Incident:
    return Incident(
        source_bucket=str(item["source_bucket"]),
        destination_bucket=str(item["destination_bucket"]),
        failure_reason=str(item["failure_reason"]),
        opened_at=parse_time(str(item["opened_at"])),
        object_count=_int(item.get("object_count")),
        fixed=bool(item.get("fixed", False)),
        fixed_at=_maybe_time(item, "fixed_at"),
        fixed_by=item.get("fixed_by"),
        last_diagnosis=item.get("last_diagnosis"),
        version=_int(item.get("version")),
    )


_JOB_TIME_FIELDS = frozenset({"created_at", "finished_at", "stale_since"})
_JOB_INT_FIELDS = frozenset({"object_count", "tasks_succeeded", "tasks_failed", "version"})


def _dataclass_attrs(job: JobRecord) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for f in dataclasses.fields(job):
        value = getattr(job, f.name)
        if value is None:
            continue
        if isinstance(value, datetime):
            value = format_time(value)
        elif isinstance(value, list):
            value = [str(v) for v in value]
        elif isinstance(value, StrEnum):
            value = str(value)
        item[f.name] = value
    return item


def _job_from_item(item: Mapping[str, Any]) -> JobRecord:
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(JobRecord):
        if f.name not in item:
            continue
        value = item[f.name]
        if f.name in _JOB_TIME_FIELDS:
            value = parse_time(str(value))
        elif f.name in _JOB_INT_FIELDS:
            value = _int(value)
        elif f.name == "failure_reasons":
            value = [str(v) for v in value]
        kwargs[f.name] = value
    kwargs.setdefault("destination_bucket", None)  # absent for backfill jobs (None is not stored)
    return JobRecord(**kwargs)
