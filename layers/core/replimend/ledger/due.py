"""Due work: FAILED/BLOCKED objects by source bucket, oldest next attempt first.

By source, not by (source, destination): a Batch Replication job replicates each version to every
destination of its source, so the source bucket is the unit remediation plans.

The ``DueWork`` index is sparse and KEYS_ONLY: an object is in it only while due, and a write that
changes no index key (a BLOCKED/FAILED flip, a new failure reason) costs no index write. Its keys
hold a digest of the object, never the S3 key. ``PAIRS`` registry items name every pair that ever
had a failure, written once per pair per container, so finding open pairs never scans.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from replimend.ledger import table as table_module
from replimend.ledger.objects import identity, record_from_item
from replimend.ledger.table import AFTER_TIME, Clock, Item, Table, format_time, shard_of
from replimend.lifecycle import DUE_STATES
from replimend.models import FailureRecord, ObjectRef, ObjectState

DUE_INDEX = "DueWork"
PAIRS_PK = "PAIRS"
#: the pair registry attribute holding the index shard counts writers used (a number set)
SHARDS_ATTR = "index_shards"


class DueWork:
    def __init__(self, table: Table, *, index_shards: int, clock: Clock) -> None:
        self._table = table
        self.index_shards = index_shards
        self._clock = clock
        # Pairs registered by this process: the registry item is written once per container.
        self._registered_pairs: set[tuple[str, str]] = set()
        self._observed_sources: set[str] = set()

    def attrs(self, ref: ObjectRef, due_at: datetime) -> dict[str, Any]:
        ident = identity(ref)
        at = format_time(due_at)
        return {
            "nx": at,
            "due_pk": f"D#{ref.source_bucket}#{shard_of(ident, self.index_shards)}",
            "due_sk": f"{at}#{ident}",
        }

    def register_pair(self, ref: ObjectRef) -> None:
        pair = (ref.source_bucket, ref.destination_bucket)
        if pair in self._registered_pairs:
            return
        self._table.update(
            {"pk": PAIRS_PK, "sk": f"P#{ref.source_bucket}#{ref.destination_bucket}"},
            # ADD to a number set is a union ("ADD ... If the existing data type is a set", DynamoDB
            # UpdateItem): the item remembers every shard count a writer used, so a reader can
            # refuse a smaller one instead of silently missing rows.
            UpdateExpression="SET #src = :s, #dst = :d, #at = if_not_exists(#at, :t) ADD #sh :n",
            ExpressionAttributeNames={
                "#src": "source_bucket",
                "#dst": "destination_bucket",
                "#at": "registered_at",
                "#sh": SHARDS_ATTR,
            },
            ExpressionAttributeValues={
                ":s": ref.source_bucket,
                ":d": ref.destination_bucket,
                ":t": format_time(self._clock()),
                ":n": {self.index_shards},
            },
            ReturnValues="NONE",
        )
        self._registered_pairs.add(pair)

    def register_observed_source(self, source_bucket: str) -> None:
        """Note a source that sent observe-only events (RTC threshold misses), once per container,
        so the audit finds its events without a scan; ``R#`` items are not pairs (no due work)."""
        if source_bucket in self._observed_sources:
            return
        self._table.update(
            {"pk": PAIRS_PK, "sk": f"R#{source_bucket}"},
            UpdateExpression="SET #src = :s",
            ExpressionAttributeNames={"#src": "source_bucket"},
            ExpressionAttributeValues={":s": source_bucket},
            ReturnValues="NONE",
        )
        self._observed_sources.add(source_bucket)

    def observed_sources(self) -> list[str]:
        items = self._table.query(KeyConditionExpression=Key("pk").eq(PAIRS_PK) & Key("sk").begins_with("R#"))
        return sorted(str(i["source_bucket"]) for i in items)

    def pairs(self) -> list[tuple[str, str]]:
        """Every (source, destination) that ever had a failure (a handful of registry items)."""
        return sorted((str(i["source_bucket"]), str(i["destination_bucket"])) for i in self._pair_items())

    def recorded_shards(self) -> int | None:
        """The largest index shard count any writer used (None: no writer recorded one yet)."""
        counts = [int(n) for item in self._pair_items() for n in item.get(SHARDS_ATTR) or ()]
        return max(counts, default=None)

    def _pair_items(self) -> Iterator[Item]:
        return self._table.query(KeyConditionExpression=Key("pk").eq(PAIRS_PK) & Key("sk").begins_with("P#"))

    def sources(self) -> list[str]:
        return sorted({source for source, _ in self.pairs()})

    def has_due_work(self, source_bucket: str) -> bool:
        for shard in range(self.index_shards):
            response = self._table.call(
                "Query",
                IndexName=DUE_INDEX,
                KeyConditionExpression=Key("due_pk").eq(f"D#{source_bucket}#{shard}"),
                Limit=1,
            )
            if response.get("Items"):
                return True
        return False

    def due_keys(self, source_bucket: str, *, now: datetime | None) -> Iterator[Item]:
        """The table keys (pk, sk) of a source's due records, oldest next attempt first."""
        partitions = [f"D#{source_bucket}#{n}" for n in range(self.index_shards)]
        high = format_time(now) + AFTER_TIME if now is not None else None
        return self._table.query_merged(
            DUE_INDEX, partitions, "due_pk", "due_sk", high=high, page_size=table_module.PAGE_SIZE
        )

    def due(
        self, source_bucket: str, *, now: datetime | None, limit: int | None = None
    ) -> Iterator[FailureRecord]:
        """FAILED/BLOCKED records of a source, every destination (due by ``now`` when given), oldest
        first, across shards.

        The index holds keys only; the records are read with BatchGetItem (strongly consistent), so
        a record that moved since the index saw it is skipped rather than acted on.
        """
        partitions = [f"D#{source_bucket}#{n}" for n in range(self.index_shards)]
        high = format_time(now) + AFTER_TIME if now is not None else None
        page = min(limit, table_module.PAGE_SIZE) if limit else table_module.PAGE_SIZE
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


def _chunks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    while True:
        chunk = list(itertools.islice(items, size))
        if not chunk:
            return
        yield chunk
