"""s3control adapter: create, describe and list S3 Batch Replication jobs (the only s3control code).

``BatchJobs`` is the ``JobStarter``, ``BackfillJobStarter`` and ``JobDescriber`` of
``replimend.ports``. Jobs are created in the source bucket's Region (aws-facts.md §3), so the
adapter takes a factory giving a client per Region. ClientError goes through ``aws.errors``; a
missing job (NotFoundException, or NoSuchJobException as the troubleshooting page calls it) is
NotFoundError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from replimend.aws.errors import error_code, translate_client_error
from replimend.errors import NotFoundError
from replimend.manifest_csv import MANIFEST_FIELDS, MANIFEST_FORMAT
from replimend.models import TERMINAL_JOB_STATUSES, JobStatus
from replimend.ports import BackfillJobRequest, JobDescription, ListedJob, ReplicationJobRequest

if TYPE_CHECKING:
    from mypy_boto3_s3control import S3ControlClient

REPORT_FORMAT = "Report_CSV_20180820"
#: The only ManifestFormat of S3ManifestOutputLocation (botocore s3control model).
GENERATED_MANIFEST_FORMAT = "S3InventoryReport_CSV_20211130"
#: ListJobs' JobStatuses filter for jobs that have not ended (botocore JobStatus enum).
ACTIVE_JOB_STATUSES = [str(s) for s in JobStatus if s not in TERMINAL_JOB_STATUSES]


def _report(bucket_arn: str, prefix: str) -> dict[str, Any]:
    return {
        "Enabled": True,
        "Bucket": bucket_arn,
        "Prefix": prefix,
        "Format": REPORT_FORMAT,
        "ReportScope": "AllTasks",
    }


def create_job_kwargs(request: ReplicationJobRequest) -> dict[str, Any]:
    """CreateJob's parameters for a request: one S3ReplicateObject job over our CSV manifest."""
    return {
        "AccountId": request.account_id,
        "ConfirmationRequired": False,  # API jobs otherwise wait Suspended for confirmation
        "Operation": {"S3ReplicateObject": {}},
        "Manifest": {
            "Spec": {"Format": MANIFEST_FORMAT, "Fields": list(MANIFEST_FIELDS)},
            "Location": {"ObjectArn": request.manifest_arn, "ETag": request.manifest_etag},
        },
        "Report": _report(request.report_bucket_arn, request.report_prefix),
        "Priority": request.priority,
        "RoleArn": request.role_arn,
        "ClientRequestToken": request.token,
        "Description": request.description[:256],
    }


def backfill_job_kwargs(request: BackfillJobRequest) -> dict[str, Any]:
    """CreateJob's parameters for a backfill: S3ReplicateObject over a manifest S3 generates.

    "Batch Replication job with a generated manifest" (S3 user guide, s3-batch-replication-batch):
    the generated manifest must be stored in the source bucket's Region (the manifest bucket is
    replimend's, in the stack's Region: the job runs there, see ``Backfill``), and it lists every
    eligible version of the rules' prefixes and tags, narrowed by ``Filter``.
    """
    return {
        "AccountId": request.account_id,
        "ConfirmationRequired": False,
        "Operation": {"S3ReplicateObject": {}},
        "ManifestGenerator": {
            "S3JobManifestGenerator": {
                "ExpectedBucketOwner": request.account_id,
                "SourceBucket": request.arn(request.source_bucket),
                "EnableManifestOutput": True,
                "ManifestOutputLocation": {
                    "ExpectedManifestBucketOwner": request.account_id,
                    "Bucket": request.arn(request.manifest_bucket),
                    "ManifestPrefix": request.manifest_prefix,
                    "ManifestFormat": GENERATED_MANIFEST_FORMAT,
                },
                "Filter": request.filter,
            }
        },
        "Report": _report(request.arn(request.report_bucket), request.report_prefix),
        "Priority": request.priority,
        "RoleArn": request.role_arn,
        "ClientRequestToken": request.token,
        "Description": request.description[:256],
    }


class BatchJobs:
    """Create/describe Batch Replication jobs through s3control, one client per Region."""

    def __init__(self, client_for_region: Callable[[str], S3ControlClient], account_id: str) -> None:
        self._client_for_region = client_for_region
        self._account_id = account_id

    def create_replication_job(self, request: ReplicationJobRequest) -> str:
        """Start the job; the same token and request return the same JobId (AWS idempotency)."""
        return self._create_job(request.region, create_job_kwargs(request))

    def create_backfill_job(self, request: BackfillJobRequest) -> str:
        return self._create_job(request.region, backfill_job_kwargs(request))

    def _create_job(self, region: str, kwargs: dict[str, Any]) -> str:
        try:
            response = self._client_for_region(region).create_job(**kwargs)
        except ClientError as exc:
            raise translate_client_error(exc, "CreateJob") from exc
        return str(response["JobId"])

    def list_active_jobs(self, region: str) -> list[ListedJob]:
        return [
            ListedJob(
                job_id=str(job["JobId"]),
                status=str(job.get("Status", "")),
                description=str(job.get("Description", "")),
                operation=job.get("Operation"),
            )
            for job in self._list_jobs(region, statuses=ACTIVE_JOB_STATUSES)
        ]

    def describe_job(self, job_id: str, region: str) -> JobDescription:
        client = self._client_for_region(region)
        try:
            job: Any = client.describe_job(AccountId=self._account_id, JobId=job_id)["Job"]
        except ClientError as exc:
            error = translate_client_error(exc, "DescribeJob")
            if isinstance(error, NotFoundError):
                error = NotFoundError(f"batch job {job_id} not found in {region} ({error_code(exc)})")
            raise error from exc
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

    def find_job(self, region: str, tag: str) -> str | None:
        """The newest job of the account in ``region`` whose Description holds ``tag``."""
        found = [
            (str(job.get("CreationTime", "")), str(job["JobId"]))
            for job in self._list_jobs(region)
            if tag in str(job.get("Description", ""))
        ]
        return max(found)[1] if found else None

    def _list_jobs(self, region: str, statuses: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every JobListDescriptor, page by page: botocore has no paginator for ListJobs."""
        client = self._client_for_region(region)
        kwargs: dict[str, Any] = {"AccountId": self._account_id, "MaxResults": 1000}
        if statuses:
            kwargs["JobStatuses"] = statuses
        while True:
            try:
                page: Any = client.list_jobs(**kwargs)
            except ClientError as exc:
                raise translate_client_error(exc, "ListJobs") from exc
            yield from page.get("Jobs", [])
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
