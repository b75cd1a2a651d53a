"""Manifests and completion reports of the S3 Batch Operations emulator, in AWS's own formats.

* Reading a job's manifest: ``S3BatchOperations_CSV_20180820`` (CSV rows ``bucket,key[,versionId]``,
  keys URL-encoded, no header) and the inventory formats ``S3InventoryReport_CSV_20161130`` /
  ``S3InventoryReport_CSV_20211130`` (a ``manifest.json`` naming CSV data files, optionally gzipped).
* Writing a generated manifest (``S3InventoryReport_CSV_20211130``: ``manifest.json`` + a data file).
* Writing a completion report (``Report_CSV_20180820``: ``manifest.json`` + ``results/<sha1>.csv``).

The rules enforced while reading are the ones AWS documents for CreateJob (see
/work/shared/reference/aws-facts.md §3.3); a broken manifest fails the job during ``Preparing``.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote_plus

from botocore.exceptions import ClientError

from replimend_local.s3_rules import bucket_from_arn, object_from_arn

CSV_MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
INVENTORY_MANIFEST_FORMATS = ("S3InventoryReport_CSV_20161130", "S3InventoryReport_CSV_20211130")
GENERATED_MANIFEST_FORMAT = "S3InventoryReport_CSV_20211130"
REPORT_FORMAT = "Report_CSV_20180820"
REPORT_SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MISSING_OBJECT_CODES = {"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "404", "NotFound"}
_KMS_ENCRYPTIONS = {"aws:kms", "aws:kms:dsse"}


class ManifestError(Exception):
    """The manifest cannot be used: the job fails while preparing with this code and reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class ManifestEntry:
    """One task of a job: an object (version) named by the manifest."""

    bucket: str
    key: str
    version_id: str | None


@dataclass(frozen=True)
class TaskResult:
    """What one task did, as the completion report records it."""

    entry: ManifestEntry
    succeeded: bool
    http_status: int
    error_code: str
    message: str


def is_valid_bucket_name(name: str) -> bool:
    return bool(_BUCKET_NAME.match(name)) and ".." not in name


def encode_key(key: str) -> str:
    """A key as manifests and reports carry it: URL-encoded, ``/`` kept."""
    return quote(key, safe="/")


# --- reading -------------------------------------------------------------------------------------


def _fetch(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    try:
        return dict(s3.get_object(**kwargs))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        where = f"s3://{bucket}/{key}" + (f" (version {version_id})" if version_id else "")
        if code in _MISSING_OBJECT_CODES:
            raise ManifestError(
                "ManifestNotFound", f"Reading the manifest failed: {where} does not exist"
            ) from None
        if code == "InvalidRequest":  # SSE-C objects cannot be read without the customer key
            raise ManifestError(
                "ManifestEncryptionNotSupported",
                f"Reading the manifest failed: {where} is encrypted with a customer-provided key (SSE-C)",
            ) from None
        raise ManifestError(
            "ManifestReadFailed", f"Reading the manifest failed: {code} for {where}"
        ) from None


def read_manifest(s3: Any, manifest: dict[str, Any]) -> list[ManifestEntry]:
    """The tasks a job's ``Manifest`` (the CreateJob member) names, validated as AWS validates them."""
    spec = manifest["Spec"]
    location = manifest["Location"]
    bucket, key = object_from_arn(location["ObjectArn"])
    response = _fetch(s3, bucket, key, location.get("ObjectVersionId"))
    actual_etag = str(response.get("ETag", "")).strip('"')
    expected_etag = str(location.get("ETag", "")).strip('"')
    if actual_etag != expected_etag:
        raise ManifestError(
            "ManifestETagMismatch",
            f"Reading the manifest failed: the ETag given for the manifest ({expected_etag}) does not match "
            f"the ETag of s3://{bucket}/{key} ({actual_etag})",
        )
    body: bytes = response["Body"].read()
    if spec["Format"] == CSV_MANIFEST_FORMAT:
        encryption = response.get("ServerSideEncryption")
        if encryption in _KMS_ENCRYPTIONS or response.get("SSECustomerAlgorithm"):
            raise ManifestError(
                "ManifestEncryptionNotSupported",
                f"Reading the manifest failed: CSV manifests encrypted with {encryption or 'SSE-C'} are not "
                "supported; use SSE-S3",
            )
        entries = parse_csv_manifest(_decode(body), spec.get("Fields") or ["Bucket", "Key"])
    else:
        entries = _read_inventory_manifest(s3, body)
    return validate_entries(entries)


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(
            "InvalidManifest", "Reading the manifest failed: the manifest is not UTF-8"
        ) from None


def parse_csv_manifest(text: str, fields: Sequence[str]) -> list[ManifestEntry]:
    """Rows of a CSV manifest; ``fields`` is the spec's column list (Bucket, Key, VersionId, Ignore)."""
    if "Bucket" not in fields or "Key" not in fields:
        raise ManifestError("InvalidManifest", "Reading the manifest failed: Fields must name Bucket and Key")
    entries: list[ManifestEntry] = []
    for line_number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) > len(fields) or len(row) < fields.index("Key") + 1:
            raise ManifestError(
                "InvalidManifest",
                f"Reading the manifest failed: row {line_number} has {len(row)} columns, the spec names "
                f"{len(fields)} ({', '.join(fields)})",
            )
        values = dict(zip(fields, row, strict=False))
        entries.append(
            ManifestEntry(
                bucket=values["Bucket"],
                key=unquote_plus(values["Key"]),
                version_id=values.get("VersionId") or None,
            )
        )
    return entries


def _read_inventory_manifest(s3: Any, body: bytes) -> list[ManifestEntry]:
    try:
        document = json.loads(body)
        data_bucket = bucket_from_arn(document["destinationBucket"])
        schema = [column.strip() for column in document["fileSchema"].split(",")]
        files = [item["key"] for item in document["files"]]
    except (ValueError, KeyError, TypeError) as error:
        raise ManifestError(
            "InvalidManifest", f"Reading the manifest failed: not an inventory manifest.json ({error})"
        ) from None
    if document.get("fileFormat", "CSV") != "CSV":
        raise ManifestError(
            "InvalidManifest", "Reading the manifest failed: only CSV inventory files are supported"
        )
    fields = [column if column in ("Bucket", "Key", "VersionId") else "Ignore" for column in schema]
    entries: list[ManifestEntry] = []
    for data_key in files:
        raw: bytes = _fetch(s3, data_bucket, data_key)["Body"].read()
        if data_key.endswith(".gz"):
            raw = gzip.decompress(raw)
        entries.extend(parse_csv_manifest(_decode(raw), fields))
    return entries


def validate_entries(entries: list[ManifestEntry]) -> list[ManifestEntry]:
    """AWS's rules for a replication manifest: rows present, valid bucket names, one source bucket,
    and version ids on every row or on none."""
    if not entries:
        raise ManifestError("InvalidManifest", "Reading the manifest failed: the manifest lists no objects")
    for number, entry in enumerate(entries, start=1):
        if not is_valid_bucket_name(entry.bucket):
            raise ManifestError(
                "InvalidManifest",
                f"Reading the manifest failed: row {number} names {entry.bucket!r}, which is not a bucket "
                "name (a CSV manifest has no header row)",
            )
    buckets = {entry.bucket for entry in entries}
    if len(buckets) > 1:
        raise ManifestError(
            "InvalidManifest",
            "Reading the manifest failed: a replication manifest must name one source bucket, this one names "
            f"{', '.join(sorted(buckets))} (a CSV manifest has no header row)",
        )
    with_version = sum(1 for entry in entries if entry.version_id)
    if 0 < with_version < len(entries):
        raise ManifestError(
            "InvalidManifest",
            "Reading the manifest failed: either every row has a version ID or none does "
            f"({with_version} of {len(entries)} rows have one)",
        )
    return entries


# --- writing -------------------------------------------------------------------------------------


def _iso_millis(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _encryption_args(encryption: dict[str, Any] | None) -> dict[str, Any]:
    if encryption and "SSEKMS" in encryption:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": encryption["SSEKMS"]["KeyId"]}
    return {"ServerSideEncryption": "AES256"}


def write_generated_manifest(
    s3: Any,
    *,
    job_id: str,
    source_bucket: str,
    output_location: dict[str, Any],
    entries: Iterable[ManifestEntry],
    created: datetime,
) -> dict[str, Any]:
    """Store a generated manifest where ``ManifestOutputLocation`` says; returns the job's
    ``GeneratedManifestDescriptor``."""
    bucket = bucket_from_arn(output_location["Bucket"])
    prefix = str(output_location.get("ManifestPrefix") or "").strip("/")
    base = f"{prefix}/job-{job_id}" if prefix else f"job-{job_id}"
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for entry in entries:
        writer.writerow([entry.bucket, encode_key(entry.key), entry.version_id or ""])
    data = buffer.getvalue().encode()
    data_key = f"{base}/data/{uuid.uuid5(uuid.NAMESPACE_URL, base)}.csv"
    encryption = _encryption_args(output_location.get("ManifestEncryption"))
    s3.put_object(Bucket=bucket, Key=data_key, Body=data, **encryption)
    document = {
        "sourceBucket": source_bucket,
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "version": "2021-11-30",
        "creationTimestamp": str(int(created.timestamp() * 1000)),
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId",
        "files": [{"key": data_key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()}],  # noqa: S324
    }
    manifest_key = f"{base}/manifest.json"
    put = s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(document).encode(), **encryption)
    return {
        "Format": GENERATED_MANIFEST_FORMAT,
        "Location": {
            "ObjectArn": f"arn:aws:s3:::{bucket}/{manifest_key}",
            "ETag": str(put["ETag"]).strip('"'),
        },
    }


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def report_row(result: TaskResult) -> str:
    """One completion-report line as AWS writes it: the HTTP status comes before the error code
    (contrary to ReportSchema), failed tasks' messages are quoted."""
    entry = result.entry
    cells = [
        entry.bucket,
        encode_key(entry.key),
        entry.version_id or "",
        "succeeded" if result.succeeded else "failed",
        str(result.http_status),
        result.error_code,
    ]
    message = result.message if result.succeeded else _quoted(result.message)
    return ",".join([*cells, message])


def report_base(report: dict[str, Any], job_id: str) -> tuple[str, str]:
    """(bucket, key prefix ``<prefix>/job-<id>``) of a job's completion report."""
    bucket = bucket_from_arn(report["Bucket"])
    prefix = str(report.get("Prefix") or "").strip("/")
    return bucket, (f"{prefix}/job-{job_id}" if prefix else f"job-{job_id}")


def write_completion_report(
    s3: Any, *, job_id: str, report: dict[str, Any], results: Sequence[TaskResult], created: datetime
) -> str:
    """Store the completion report (``manifest.json`` + one results CSV per task status); returns the
    key of ``manifest.json``. Raises ClientError when the report bucket refuses the write."""
    bucket, base = report_base(report, job_id)
    failed_only = report.get("ReportScope") == "FailedTasksOnly"
    groups = {
        "succeeded": [r for r in results if r.succeeded],
        "failed": [r for r in results if not r.succeeded],
    }
    entries: list[dict[str, str]] = []
    for status, rows in groups.items():
        if not rows or (failed_only and status == "succeeded"):
            continue
        data = ("\n".join(report_row(row) for row in rows) + "\n").encode()
        name = hashlib.sha1(f"{job_id}/{status}".encode()).hexdigest()  # noqa: S324 - a file name, not security
        key = f"{base}/results/{name}.csv"
        s3.put_object(Bucket=bucket, Key=key, Body=data, ServerSideEncryption="AES256")
        entries.append(
            {
                "TaskExecutionStatus": status,
                "Bucket": bucket,
                "MD5Checksum": hashlib.md5(data).hexdigest(),  # noqa: S324 - S3's own checksum format
                "Key": key,
            }
        )
    document = {
        "Format": REPORT_FORMAT,
        "ReportCreationDate": _iso_millis(created),
        "Results": entries,
        "ReportSchema": REPORT_SCHEMA,
    }
    manifest_key = f"{base}/manifest.json"
    s3.put_object(
        Bucket=bucket, Key=manifest_key, Body=json.dumps(document).encode(), ServerSideEncryption="AES256"
    )
    return manifest_key
