"""S3 Inventory deliveries for the embedded account, written on demand from its real state (moto stores
inventory configurations but never delivers a list).

:func:`deliver_inventory` does what S3 does on an inventory's schedule, for every enabled CSV
configuration of a bucket. AWS, "Locating your inventory list"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html):
- the manifest is ``destination-prefix/source-bucket/config-ID/YYYY-MM-DDTHH-MMZ/manifest.json`` (the
  time the scan began), with ``manifest.checksum`` (its MD5) beside it;
- the lists are ``destination-prefix/source-bucket/config-ID/data/<name>.csv.gz``;
- manifest.json names ``sourceBucket``, ``destinationBucket`` (ARN), ``version`` 2016-11-30,
  ``creationTimestamp`` (epoch milliseconds), ``fileFormat``, ``fileSchema`` and ``files[]`` with
  ``key``, ``size``, ``MD5checksum``; the CSV files have no header row.
AWS, "Amazon S3 Inventory" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html):
the fields are Bucket and Key (URL-encoded in CSV), VersionId, IsLatest and IsDeleteMarker for an
all-versions list, then the optional fields asked for; ReplicationStatus is PENDING, COMPLETED, FAILED,
REPLICA or empty. The list follows the configuration's Filter.Prefix.

Not emulated: ORC and Parquet lists (skipped), the Hive symlink.txt, SSE of the lists, and the values
of optional fields a version listing does not give (EncryptionStatus, ObjectLock*,
IntelligentTieringAccessTier, BucketKeyStatus, ChecksumAlgorithm, ObjectAccessControlList, ObjectOwner):
their columns are empty.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

#: The order S3 writes the optional fields in (the inventory page's list of fields).
OPTIONAL_FIELD_ORDER = (
    "Size",
    "LastModifiedDate",
    "ETag",
    "StorageClass",
    "IsMultipartUploaded",
    "ReplicationStatus",
    "EncryptionStatus",
    "ObjectLockRetainUntilDate",
    "ObjectLockMode",
    "ObjectLockLegalHoldStatus",
    "IntelligentTieringAccessTier",
    "BucketKeyStatus",
    "ChecksumAlgorithm",
    "ObjectAccessControlList",
    "ObjectOwner",
)
MANIFEST_VERSION = "2016-11-30"

#: (bucket, key, version id) -> the replication status S3 keeps for it (None: never replicated)
StatusOf = Callable[[str, str, str], "str | None"]


def deliver_inventory(
    s3: Any, bucket: str, *, replication_status: StatusOf, now: datetime | None = None
) -> list[str]:
    """Deliver the inventory lists of ``bucket`` as of ``now`` (default: the wall clock) for each of its
    enabled CSV inventory configurations; returns ``destination-bucket/key`` of each manifest.json."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    delivered = []
    for configuration in _configurations(s3, bucket):
        destination = configuration.get("Destination", {}).get("S3BucketDestination", {})
        if not configuration.get("IsEnabled") or destination.get("Format") != "CSV":
            continue
        delivered.append(
            _deliver(
                s3, bucket, configuration, destination, replication_status=replication_status, moment=moment
            )
        )
    return delivered


def _configurations(s3: Any, bucket: str) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {"Bucket": bucket}
    while True:
        page = s3.list_bucket_inventory_configurations(**params)
        yield from page.get("InventoryConfigurationList", [])
        if not page.get("IsTruncated"):
            return
        params["ContinuationToken"] = page["NextContinuationToken"]


def _deliver(
    s3: Any,
    bucket: str,
    configuration: dict[str, Any],
    destination: dict[str, Any],
    *,
    replication_status: StatusOf,
    moment: datetime,
) -> str:
    all_versions = configuration.get("IncludedObjectVersions") == "All"
    asked = set(configuration.get("OptionalFields") or [])
    columns = ["Bucket", "Key"]
    columns += ["VersionId", "IsLatest", "IsDeleteMarker"] if all_versions else []
    columns += [name for name in OPTIONAL_FIELD_ORDER if name in asked]
    prefix = str((configuration.get("Filter") or {}).get("Prefix") or "")

    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for entry in _entries(s3, bucket, prefix, all_versions):
        writer.writerow(_row(bucket, entry, columns, replication_status))
    data = gzip.compress(text.getvalue().encode("utf-8"))

    destination_bucket = str(destination["Bucket"]).rsplit(":", 1)[-1]
    base = "/".join(
        p for p in (str(destination.get("Prefix") or "").strip("/"), bucket, configuration["Id"]) if p
    )
    data_key = f"{base}/data/{uuid.uuid4()}.csv.gz"
    s3.put_object(Bucket=destination_bucket, Key=data_key, Body=data)
    manifest = {
        "sourceBucket": bucket,
        "destinationBucket": str(destination["Bucket"]),
        "version": MANIFEST_VERSION,
        "creationTimestamp": str(int(moment.timestamp() * 1000)),
        "fileFormat": "CSV",
        "fileSchema": ", ".join(columns),
        "files": [
            {
                "key": data_key,
                "size": len(data),
                "MD5checksum": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            }
        ],
    }
    body = json.dumps(manifest).encode()
    folder = f"{base}/{moment:%Y-%m-%dT%H-%MZ}"
    s3.put_object(Bucket=destination_bucket, Key=f"{folder}/manifest.json", Body=body)
    s3.put_object(
        Bucket=destination_bucket,
        Key=f"{folder}/manifest.checksum",
        Body=hashlib.md5(body, usedforsecurity=False).hexdigest(),
    )
    return f"{destination_bucket}/{folder}/manifest.json"


def _entries(s3: Any, bucket: str, prefix: str, all_versions: bool) -> Iterator[dict[str, Any]]:
    """Every version and delete marker under ``prefix`` (only current objects without ``all_versions``)."""
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = s3.list_object_versions(**params)
        entries = [{**v, "_marker": False} for v in page.get("Versions", [])]
        entries += [{**m, "_marker": True} for m in page.get("DeleteMarkers", [])]
        for entry in sorted(entries, key=lambda e: (e["Key"], not e.get("IsLatest"))):
            if all_versions or (entry.get("IsLatest") and not entry["_marker"]):
                yield entry
        if not page.get("IsTruncated"):
            return
        params["KeyMarker"] = page.get("NextKeyMarker")
        params["VersionIdMarker"] = page.get("NextVersionIdMarker")


def _row(bucket: str, entry: dict[str, Any], columns: list[str], replication_status: StatusOf) -> list[str]:
    key, marker = str(entry["Key"]), bool(entry["_marker"])
    version_id = str(entry.get("VersionId") or "null")
    modified = entry.get("LastModified")
    values = {
        "Bucket": bucket,
        "Key": quote_plus(key, safe="/"),  # "the key name is URL-encoded" in CSV lists
        # objects written while versioning was off have the null version: an empty VersionId
        "VersionId": "" if version_id == "null" else version_id,
        "IsLatest": str(bool(entry.get("IsLatest"))).lower(),
        "IsDeleteMarker": str(marker).lower(),
    }
    if not marker:
        values.update(
            {
                "Size": str(entry.get("Size", "")),
                "ETag": str(entry.get("ETag", "")).strip('"'),
                "StorageClass": str(entry.get("StorageClass") or "STANDARD"),
                "IsMultipartUploaded": str("-" in str(entry.get("ETag", ""))).lower(),
                "ReplicationStatus": replication_status(bucket, key, version_id) or "",
            }
        )
    if isinstance(modified, datetime):
        moment = modified.astimezone(UTC)
        values["LastModifiedDate"] = (
            moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        )
    return [values.get(name, "") for name in columns]
