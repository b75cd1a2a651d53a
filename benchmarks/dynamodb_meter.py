"""DynamoDB's on-demand billing model, applied to every request a boto3 client sends to moto.

The meter attaches to a client's (or a session's) botocore events, like ``common.CallCounter``:
``before-call.dynamodb.*`` parses the request as sent on the wire and reads, straight from moto's
in-process backend, every item the request can change; ``after-call.dynamodb.*`` reads them again
and bills the request as DynamoDB would. It knows nothing about the code under test (no ledger
internals): only requests, items and the table descriptions (key schema, GSIs and LSIs with their
projections). It only works in-process, under ``moto.mock_aws``.

Billing rules (on-demand; a unit of provisioned capacity is consumed by the same rules):

* Item size -- https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
  the sum over attributes of UTF-8 name bytes + value size: String = UTF-8 bytes; Number = 1 byte per
  two significant digits (leading/trailing zeros trimmed) + 1; Binary = raw bytes; Boolean/Null = 1;
  List/Map = 3 bytes + 1 byte per element + the elements (a map element counts its name).
  Sets are not described on that page: a set is taken as the sum of its elements' sizes.
* Writes -- https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html#write-operation-consumption
  one write unit per 1 KB of the larger of the item before and after the write (PutItem, UpdateItem),
  of the deleted item (DeleteItem), at least 1; BatchWriteItem bills each put/delete as a single one.
  A conditional write whose condition is false still consumes write units: 1 if the item does not
  exist, else by the size of the existing item (WorkingWithItems.html, section "Capacity units
  consumed by conditional writes"); another version of that page says "the existing item or the
  new one you are attempting to write", so a failed PutItem is billed on the larger of the two
  (the same below 1 KB).
* Transactions -- https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html
  (capacity management): two write units per 1 KB of each item of TransactWriteItems.
* Index writes -- https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes
  per index in the table's description: an item entering the index costs one write of its projected
  entry, leaving costs one, an index key change costs two (delete + put), a change of projected
  attributes only costs one, no change (or not in the index before nor after) costs nothing; each
  write is billed per 1 KB of the index entry. The same rule is applied to LSIs.
* Reads -- read-write-operations.html#read-operation-consumption: GetItem 1 unit per 4 KB of the item
  (strongly consistent; eventually consistent is half), an absent item still costs the minimum;
  BatchGetItem rounds each item separately; Query and Scan add up the sizes of every item *read*
  (those matching the key condition, before any FilterExpression, Query.Other.html#Query.FilterExpression)
  then round up to 4 KB; a ProjectionExpression does not lower the cost. A query of an index bills
  the sizes of the index entries (GSI.html#GSI.ThroughputConsiderations.Reads). A query that reads
  nothing is billed the minimum read unit (0.5 eventually consistent).
* Storage -- CapacityUnitCalculations.html: 100 bytes of overhead per item;
  GSI.html#GSI.StorageConsiderations: an index entry is the table key + the index key + the
  projected attributes + 100 bytes.

What is not billed here: control-plane calls (CreateTable, DescribeTable, ...), streams, TTL deletes
(free), backups and PITR.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
STORAGE_OVERHEAD_BYTES = 100
TABLE = "table"  # the name the breakdown by index gives the base table

Item = dict[str, Any]  # attribute name -> wire-format value ({"S": "..."}, {"N": "1"}, ...)
_CONTEXT_KEY = "replimend_dynamodb_meter"
_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
_READS = ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems")
#: Query/Scan parameters that make the response differ from what was read.
_NARROWING = (
    "FilterExpression",
    "ProjectionExpression",
    "Select",
    "AttributesToGet",
    "QueryFilter",
    "ScanFilter",
    "ReturnConsumedCapacity",
)
_SINGLE_READS = ("GetItem", "BatchGetItem", "TransactGetItems")


# --------------------------------------------------------------------------- sizes


def number_size(text: str) -> int:
    """1 byte per two significant digits (leading and trailing zeros trimmed) + 1 byte."""
    try:
        significant = len(Decimal(text).normalize().as_tuple().digits)
    except InvalidOperation:
        significant = sum(1 for char in text if char.isdigit())
    significant = max(1, significant)
    return math.ceil(significant / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Size of one wire-format attribute value (without its name)."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        return number_size(str(data))
    if kind == "B":
        return len(_raw_bytes(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(element).encode()) for element in data)
    if kind == "NS":
        return sum(number_size(str(element)) for element in data)
    if kind == "BS":
        return sum(len(_raw_bytes(element)) for element in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in data.items())
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def _raw_bytes(data: Any) -> bytes:
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    return base64.b64decode(str(data))


def item_size(item: Mapping[str, Any] | None) -> int:
    """Bytes of an item as DynamoDB counts them (attribute names + values); 0 for no item."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


# --------------------------------------------------------------------------- table descriptions


@dataclass(frozen=True)
class Index:
    """A secondary index as DescribeTable describes it."""

    name: str
    key: tuple[str, ...]
    projection: str  # KEYS_ONLY | INCLUDE | ALL
    non_key: tuple[str, ...] = ()

    def entry(self, item: Mapping[str, Any] | None, table_key: tuple[str, ...]) -> Item | None:
        """The item's entry in this index (None when the item lacks a key attribute: sparse)."""
        if not item or any(name not in item for name in self.key):
            return None
        if self.projection == "ALL":
            return dict(item)
        kept = {*table_key, *self.key, *(self.non_key if self.projection == "INCLUDE" else ())}
        return {name: value for name, value in item.items() if name in kept}


@dataclass(frozen=True)
class TableShape:
    name: str
    key: tuple[str, ...]
    indexes: tuple[Index, ...]

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> TableShape:
        indexes = []
        for index in [
            *(description.get("GlobalSecondaryIndexes") or []),
            *(description.get("LocalSecondaryIndexes") or []),
        ]:
            projection = index.get("Projection") or {}
            indexes.append(
                Index(
                    name=index["IndexName"],
                    key=tuple(part["AttributeName"] for part in index["KeySchema"]),
                    projection=projection.get("ProjectionType", "ALL"),
                    non_key=tuple(projection.get("NonKeyAttributes") or ()),
                )
            )
        key = tuple(part["AttributeName"] for part in description["KeySchema"])
        return cls(description["TableName"], key, tuple(indexes))

    def index(self, name: str) -> Index:
        return next(index for index in self.indexes if index.name == name)


def index_write_units(
    before: Item | None, after: Item | None, index: Index, table_key: tuple[str, ...]
) -> int:
    """Write units an index spends when a table item goes from ``before`` to ``after``."""
    old, new = index.entry(before, table_key), index.entry(after, table_key)
    if old is None and new is None:
        return 0  # not in the index before nor after
    if old is None:
        return write_units(item_size(new))  # enters the index
    if new is None:
        return write_units(item_size(old))  # leaves the index
    if any(old[name] != new[name] for name in index.key):
        return write_units(item_size(old)) + write_units(item_size(new))  # key changed: delete + put
    if old != new:
        return write_units(max(item_size(old), item_size(new)))  # projected attributes changed
    return 0


# --------------------------------------------------------------------------- moto backend access


class MotoTables:
    """Items and table descriptions read straight from moto's in-process DynamoDB backend."""

    def __init__(self, account_id: str | None = None) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID

        self.account_id = account_id or DEFAULT_ACCOUNT_ID

    def _table(self, name: str, region: str) -> Any:
        from moto.backends import get_backend

        return get_backend("dynamodb")[self.account_id][region].get_table(name)

    def shape(self, name: str, region: str) -> TableShape:
        return TableShape.from_description(self._table(name, region).describe(base_key="Table")["Table"])

    def get(self, name: str, region: str, key: Mapping[str, Any]) -> Item | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self._table(name, region)
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        found = table.get_item(hash_key, range_key)
        return dict(found.to_json()["Attributes"]) if found is not None else None

    def items(self, name: str, region: str) -> Iterator[Item]:
        for found in self._table(name, region).all_items():
            yield dict(found.to_json()["Attributes"])


# --------------------------------------------------------------------------- accounting


@dataclass
class Tally:
    """What a group of requests consumed."""

    requests: int = 0
    write_units: float = 0.0
    read_units: float = 0.0
    failed_conditions: int = 0
    index_write_units: dict[str, float] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.write_units += other.write_units
        self.read_units += other.read_units
        self.failed_conditions += other.failed_conditions
        for name, units in other.index_write_units.items():
            self.index_write_units[name] = self.index_write_units.get(name, 0.0) + units

    @property
    def total_write_units(self) -> float:
        return self.write_units + sum(self.index_write_units.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "wru": _number(self.total_write_units),
            "wru_table": _number(self.write_units),
            "wru_indexes": {name: _number(units) for name, units in sorted(self.index_write_units.items())},
            "rru": _number(self.read_units),
            "failed_conditions": self.failed_conditions,
        }


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 3)


@dataclass(frozen=True)
class _Write:
    table: str
    key: Item
    attempted: Item | None  # PutItem's item (for a failed condition)
    factor: int  # 2 in a transaction


@dataclass
class _Pending:
    operation: str
    region: str
    request: dict[str, Any]
    writes: list[_Write]
    before: list[Item | None]
    reads: Tally


class DynamoDBMeter:
    """Bills every DynamoDB request of the clients it is attached to; see the module docstring.

    ``phase`` labels the requests that follow (``with meter.phase("ingest"):``), so a report can
    say which stage spent what. Thread-safe: accounting is under a lock; moto itself serialises.
    """

    def __init__(self, *, account_id: str | None = None) -> None:
        self.tables = MotoTables(account_id)
        self._lock = threading.Lock()
        self._phase = "-"
        self._shapes: dict[tuple[str, str], TableShape] = {}
        self.by_operation: dict[str, Tally] = defaultdict(Tally)
        self.by_phase: dict[str, Tally] = defaultdict(Tally)
        self.by_table: dict[str, Tally] = defaultdict(Tally)
        self.unbilled: Counter[str] = Counter()
        self._replayer: Any = None

    # ---- attaching ----------------------------------------------------------------------
    def attach(self, events: Any) -> None:
        """Register on a client's (``client.meta.events``) or a session's event system."""
        events.register_first("before-call.dynamodb.*", self._before)
        events.register_last("after-call.dynamodb.*", self._after)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        previous, self._phase = self._phase, name
        try:
            yield
        finally:
            self._phase = previous

    def reset(self) -> None:
        with self._lock:
            self.by_operation.clear()
            self.by_phase.clear()
            self.by_table.clear()
            self.unbilled.clear()

    # ---- totals -------------------------------------------------------------------------
    def total(self) -> Tally:
        total = Tally()
        with self._lock:
            for tally in self.by_operation.values():
                total.add(tally)
        return total

    def report(self) -> dict[str, Any]:
        total = self.total()
        with self._lock:
            index_units: dict[str, float] = {TABLE: total.write_units, **total.index_write_units}
            return {
                "total": total.to_dict(),
                "by_request_type": {
                    name: tally.to_dict() for name, tally in sorted(self.by_operation.items())
                },
                "by_index_wru": {name: _number(units) for name, units in index_units.items()},
                "by_phase": {name: tally.to_dict() for name, tally in self.by_phase.items()},
                "by_table": {name: tally.to_dict() for name, tally in sorted(self.by_table.items())},
                "unbilled_calls": dict(sorted(self.unbilled.items())),
            }

    def storage(self, table: str, region: str) -> dict[str, Any]:
        """Bytes stored for a table now: items + 100 B each, index entries + 100 B each."""
        shape = self._shape(table, region)
        items = list(self.tables.items(table, region))
        by_index: dict[str, int] = {}
        for index in shape.indexes:
            entries = [index.entry(item, shape.key) for item in items]
            by_index[index.name] = sum(
                item_size(e) + STORAGE_OVERHEAD_BYTES for e in entries if e is not None
            )
        table_bytes = sum(item_size(item) + STORAGE_OVERHEAD_BYTES for item in items)
        return {
            "items": len(items),
            "table_bytes": table_bytes,
            "index_bytes": by_index,
            "total_bytes": table_bytes + sum(by_index.values()),
        }

    # ---- hooks --------------------------------------------------------------------------
    def _count_unbilled(self, name: str) -> None:
        with self._lock:
            self.unbilled[name] += 1

    def _shape(self, table: str, region: str) -> TableShape:
        key = (table, region)
        if key not in self._shapes:
            self._shapes[key] = self.tables.shape(table, region)
        return self._shapes[key]

    def _before(self, event_name: str, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation not in _WRITES and operation not in _READS:
            self._count_unbilled(operation)
            return
        region = str(context.get("client_region") or "us-east-1")
        body = params.get("body") or b"{}"
        request = json.loads(body.decode() if isinstance(body, bytes | bytearray) else body)
        try:
            writes = list(self._writes_of(operation, request, region))
            before = [self.tables.get(w.table, region, w.key) for w in writes]
            reads = self._bill_reads(operation, request, region) if operation in _SINGLE_READS else Tally()
        except Exception:  # no such table, a malformed key: DynamoDB rejects the request, unbilled
            self._count_unbilled(f"{operation} (error)")
            return
        context[_CONTEXT_KEY] = _Pending(operation, region, request, writes, before, reads)

    def _after(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        pending: _Pending | None = context.pop(_CONTEXT_KEY, None)
        if pending is None:
            return
        failed = int(getattr(http_response, "status_code", 200)) >= 300
        condition_failed = failed and _is_condition_failure(http_response)
        tally = Tally(requests=1, failed_conditions=int(condition_failed))
        if failed and not condition_failed:
            self._count_unbilled(f"{pending.operation} (error)")  # rejected requests are not billed
        elif pending.operation in ("Query", "Scan"):
            tally.add(self._bill_scan_like(pending, http_response))
        else:
            tally.add(pending.reads)
            for write, before in zip(pending.writes, pending.before, strict=True):
                after = before if failed else self.tables.get(write.table, pending.region, write.key)
                tally.add(self._bill_write(write, before, after, failed, pending.region))
        with self._lock:
            self.by_operation[pending.operation].add(tally)
            self.by_phase[self._phase].add(tally)
            self.by_table[_table_of(pending)].add(tally)

    # ---- writes -------------------------------------------------------------------------
    def _writes_of(self, operation: str, request: Mapping[str, Any], region: str) -> Iterator[_Write]:
        if operation == "PutItem":
            yield self._put(request["TableName"], request["Item"], region, 1)
        elif operation in ("UpdateItem", "DeleteItem"):
            yield _Write(request["TableName"], dict(request["Key"]), None, 1)
        elif operation == "BatchWriteItem":
            for table, requests in request.get("RequestItems", {}).items():
                for entry in requests:
                    if "PutRequest" in entry:
                        yield self._put(table, entry["PutRequest"]["Item"], region, 1)
                    elif "DeleteRequest" in entry:
                        yield _Write(table, dict(entry["DeleteRequest"]["Key"]), None, 1)
        elif operation == "TransactWriteItems":
            for entry in request.get("TransactItems", []):
                (action, spec), *_ = entry.items()
                if action == "Put":
                    yield self._put(spec["TableName"], spec["Item"], region, 2)
                else:  # Update, Delete, ConditionCheck
                    yield _Write(spec["TableName"], dict(spec["Key"]), None, 2)

    def _put(self, table: str, item: Mapping[str, Any], region: str, factor: int) -> _Write:
        key = {name: item[name] for name in self._shape(table, region).key}
        return _Write(table, key, dict(item), factor)

    def _bill_write(
        self, write: _Write, before: Item | None, after: Item | None, failed: bool, region: str
    ) -> Tally:
        if failed:
            # Nothing changed: the table is billed by the existing item (or the attempted put), no index.
            size = max(item_size(before), item_size(write.attempted))
            return Tally(write_units=write.factor * write_units(size))
        shape = self._shape(write.table, region)
        indexes = {
            index.name: float(index_write_units(before, after, index, shape.key)) for index in shape.indexes
        }
        return Tally(
            write_units=write.factor * write_units(max(item_size(before), item_size(after))),
            index_write_units={name: units for name, units in indexes.items() if units},
        )

    # ---- reads --------------------------------------------------------------------------
    def _bill_reads(self, operation: str, request: Mapping[str, Any], region: str) -> Tally:
        if operation == "GetItem":
            found = self.tables.get(request["TableName"], region, request["Key"])
            return Tally(
                read_units=read_units(item_size(found), consistent=bool(request.get("ConsistentRead")))
            )
        units = 0.0
        if operation == "BatchGetItem":
            for table, spec in request.get("RequestItems", {}).items():
                for key in spec.get("Keys", []):
                    found = self.tables.get(table, region, key)
                    units += read_units(item_size(found), consistent=bool(spec.get("ConsistentRead")))
        elif operation == "TransactGetItems":
            for entry in request.get("TransactItems", []):
                spec = entry["Get"]
                found = self.tables.get(spec["TableName"], region, spec["Key"])
                units += 2 * read_units(item_size(found), consistent=True)
        return Tally(read_units=units)

    def _bill_scan_like(self, pending: _Pending, http_response: Any) -> Tally:
        request = pending.request
        if any(name in request for name in _NARROWING):
            items = self._replay_unnarrowed(pending)
        else:
            items = json.loads(http_response.content or b"{}").get("Items", [])
        shape = self._shape(request["TableName"], pending.region)
        if request.get("IndexName"):
            index = shape.index(request["IndexName"])
            items = [index.entry(item, shape.key) or item for item in items]
        size = sum(item_size(item) for item in items)
        return Tally(read_units=read_units(size, consistent=bool(request.get("ConsistentRead"))))

    def _replay_unnarrowed(self, pending: _Pending) -> list[Item]:
        """The items a Query/Scan page read: the same page without filter or projection, sent by an
        unmetered client to the same moto backend (read-only)."""
        request = {k: v for k, v in pending.request.items() if k not in _NARROWING}
        used = set(re.findall(r"[#:][A-Za-z0-9_]+", str(request.get("KeyConditionExpression", ""))))
        if "ExpressionAttributeNames" in request:
            names = {k: v for k, v in request["ExpressionAttributeNames"].items() if k in used}
            request["ExpressionAttributeNames"] = names
        if "ExpressionAttributeValues" in request:
            values = {k: v for k, v in request["ExpressionAttributeValues"].items() if k in used}
            request["ExpressionAttributeValues"] = values
        for name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            if not request.get(name):
                request.pop(name, None)
        client = self._replay_client(pending.region)
        response = getattr(client, "query" if pending.operation == "Query" else "scan")(**request)
        return list(response.get("Items", []))

    def _replay_client(self, region: str) -> Any:
        if self._replayer is None:
            import boto3
            import botocore.session

            session = boto3.Session(botocore_session=botocore.session.Session(), region_name=region)
            self._replayer = session.client("dynamodb", region_name=region)
        return self._replayer


def _is_condition_failure(http_response: Any) -> bool:
    try:
        body = json.loads(http_response.content or b"{}")
    except ValueError:
        return False
    return "ConditionalCheckFailed" in str(body.get("__type", ""))


def _table_of(pending: _Pending) -> str:
    """The request's table (the first one for a multi-table batch)."""
    if pending.request.get("TableName"):
        return str(pending.request["TableName"])
    if pending.writes:
        return pending.writes[0].table
    return next(iter(pending.request.get("RequestItems") or {"-": None}))
