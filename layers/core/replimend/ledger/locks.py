"""Per-source leases: while a backfill decides whether to start a job for a source and starts it,
no other trigger (a second schedule firing, an on-demand run) may do the same.

Item: pk L#<source>, sk L, owner, expires. Acquiring is one conditional put (DynamoDB evaluates the
condition and the write atomically; PutItem ConditionExpression, DynamoDB API reference): it wins when
no lease exists, the lease has expired (a run that died), or the owner is the same (a retried run). The
lease only covers starting a job: once the job is in the ledger, the ledger's active jobs keep the
next backfill off the source.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from boto3.dynamodb.conditions import Attr

from replimend.errors import ConflictError
from replimend.ledger.table import Clock, Table, format_time

LOCK_SK = "L"


def lock_key(source_bucket: str) -> dict[str, str]:
    return {"pk": f"L#{source_bucket}", "sk": LOCK_SK}


class SourceLocks:
    def __init__(self, table: Table, *, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def acquire(self, source_bucket: str, owner: str, *, lease: timedelta) -> bool:
        now = self._clock()
        item = {
            **lock_key(source_bucket),
            "entity": "lock",
            "owner": owner,
            "acquired": format_time(now),
            "expires": format_time(now + lease),  # fixed-width UTC text: compares as time
        }
        condition = Attr("pk").not_exists() | Attr("owner").eq(owner) | Attr("expires").lt(format_time(now))
        try:
            self._table.put(item, condition)
        except ConflictError:
            return False
        return True

    def release(self, source_bucket: str, owner: str) -> None:
        """Drop the lease if ``owner`` still holds it (another owner's lease is left alone)."""
        with contextlib.suppress(ConflictError):
            self._table.call(
                "DeleteItem", Key=lock_key(source_bucket), ConditionExpression=Attr("owner").eq(owner)
            )
