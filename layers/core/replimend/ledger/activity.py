"""The activity log: which keys of a source bucket had history written in which hour.

Audit by bucket and time reads this log, then each key's history (kept on the object items), and
keeps the lines inside the window. It replaces indexing every history line (two ALL-projection
index entries per line before): the log is a pointer, written once per batch, not per line.

Item: pk A#<source>, sk <hour>#<digest of the keys>, ``keys`` the distinct keys (at most
``PAGE_KEYS`` or ``PAGE_BYTES`` per item). The same page written twice (a retried batch) is the
same item; a page may point at a key whose line a crash never wrote — readers only show lines
that are in the object's history, so a pointer can be spare but a line is never invented.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from replimend.ledger.table import Table, digest, format_time

PAGE_KEYS = 200
PAGE_BYTES = 6_000


def hour_of(at: datetime) -> str:
    return format_time(at)[:11]  # 20240905T21


class ActivityLog:
    def __init__(self, table: Table) -> None:
        self._table = table
        self._pending: dict[tuple[str, str], set[str]] = defaultdict(set)

    def note(self, bucket: str, key: str, at: datetime) -> None:
        self._pending[(bucket, hour_of(at))].add(key)

    def flush(self) -> None:
        pending, self._pending = self._pending, defaultdict(set)
        for (bucket, hour), keys in sorted(pending.items()):
            for page in _pages(sorted(keys)):
                self._table.put(
                    {"pk": f"A#{bucket}", "sk": f"{hour}#{digest(*page)}", "keys": page, "n": len(page)}
                )

    def keys(self, bucket: str, since: datetime | None, until: datetime | None) -> Iterator[str]:
        """Distinct keys with activity in [since, until] (hour granularity)."""
        from boto3.dynamodb.conditions import Key

        condition = Key("pk").eq(f"A#{bucket}")
        low = hour_of(since) if since else "0"
        high = (hour_of(until) if until else "9999") + "#~"
        seen: set[str] = set()
        for item in self._table.query(KeyConditionExpression=condition & Key("sk").between(low, high)):
            for key in item.get("keys", []):
                if key not in seen:
                    seen.add(key)
                    yield str(key)

    def hours(
        self, bucket: str, since: datetime | None, until: datetime | None
    ) -> Iterator[tuple[str, list[str]]]:
        """(hour, its distinct keys) with activity in [since, until], oldest hour first."""
        from boto3.dynamodb.conditions import Key

        low = hour_of(since) if since else "0"
        high = (hour_of(until) if until else "9999") + "#~"
        condition = Key("pk").eq(f"A#{bucket}") & Key("sk").between(low, high)
        items = self._table.query(KeyConditionExpression=condition)
        for hour, pages in itertools.groupby(items, key=lambda item: str(item["sk"])[:11]):
            yield hour, list(dict.fromkeys(str(key) for page in pages for key in page.get("keys", [])))


def _pages(keys: list[str]) -> Iterator[list[str]]:
    page: list[str] = []
    size = 0
    for key in keys:
        length = len(key.encode("utf-8", "surrogatepass")) + 3
        if page and (len(page) >= PAGE_KEYS or size + length > PAGE_BYTES):
            yield page
            page, size = [], 0
        page.append(key)
        size += length
    if page:
        yield page
