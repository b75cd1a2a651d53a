"""The ledger's table: DynamoDB calls, pages, batch reads, and the formats every aggregate shares.

The only module of the ledger that talks to boto3. Errors come out as the project's own
(``ConflictError`` carries the item as it is now when a condition failed).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import ConditionBase, Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from replimend.errors import AwsCallError, ConflictError, NotFoundError

Clock = Callable[[], datetime]
Item = dict[str, Any]

NULL_VERSION = "null"  # how S3 itself names the version of an object written while versioning was off
NO_DESTINATION = "-"  # events that name no destination (some observe-only events)
EPOCH_TIME = "19700101T000000.000000Z"  # stands in for a missing eventTime, so keys stay stable
#: ISO 8601 basic format: fixed width (string order is time order) and 4 bytes shorter than the
#: extended one, which counts — every byte of the object item is paid at every write.
TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"
#: One character above "#": "<time>" + AFTER_TIME bounds every sort key that starts with that time.
AFTER_TIME = "$"
PAGE_SIZE = 500
BATCH_GET_MAX = 100  # BatchGetItem's limit per request (DynamoDB API reference, BatchGetItem)

_DESERIALIZE = TypeDeserializer()
_SNAKE = {
    "GetItem": "get_item",
    "PutItem": "put_item",
    "UpdateItem": "update_item",
    "DeleteItem": "delete_item",
    "Query": "query",
}


def format_time(at: datetime) -> str:
    """Fixed-width UTC text, so string order is time order; naive datetimes are taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def maybe_time(value: Any) -> datetime | None:
    return parse_time(str(value)) if value else None


def as_int(value: Any, default: int = 0) -> int:
    return int(value) if isinstance(value, (int, Decimal)) else default


def digest(*parts: str, size: int = 8) -> str:
    """A short stable hash (same on every host and run, unlike hash()) for index keys.

    Index keys hold digests, never S3 keys: a sort key is at most 1,024 bytes and an S3 key may be
    1,024 bytes on its own (DynamoDB "Service, account, and table quotas": partition key 2,048
    bytes, sort key 1,024 bytes).
    """
    return hashlib.blake2b("\0".join(parts).encode("utf-8", "surrogatepass"), digest_size=size).hexdigest()


def shard_of(identity: str, shards: int) -> int:
    return int(identity[:8], 16) % shards


def time_bounds(since: datetime | None, until: datetime | None) -> tuple[str | None, str | None]:
    low = format_time(since) if since else None
    high = format_time(until) + AFTER_TIME if until else None
    return low, high


def key_condition(
    partition_attr: str, partition: str, sort_attr: str, low: str | None, high: str | None
) -> ConditionBase:
    condition: ConditionBase = Key(partition_attr).eq(partition)
    if low is not None and high is not None:
        return condition & Key(sort_attr).between(low, high)
    if high is not None:
        return condition & Key(sort_attr).lte(high)
    if low is not None:
        return condition & Key(sort_attr).gte(low)
    return condition


class Table:
    """A DynamoDB table (boto3 resource Table) with the project's error translation."""

    def __init__(self, table: Any) -> None:
        self._table = table

    @property
    def name(self) -> str:
        return str(self._table.name)

    def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        method = getattr(self._table, _SNAKE[operation])
        try:
            response: dict[str, Any] = method(**kwargs)
        except ClientError as exc:
            from replimend.aws.errors import error_code, translate_client_error

            error = translate_client_error(exc, f"{operation} on {self.name}")
            if isinstance(error, NotFoundError):
                # Items that do not exist are not errors in DynamoDB; this is the table itself.
                message = str(exc.response.get("Error", {}).get("Message", exc))
                error = AwsCallError(operation, error_code(exc), f"{message} (table {self.name})")
            if isinstance(error, ConflictError):
                old: Any = exc.response.get("Item")
                error.current = _deserialize(old) if isinstance(old, Mapping) else None
            raise error from exc
        return response

    def get(self, pk: str, sk: str) -> Item | None:
        item = self.call("GetItem", Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    def put(
        self, item: Mapping[str, Any], condition: ConditionBase | None = None, *, old: bool = False
    ) -> None:
        """Put ``item``; with ``old``, a failed condition's ConflictError carries the item as it is."""
        kwargs: dict[str, Any] = {"Item": {k: v for k, v in item.items() if v is not None}}
        if condition is not None:
            kwargs["ConditionExpression"] = condition
            if old:
                kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self.call("PutItem", **kwargs)

    def update(self, key: Mapping[str, str], **kwargs: Any) -> Item:
        kwargs.setdefault("ReturnValues", "ALL_NEW")
        return dict(self.call("UpdateItem", Key=dict(key), **kwargs).get("Attributes") or {})

    def query(self, **kwargs: Any) -> Iterator[Item]:
        """Every item of a query, page by page, lazily (a merge pulls only what it needs)."""
        kwargs.setdefault("Limit", PAGE_SIZE)
        while True:
            response = self.call("Query", **kwargs)
            yield from response.get("Items", [])
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return
            kwargs["ExclusiveStartKey"] = last_key

    def query_merged(
        self,
        index: str,
        partitions: Sequence[str],
        pk_attr: str,
        sk_attr: str,
        *,
        low: str | None = None,
        high: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[Item]:
        """Query several partitions of an index and merge them into one sort-key order."""
        streams = [
            self.query(
                IndexName=index,
                KeyConditionExpression=key_condition(pk_attr, partition, sk_attr, low, high),
                Limit=page_size,
            )
            for partition in partitions
        ]
        return heapq.merge(*streams, key=lambda item: str(item[sk_attr]))

    def batch_get(self, keys: Sequence[Mapping[str, str]]) -> dict[tuple[str, str], Item]:
        """Items by (pk, sk), strongly consistent; missing items are absent from the answer."""
        found: dict[tuple[str, str], Item] = {}
        for start in range(0, len(keys), BATCH_GET_MAX):
            pending: list[dict[str, str]] = [dict(k) for k in keys[start : start + BATCH_GET_MAX]]
            for _ in range(8):
                if not pending:
                    break
                try:
                    response = self._table.meta.client.batch_get_item(
                        RequestItems={self.name: {"Keys": pending, "ConsistentRead": True}}
                    )
                except ClientError as exc:
                    from replimend.aws.errors import translate_client_error

                    raise translate_client_error(exc, f"BatchGetItem on {self.name}") from exc
                # The resource's client serializes and deserializes attribute values itself.
                for item in response.get("Responses", {}).get(self.name, []):
                    found[(str(item["pk"]), str(item["sk"]))] = dict(item)
                # Unprocessed keys (throttling) are retried; the client's own retries back off.
                unprocessed = response.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
                pending = [dict(k) for k in unprocessed]
            if pending:
                left = f"{len(pending)} keys left on {self.name}"
                raise AwsCallError("BatchGetItem", "UnprocessedKeys", left)
        return found


def _deserialize(item: Mapping[str, Any]) -> Item:
    return {name: _DESERIALIZE.deserialize(value) for name, value in item.items()}
