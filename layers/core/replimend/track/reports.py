"""S3 Batch Operations completion reports (aws-facts.md §4.2), parsed defensively.

``<prefix>/job-<jobId>/manifest.json`` lists result CSVs (``Results[].Key``). Rows have no header;
AWS's ReportSchema says ``Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode,
ResultMessage`` but its examples put the HTTP status before the error code, so the all-digit column
is taken as the HTTP status whichever side it is on. Keys are URL-encoded; messages may be quoted
and hold commas.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from replimend.errors import MalformedEventError
from replimend.manifest_csv import csv_rows, key_candidates

_REASON_CODE = re.compile(
    r"\b((?:Src|Dst)[A-Za-z]+|AssumeRoleNotPermitted|InitiateReplicationNotPermitted)\b"
)


def report_manifest_key(prefix: str, job_id: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/job-{job_id}/manifest.json" if prefix else f"job-{job_id}/manifest.json"


@dataclass(frozen=True, slots=True)
class ReportResultFile:
    bucket: str
    key: str
    task_status: str  # "succeeded" / "failed" as the report manifest says


def parse_report_manifest(document: str | bytes) -> list[ReportResultFile]:
    """The result files listed by a completion report's manifest.json."""
    try:
        data: Any = json.loads(document)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past the parser's stack
        raise MalformedEventError(f"completion report manifest is not JSON: {str(exc)[:200]}") from exc
    results = data.get("Results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise MalformedEventError("completion report manifest has no Results list")
    files = []
    for item in results:
        if isinstance(item, dict) and item.get("Bucket") and item.get("Key"):
            files.append(
                ReportResultFile(
                    bucket=str(item["Bucket"]),
                    key=str(item["Key"]),
                    task_status=str(item.get("TaskExecutionStatus", "")).lower(),
                )
            )
    return files


@dataclass(frozen=True, slots=True)
class TaskResult:
    """One task (object) of a completion report."""

    bucket: str
    key: str  # decoded (the likeliest reading of raw_key)
    version_id: str | None  # None when the row had no version
    succeeded: bool
    error_code: str | None
    http_status: int | None
    message: str
    raw_key: str = ""  # the key text as the report has it

    @property
    def key_candidates(self) -> list[str]:
        """The keys this row may name, most likely first (``manifest_csv.key_candidates``)."""
        return key_candidates(self.raw_key) if self.raw_key else [self.key]

    @property
    def failure_reason(self) -> str | None:
        """The replication failure reason of a failed task: a documented code when the row names one."""
        if self.succeeded:
            return None
        for text in (self.error_code or "", self.message):
            match = _REASON_CODE.search(text)
            if match:
                return match.group(1)
        return self.error_code or (f"HTTP{self.http_status}" if self.http_status else "UnknownTaskFailure")


def parse_report_rows(lines: Iterable[str]) -> Iterator[TaskResult | str]:
    """Task results of one result CSV; a row that cannot be read is yielded as its raw text."""
    for line_number, fields in enumerate(csv_rows(lines), start=1):
        if isinstance(fields, csv.Error):
            yield f"row {line_number}: unreadable ({fields})"
            continue
        try:
            result = _task_result(fields)
        except MalformedEventError as exc:
            yield f"row {line_number}: {exc}"
            continue
        yield result if result is not None else f"row {line_number}: {','.join(fields)[:300]}"


def _task_result(fields: list[str]) -> TaskResult | None:
    if len(fields) < 4:
        return None
    bucket, encoded_key, version, status = (f.strip() for f in fields[:4])
    status = status.lower()
    if status not in {"succeeded", "failed"} or not bucket or not encoded_key:
        return None
    rest = [f.strip() for f in fields[4:]]
    code_and_http = rest[:2]
    http_status: int | None = None
    error_code: str | None = None
    for value in code_and_http:
        # An HTTP status is three ASCII digits ('²'.isdigit() is true, and int() refuses 4,300+ digits).
        if value.isascii() and value.isdigit() and len(value) <= 3 and http_status is None:
            http_status = int(value)
        elif value and error_code is None:
            error_code = value
    # Unquoted commas in the message make extra columns: keep them as part of the message.
    message = ",".join(rest[2:])
    return TaskResult(
        bucket=bucket,
        key=key_candidates(encoded_key)[0],
        raw_key=encoded_key,
        version_id=version or None,
        succeeded=status == "succeeded",
        error_code=error_code,
        http_status=http_status,
        message=message,
    )
