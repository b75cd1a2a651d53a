"""s3control adapter: create and describe S3 Batch Replication jobs (the only s3control code).

Jobs are created in the source bucket's Region (aws-facts.md §3), so the adapter takes a factory
giving a client per Region. ClientError becomes AwsCallError / NotFoundError.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from replimend.errors import AwsCallError, NotFoundError
from replimend.remediation.manifest import MANIFEST_FIELDS, MANIFEST_FORMAT

if TYPE_CHECKING:
    from mypy_boto3_s3control import S3ControlClient

REPORT_FORMAT = "Report_CSV_20180820"


@dataclass(frozen=True, slots=True)
class ReplicationJobRequest:
    """Everything CreateJob needs for one manifest; stored verbatim so a retry resends it unchanged."""

    account_id: str
    region: str
    source_bucket: str
    destination_bucket: str
    manifest_bucket: str
    manifest_key: str
    manifest_etag: str  # unquoted
    object_count: int
    report_bucket: str
    report_prefix: str
    role_arn: str
    priority: int
    token: str
    description: str

    @property
    def manifest_arn(self) -> str:
        return f"arn:aws:s3:::{self.manifest_bucket}/{self.manifest_key}"

    def create_job_kwargs(self) -> dict[str, Any]:
        return {
            "AccountId": self.account_id,
            "ConfirmationRequired": False,  # API jobs otherwise wait Suspended for confirmation
            "Operation": {"S3ReplicateObject": {}},
            "Manifest": {
                "Spec": {"Format": MANIFEST_FORMAT, "Fields": list(MANIFEST_FIELDS)},
                "Location": {"ObjectArn": self.manifest_arn, "ETag": self.manifest_etag},
            },
            "Report": {
                "Enabled": True,
                "Bucket": f"arn:aws:s3:::{self.report_bucket}",
                "Prefix": self.report_prefix,
                "Format": REPORT_FORMAT,
                "ReportScope": "AllTasks",
            },
            "Priority": self.priority,
            "RoleArn": self.role_arn,
            "ClientRequestToken": self.token,
            "Description": self.description[:256],
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, document: str | bytes) -> ReplicationJobRequest:
        data = json.loads(document)
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class JobDescription:
    """What DescribeJob says about a job, reduced to what tracking uses."""

    job_id: str
    status: str
    total_tasks: int = 0
    tasks_succeeded: int = 0
    tasks_failed: int = 0
    failure_reasons: list[str] = field(default_factory=list)
    status_update_reason: str | None = None
    suspended_cause: str | None = None
    report_enabled: bool = False
    report_bucket: str | None = None  # bucket name
    report_prefix: str | None = None
    manifest_arn: str | None = None
    created_at: datetime | None = None
    terminated_at: datetime | None = None


class BatchJobs:
    """Create/describe Batch Replication jobs through s3control, one client per Region."""

    def __init__(self, client_for_region: Callable[[str], S3ControlClient], account_id: str) -> None:
        self._client_for_region = client_for_region
        self._account_id = account_id

    def create_replication_job(self, request: ReplicationJobRequest) -> str:
        """Start the job; the same token and request return the same JobId (AWS idempotency)."""
        client = self._client_for_region(request.region)
        try:
            response = client.create_job(**request.create_job_kwargs())
        except ClientError as exc:
            raise _aws_error("CreateJob", exc) from exc
        return response["JobId"]

    def describe_job(self, job_id: str, region: str) -> JobDescription:
        client = self._client_for_region(region)
        try:
            job: Any = client.describe_job(AccountId=self._account_id, JobId=job_id)["Job"]
        except ClientError as exc:
            if _code(exc) in {"NoSuchJob", "NotFoundException", "NotFound", "404"}:
                raise NotFoundError(f"batch job {job_id} not found in {region}") from exc
            raise _aws_error("DescribeJob", exc) from exc
        progress = job.get("ProgressSummary") or {}
        report = job.get("Report") or {}
        reasons = [
            ": ".join(part for part in (r.get("FailureCode"), r.get("FailureReason")) if part)
            for r in job.get("FailureReasons") or []
        ]
        bucket_arn = report.get("Bucket") or ""
        return JobDescription(
            job_id=job.get("JobId", job_id),
            status=job["Status"],
            total_tasks=int(progress.get("TotalNumberOfTasks") or 0),
            tasks_succeeded=int(progress.get("NumberOfTasksSucceeded") or 0),
            tasks_failed=int(progress.get("NumberOfTasksFailed") or 0),
            failure_reasons=[r for r in reasons if r],
            status_update_reason=job.get("StatusUpdateReason"),
            suspended_cause=job.get("SuspendedCause"),
            report_enabled=bool(report.get("Enabled")),
            report_bucket=bucket_arn.rsplit(":", 1)[-1] if bucket_arn else None,
            report_prefix=report.get("Prefix"),
            manifest_arn=((job.get("Manifest") or {}).get("Location") or {}).get("ObjectArn"),
            created_at=job.get("CreationTime"),
            terminated_at=job.get("TerminationDate"),
        )

    def list_job_ids(self, region: str, statuses: list[str] | None = None) -> Iterator[tuple[str, str]]:
        """(job id, status) of the account's jobs in a Region; botocore has no paginator for ListJobs."""
        client = self._client_for_region(region)
        kwargs: dict[str, Any] = {"AccountId": self._account_id, "MaxResults": 1000}
        if statuses:
            kwargs["JobStatuses"] = statuses
        while True:
            try:
                page: Any = client.list_jobs(**kwargs)
            except ClientError as exc:
                raise _aws_error("ListJobs", exc) from exc
            for job in page.get("Jobs", []):
                yield job["JobId"], job.get("Status", "")
            if not page.get("NextToken"):
                return
            kwargs["NextToken"] = page["NextToken"]


def s3control_client_factory() -> Callable[[str], S3ControlClient]:
    """One boto3 s3control client per Region, created on first use (thread-safe clients)."""
    import boto3

    @cache
    def client_for_region(region: str) -> S3ControlClient:
        return boto3.client("s3control", region_name=region)

    return client_for_region


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _aws_error(operation: str, exc: ClientError) -> AwsCallError:
    error = exc.response.get("Error", {})
    return AwsCallError(operation, str(error.get("Code", "Unknown")), str(error.get("Message", "")))
