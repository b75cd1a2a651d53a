"""Objects stuck PENDING, read from a source bucket's latest S3 Inventory (no event reports them).

Reported, not re-driven: AWS documents Batch Replication for objects never replicated, failed,
replicated before and replicas (the generator filter's NONE, FAILED, COMPLETED, REPLICA: "Filters for
a Batch Replication job", https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html),
not for PENDING ones; and "for temporary failures, such as if a bucket or Region is unavailable,
replication status doesn't transition to FAILED, but remains PENDING. After the resource is back
online, Amazon S3 resumes replicating those objects" ("Getting replication status information",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html). An object PENDING
for longer than the threshold is a cause a person must look at: its own incident and an alert.
Inventory lists are eventually consistent, so the report says which delivery it read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from replimend.backfill.inventory import (
    InventoryRow,
    latest_manifest_key,
    parse_inventory_manifest,
    parse_inventory_rows,
    usable_inventory,
)
from replimend.errors import MalformedEventError, NotFoundError
from replimend.ports import ConfigReader, ManifestStorage

#: The incident reason stuck-PENDING objects are reported under (not an S3 failure reason).
STUCK_PENDING = "StuckPending"
#: Incidents about a whole source name no destination: S3 keeps one status for all of them.
ANY_DESTINATION = "-"
#: Stuck objects listed in a report (the count covers all).
MAX_LISTED = 1000


@dataclass(frozen=True, slots=True)
class StuckObject:
    key: str
    version_id: str | None
    last_modified: datetime
    pending_hours: float


@dataclass
class PendingReport:
    source_bucket: str
    threshold_hours: float
    inventory: str | None = None  # s3://bucket/key of the manifest.json read
    inventory_created_at: datetime | None = None
    pending: int = 0  # every PENDING row
    stuck_count: int = 0  # PENDING longer than the threshold
    stuck: list[StuckObject] = field(default_factory=list)  # the first MAX_LISTED of them
    unreadable_rows: int = 0
    note: str | None = None  # why nothing could be read

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("inventory_created_at",):
            data[name] = data[name].isoformat() if data[name] else None
        for item in data["stuck"]:
            item["last_modified"] = item["last_modified"].isoformat()
        return data


@dataclass
class InventoryReader:
    """The latest inventory delivery of a source, row by row."""

    reader: ConfigReader
    storage: ManifestStorage

    def latest(self, source_bucket: str) -> tuple[str | None, str]:
        """(``bucket/key`` of the newest manifest.json, why) — None with the reason when there is none."""
        config, why = usable_inventory(self.reader.inventory_configurations(source_bucket))
        if config is None:
            return None, why
        prefix = config.delivery_prefix(source_bucket)
        key = latest_manifest_key(self.storage.list_keys(config.destination_bucket, prefix))
        if key is None:
            where = f"s3://{config.destination_bucket}/{prefix}"
            return None, f"{why}: no delivery under {where} yet (the first takes up to 48 h)"
        return f"{config.destination_bucket}/{key}", why

    def rows(
        self, location: str, counts: Callable[[str], None]
    ) -> tuple[datetime | None, Iterator[InventoryRow]]:
        bucket, key = location.split("/", 1)
        manifest = parse_inventory_manifest(self.storage.get_bytes(bucket, key))

        def iterate() -> Iterator[InventoryRow]:
            for file_key in manifest.files:
                for row in parse_inventory_rows(manifest.columns, self.storage.get_bytes(bucket, file_key)):
                    if isinstance(row, str):
                        counts(row)
                    else:
                        yield row

        return manifest.created_at, iterate()


def find_stuck(
    inventory: InventoryReader, source_bucket: str, *, threshold: timedelta, now: datetime
) -> PendingReport:
    """Objects of the latest inventory PENDING for longer than ``threshold``, measured from their
    LastModifiedDate to the inventory's creation time (what the list saw), else to ``now``."""
    report = PendingReport(source_bucket, threshold_hours=threshold.total_seconds() / 3600)
    try:
        location, why = inventory.latest(source_bucket)
    except NotFoundError as exc:
        report.note = str(exc)
        return report
    if location is None:
        report.note = why
        return report
    report.inventory = f"s3://{location}"

    def unreadable(_: str) -> None:
        report.unreadable_rows += 1

    try:
        created_at, rows = inventory.rows(location, unreadable)
        report.inventory_created_at = created_at
        seen_at = created_at or now
        for row in rows:
            if row.replication_status != "PENDING" or row.is_delete_marker or row.last_modified is None:
                continue
            report.pending += 1
            age = seen_at - row.last_modified
            if age <= threshold:
                continue
            report.stuck_count += 1
            if len(report.stuck) < MAX_LISTED:
                report.stuck.append(
                    StuckObject(
                        row.key, row.version_id, row.last_modified, round(age.total_seconds() / 3600, 1)
                    )
                )
    except (MalformedEventError, NotFoundError) as exc:
        report.note = f"inventory {report.inventory} unreadable: {exc}"
    return report


def pending_summary(report: PendingReport) -> str:
    oldest = max((s.pending_hours for s in report.stuck), default=0)
    return (
        f"{report.stuck_count} object(s) of {report.source_bucket} PENDING for more than "
        f"{report.threshold_hours:g} h (oldest {oldest:g} h) in {report.inventory}; S3 resumes PENDING "
        "objects itself once the cause (an unavailable bucket or Region) is back: find what keeps them"
    )
