"""S3 Inventory lists (CSV) as a source of replication status, parsed without AWS.

AWS, "Amazon S3 Inventory" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html)
and "Locating your inventory list" (.../storage-inventory-location.html):
- a delivery is ``<prefix>/<source>/<config id>/YYYY-MM-DDTHH-MMZ/manifest.json``; its ``files[].key``
  are gzip CSV files, its ``fileSchema`` names their columns (no header row in the files);
- "When using the CSV file format, the key name is URL-encoded and must be decoded" (read as
  ``manifest_csv.decode_key`` reads it: '+' or %20 for a space, a literal '+' is %2B);
- ``ReplicationStatus`` is PENDING, COMPLETED, FAILED or REPLICA (empty: never replicated);
- an all-versions list gives objects written while versioning was off an empty VersionId (their
  version is ``null``, as S3 names it);
- lists are eventually consistent: confirm with HeadObject before acting on a row.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from replimend.errors import MalformedEventError
from replimend.manifest_csv import csv_rows, decode_key

#: An inventory delivery's folder: the time the scan started (e.g. 2016-11-06T21-32Z).
_DELIVERY = re.compile(r"/(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z)/manifest\.json$")
REQUIRED_COLUMNS = ("Bucket", "Key", "ReplicationStatus")


@dataclass(frozen=True, slots=True)
class InventoryConfig:
    """A source bucket's inventory configuration that replimend can read status from."""

    config_id: str
    destination_bucket: str  # name
    prefix: str
    all_versions: bool

    def delivery_prefix(self, source_bucket: str) -> str:
        parts = [p for p in (self.prefix.strip("/"), source_bucket, self.config_id) if p]
        return "/".join(parts) + "/"


def usable_inventory(configurations: Iterable[Mapping[str, Any]]) -> tuple[InventoryConfig | None, str]:
    """The first enabled CSV configuration with the ReplicationStatus field, and why none is
    (botocore s3 ``InventoryConfiguration``: IsEnabled, Destination.S3BucketDestination{Bucket ARN,
    Format CSV|ORC|Parquet, Prefix}, IncludedObjectVersions All|Current, OptionalFields)."""
    reasons = []
    for config in configurations:
        name = str(config.get("Id", "?"))
        destination = (config.get("Destination") or {}).get("S3BucketDestination") or {}
        if not config.get("IsEnabled"):
            reasons.append(f"{name} is disabled")
        elif destination.get("Format") != "CSV":
            reasons.append(f"{name} is {destination.get('Format')}, not CSV")
        elif "ReplicationStatus" not in (config.get("OptionalFields") or []):
            reasons.append(f"{name} lacks the ReplicationStatus field")
        else:
            return (
                InventoryConfig(
                    config_id=name,
                    destination_bucket=str(destination.get("Bucket", "")).rsplit(":", 1)[-1],
                    prefix=str(destination.get("Prefix") or ""),
                    all_versions=config.get("IncludedObjectVersions") == "All",
                ),
                f"inventory {name} (CSV, ReplicationStatus) to {destination.get('Bucket')}",
            )
    return None, ("; ".join(reasons) if reasons else "no inventory configuration")


def latest_manifest_key(keys: Iterable[str]) -> str | None:
    """The newest delivery's manifest.json among ``keys`` (the folder names sort as time)."""
    found = [(m.group(1), key) for key in keys if (m := _DELIVERY.search(key))]
    return max(found)[1] if found else None


@dataclass(frozen=True, slots=True)
class InventoryManifest:
    source_bucket: str
    destination_bucket: str  # name
    created_at: datetime | None
    columns: tuple[str, ...]
    files: tuple[str, ...]  # keys in the destination bucket


def parse_inventory_manifest(document: bytes | str) -> InventoryManifest:
    try:
        data: Any = json.loads(document)
    except (ValueError, RecursionError) as exc:
        raise MalformedEventError(f"inventory manifest.json is not JSON: {str(exc)[:200]}") from exc
    if not isinstance(data, dict):
        raise MalformedEventError("inventory manifest.json is not an object")
    if data.get("fileFormat") != "CSV":
        raise MalformedEventError(f"inventory format {data.get('fileFormat')!r} is not CSV")
    columns = tuple(c.strip() for c in str(data.get("fileSchema", "")).split(","))
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise MalformedEventError(f"inventory schema lacks {', '.join(missing)}")
    files = data.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) and f.get("key") for f in files):
        raise MalformedEventError("inventory manifest.json has no files[].key")
    created_at = _epoch_millis(str(data.get("creationTimestamp") or ""))
    return InventoryManifest(
        source_bucket=str(data.get("sourceBucket", "")),
        destination_bucket=str(data.get("destinationBucket", "")).rsplit(":", 1)[-1],
        created_at=created_at,
        columns=columns,
        files=tuple(str(f["key"]) for f in files),
    )


@dataclass(frozen=True, slots=True)
class InventoryRow:
    bucket: str
    key: str  # decoded
    version_id: str | None  # None: the null version (or a current-versions-only list)
    replication_status: str | None  # None: never replicated (the filter's NONE)
    last_modified: datetime | None
    size: int | None
    is_latest: bool = True
    is_delete_marker: bool = False


def parse_inventory_rows(columns: tuple[str, ...], gz: bytes) -> Iterator[InventoryRow | str]:
    """The rows of one gzip CSV inventory file; a row that cannot be read is yielded as text."""
    index = {name: i for i, name in enumerate(columns)}
    try:
        text = gzip.decompress(gz).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        yield f"not a gzip UTF-8 CSV file: {exc}"
        return

    def field(values: list[str], name: str) -> str:
        i = index.get(name)
        return values[i] if i is not None and i < len(values) else ""

    for number, values in enumerate(csv_rows(io.StringIO(text)), start=1):
        if isinstance(values, csv.Error):
            yield f"row {number}: unreadable ({values})"
            continue
        if len(values) < len(REQUIRED_COLUMNS):
            yield f"row {number}: {','.join(values)[:200]}"
            continue
        try:
            modified = field(values, "LastModifiedDate")
            size = field(values, "Size")
            yield InventoryRow(
                bucket=field(values, "Bucket"),
                key=decode_key(field(values, "Key")),
                version_id=field(values, "VersionId") or None,
                replication_status=field(values, "ReplicationStatus").upper() or None,
                last_modified=_utc(datetime.fromisoformat(modified)) if modified else None,
                size=int(size) if size.isdigit() else None,
                is_latest=field(values, "IsLatest").lower() != "false",
                is_delete_marker=field(values, "IsDeleteMarker").lower() == "true",
            )
        except (ValueError, OverflowError, MalformedEventError) as exc:
            yield f"row {number}: {exc}"


def _epoch_millis(text: str) -> datetime | None:
    """manifest.json's creationTimestamp ("the creation timestamp in the epoch date format", milliseconds
    as a string: https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html);
    None when it is absent or no time a datetime can hold ('²' is a digit to str.isdigit, and past
    year 9999 fromtimestamp fails)."""
    if not (text.isascii() and text.isdigit()):
        return None
    try:
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):  # int() past 4,300 digits: ValueError
        return None


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
