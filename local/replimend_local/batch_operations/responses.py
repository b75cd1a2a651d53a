"""The Batch Operations API: the s3control job operations answered through botocore hooks, with
the request validation and response shapes of the service model."""

from __future__ import annotations

import base64
import copy
import json
import logging
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.model import Shape
from botocore.utils import parse_timestamp
from dateutil.tz import tzutc

from replimend_local import hooks
from replimend_local.batch_operations.manifests import (
    CSV_MANIFEST_FORMAT,
    GENERATED_MANIFEST_FORMAT,
    INVENTORY_MANIFEST_FORMATS,
    REPORT_FORMAT,
    is_valid_bucket_name,
)
from replimend_local.batch_operations.models import (
    MAX_PRIORITY,
    RETENTION,
    SERVICE_ID,
    TERMINAL,
    BatchOperationsBackend,
    _Job,
)
from replimend_local.s3_rules import bucket_from_arn, object_from_arn

logger = logging.getLogger(__name__)


# --- response shapes -----------------------------------------------------------------------------

_MODEL_LOCK = threading.Lock()
_MODEL: Any = None


def _service_model() -> Any:
    global _MODEL  # noqa: PLW0603 - the model is loaded once, lazily, and never changes
    with _MODEL_LOCK:
        if _MODEL is None:
            _MODEL = botocore.session.get_session().get_service_model("s3control")
        return _MODEL


def conform(value: Any, shape: Shape) -> Any:
    """``value`` as botocore's parser would return it for ``shape``: timestamps as UTC datetimes,
    integers as ints, None members dropped. A member the shape lacks is a bug: KeyError."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        result: dict[str, Any] = {}
        for name, item in value.items():
            if item is None:
                continue
            if name not in members:
                raise KeyError(f"{name} is not a member of {shape.name}")
            result[name] = conform(item, members[name])
        return result
    if kind == "list":
        return [conform(item, shape.member) for item in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {str(k): conform(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        moment = value if isinstance(value, datetime) else parse_timestamp(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(tzutc())
    if kind in ("integer", "long"):
        return int(value)
    if kind == "boolean":
        return bool(value)
    if kind in ("double", "float"):
        return float(value)
    return str(value)


def _output(operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
    shape = _service_model().operation_model(operation).output_shape
    return dict(conform(body, shape))


def _bad_request(message: str) -> hooks.EmulatedError:
    return hooks.EmulatedError("BadRequestException", message, 400)


# --- request validation --------------------------------------------------------------------------


def _validate_create_job(params: Mapping[str, Any]) -> None:
    """What the service rejects beyond botocore's model validation (which already ran)."""
    account_id = str(params.get("AccountId", ""))
    if not (len(account_id) == 12 and account_id.isdigit()):
        raise _bad_request(f"AccountId must be 12 digits, not {account_id!r}")
    has_manifest, has_generator = "Manifest" in params, "ManifestGenerator" in params
    if has_manifest == has_generator:
        raise _bad_request("Specify either Manifest or ManifestGenerator, exactly one of them")
    operation = params["Operation"]
    if list(operation) != ["S3ReplicateObject"]:
        names = ", ".join(operation) or "none"
        raise _bad_request(
            "Operation must name exactly one operation; this emulator implements S3ReplicateObject only "
            f"(got {names})"
        )
    priority = int(params["Priority"])
    if not 0 <= priority <= MAX_PRIORITY:
        raise _bad_request(f"Priority must be between 0 and {MAX_PRIORITY}, not {priority}")
    role_arn = str(params["RoleArn"])
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or not parts[5].startswith("role/"):
        raise _bad_request(f"RoleArn is not an IAM role ARN: {role_arn!r}")
    if has_manifest:
        _validate_manifest(params["Manifest"])
    else:
        _validate_generator(params["ManifestGenerator"])
    _validate_report(params["Report"])


def _validate_manifest(manifest: Mapping[str, Any]) -> None:
    spec, location = manifest["Spec"], manifest["Location"]
    if spec["Format"] == CSV_MANIFEST_FORMAT:
        fields = list(spec.get("Fields") or [])
        if "Bucket" not in fields or "Key" not in fields:
            raise _bad_request("Manifest Spec Fields must include Bucket and Key for a CSV manifest")
        named = [name for name in fields if name != "Ignore"]
        if len(set(named)) != len(named) or not set(named) <= {"Bucket", "Key", "VersionId"}:
            raise _bad_request(f"Manifest Spec Fields are not valid: {fields}")
    elif spec["Format"] not in INVENTORY_MANIFEST_FORMATS:
        raise _bad_request(f"Unsupported manifest format {spec['Format']}")
    try:
        bucket, _key = object_from_arn(location["ObjectArn"])
    except ValueError as error:
        raise _bad_request(f"Manifest Location ObjectArn: {error}") from None
    if not is_valid_bucket_name(bucket):
        raise _bad_request(f"Manifest Location ObjectArn names an invalid bucket {bucket!r}")


def _validate_generator(generator: Mapping[str, Any]) -> None:
    s3_generator = generator.get("S3JobManifestGenerator")
    if not s3_generator:
        raise _bad_request("ManifestGenerator must contain S3JobManifestGenerator")
    try:
        bucket_from_arn(s3_generator["SourceBucket"])
    except ValueError as error:
        raise _bad_request(f"S3JobManifestGenerator SourceBucket: {error}") from None
    output = s3_generator.get("ManifestOutputLocation")
    if s3_generator["EnableManifestOutput"] and not output:
        raise _bad_request("EnableManifestOutput requires ManifestOutputLocation")
    if output:
        try:
            bucket_from_arn(output["Bucket"])
        except ValueError as error:
            raise _bad_request(f"ManifestOutputLocation Bucket: {error}") from None
    if output and output.get("ManifestFormat") != GENERATED_MANIFEST_FORMAT:
        raise _bad_request(f"ManifestOutputLocation ManifestFormat must be {GENERATED_MANIFEST_FORMAT}")
    job_filter = s3_generator.get("Filter") or {}
    if len(job_filter.get("MatchAnyObjectEncryption") or []) > 1:
        raise _bad_request("MatchAnyObjectEncryption accepts one encryption type")
    statuses = set(job_filter.get("ObjectReplicationStatuses") or [])
    if not statuses <= {"COMPLETED", "FAILED", "REPLICA", "NONE"}:  # botocore does not check enums
        raise _bad_request(f"ObjectReplicationStatuses has unknown values: {sorted(statuses)}")


def _validate_report(report: Mapping[str, Any]) -> None:
    if not report["Enabled"]:
        return
    if "Bucket" not in report or "Format" not in report:
        raise _bad_request("An enabled Report requires Bucket and Format")
    if report["Format"] != REPORT_FORMAT:
        raise _bad_request(f"Report Format must be {REPORT_FORMAT}")
    if report.get("ReportScope", "AllTasks") not in ("AllTasks", "FailedTasksOnly"):
        raise _bad_request("Report ReportScope must be AllTasks or FailedTasksOnly")
    try:
        bucket_from_arn(report["Bucket"])
    except ValueError as error:
        raise _bad_request(f"Report Bucket: {error}") from None


# --- the emulator --------------------------------------------------------------------------------


class BatchOperationsEmulator(BatchOperationsBackend):
    """The emulated S3 Batch Operations service of one embedded AWS (all accounts and regions).

    ``replication``: the replication engine used for every task (default: one
    ``replimend_local.s3_replication.ReplicationEngine`` per job region). ``roles``: IAM decisions
    (default: :class:`IamEvalRoleAuthority` over the moto server). ``execution``: ``"manual"`` (jobs
    advance only through :meth:`process_jobs` / :meth:`advance`) or ``"sync"`` (a job runs to its end,
    or to ``Suspended``, inside the API call that created or confirmed it). ``tasks_per_step``: tasks
    run per ``Active`` step (None: all of them in one step). ``publish_events``: put job events on the
    moto server's default event bus; ``event_sinks``: callables that also receive each event.
    """

    def responders(self) -> dict[str, hooks.Responder]:
        """The s3control job operations, each answered from (api params, request context)."""
        return {
            "CreateJob": self._create_job,
            "DescribeJob": self._describe_job,
            "ListJobs": self._list_jobs,
            "UpdateJobStatus": self._update_job_status,
            "UpdateJobPriority": self._update_job_priority,
        }

    def handlers(self) -> list[hooks.Hook]:
        """The botocore hooks answering the s3control job operations (install with replimend_local.hooks)."""
        installed: list[hooks.Hook] = []
        for operation, responder in self.responders().items():
            installed.extend(hooks.emulated_operation(SERVICE_ID, operation, responder))
        return installed

    def _create_job(self, params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        region = str(context.get("client_region") or self.region)
        account_id = str(params["AccountId"])
        _validate_create_job(params)
        token = str(params["ClientRequestToken"])
        request = {
            name: copy.deepcopy(value) for name, value in params.items() if name != "ClientRequestToken"
        }
        fingerprint = json.dumps(request, sort_keys=True, default=str)
        with self._lock:
            existing_id = self._tokens.get((account_id, region, token))
            if existing_id is not None and existing_id in self._jobs:
                if self._jobs[existing_id].fingerprint != fingerprint:
                    raise hooks.EmulatedError(
                        "IdempotencyException",
                        f"ClientRequestToken {token} was already used for job {existing_id} with different "
                        "parameters",
                        400,
                    )
                return _output("CreateJob", {"JobId": existing_id})
            job = _Job(
                job_id=str(uuid.uuid4()),
                account_id=account_id,
                region=region,
                request=request,
                fingerprint=fingerprint,
                created=self._now(),
                sequence=len(self._jobs),
            )
            self._jobs[job.job_id] = job
            self._tokens[(account_id, region, token)] = job.job_id
            self._emit(job, "JobCreated")
            if self.execution == "sync":
                self.run_job(job.job_id)
            return _output("CreateJob", {"JobId": job.job_id})

    # -- API: DescribeJob / ListJobs ---------------------------------------------------------------

    def _find(self, params: Mapping[str, Any], context: Mapping[str, Any]) -> _Job:
        region = str(context.get("client_region") or self.region)
        job = self._jobs.get(str(params["JobId"]))
        if job is None or job.region != region or job.account_id != params["AccountId"] or self._expired(job):
            raise hooks.EmulatedError(
                "NotFoundException", f"The specified job does not exist: {params['JobId']}", 404
            )
        return job

    def _expired(self, job: _Job) -> bool:
        return job.termination_date is not None and self._now() - job.termination_date > RETENTION

    def _describe_job(self, params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return _output("DescribeJob", {"Job": self._descriptor(self._find(params, context))})

    def _progress(self, job: _Job) -> dict[str, Any]:
        elapsed = job.active_seconds
        if job.active_since is not None:
            elapsed += (self._now() - job.active_since).total_seconds()
        succeeded = len(job.results) - job.failed_count
        return {
            "TotalNumberOfTasks": job.total_tasks,
            "NumberOfTasksSucceeded": succeeded,
            "NumberOfTasksFailed": job.failed_count,
            "Timers": {"ElapsedTimeInActiveSeconds": int(elapsed)},
        }

    def _descriptor(self, job: _Job) -> dict[str, Any]:
        request = job.request
        return {
            "JobId": job.job_id,
            "ConfirmationRequired": job.confirmation_required,
            "Description": request.get("Description"),
            "JobArn": job.arn,
            "Status": job.status,
            "Manifest": request.get("Manifest"),
            "Operation": request["Operation"],
            "Priority": request["Priority"],
            "ProgressSummary": self._progress(job),
            "StatusUpdateReason": job.status_update_reason,
            "FailureReasons": list(job.failure_reasons) or None,
            "Report": request["Report"],
            "CreationTime": job.created,
            "TerminationDate": job.termination_date,
            "RoleArn": request["RoleArn"],
            "SuspendedDate": job.suspended_date,
            "SuspendedCause": job.suspended_cause,
            "ManifestGenerator": request.get("ManifestGenerator"),
            "GeneratedManifestDescriptor": job.generated_manifest,
        }

    def _list_jobs(self, params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        region = str(context.get("client_region") or self.region)
        statuses = set(params.get("JobStatuses") or [])
        limit = int(params.get("MaxResults") or 1000)
        before: int | None = None  # the creation sequence number the previous page ended at
        if params.get("NextToken"):
            try:
                before = int(base64.urlsafe_b64decode(str(params["NextToken"]).encode()).decode())
            except ValueError:
                raise hooks.EmulatedError(
                    "InvalidNextTokenException", "The NextToken is not valid", 400
                ) from None
        with self._lock:
            jobs = sorted(
                (
                    job
                    for job in self._jobs.values()
                    if job.region == region
                    and job.account_id == params["AccountId"]
                    and not self._expired(job)
                    and (not statuses or job.status in statuses)
                ),
                key=lambda job: job.sequence,
                reverse=True,  # newest first
            )
            if before is not None:
                jobs = [job for job in jobs if job.sequence < before]
            page, rest = jobs[:limit], jobs[limit:]
            body: dict[str, Any] = {
                "Jobs": [
                    {
                        "JobId": job.job_id,
                        "Description": job.request.get("Description"),
                        "Operation": next(iter(job.request["Operation"])),
                        "Priority": job.request["Priority"],
                        "Status": job.status,
                        "CreationTime": job.created,
                        "TerminationDate": job.termination_date,
                        "ProgressSummary": self._progress(job),
                    }
                    for job in page
                ]
            }
            if rest:
                last = page[-1]
                body["NextToken"] = base64.urlsafe_b64encode(str(last.sequence).encode()).decode()
            return _output("ListJobs", body)

    # -- API: UpdateJobStatus / UpdateJobPriority --------------------------------------------------

    def _update_job_status(self, params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        requested = str(params["RequestedJobStatus"])
        if requested not in ("Ready", "Cancelled"):  # botocore does not check enums
            raise _bad_request(f"RequestedJobStatus must be Ready or Cancelled, not {requested}")
        reason = params.get("StatusUpdateReason")
        with self._lock:
            job = self._find(params, context)
            if requested == "Ready":
                if job.status != "Suspended":
                    raise hooks.EmulatedError(
                        "JobStatusException",
                        f"Job {job.job_id} is {job.status}: only a Suspended job can be set to Ready",
                        400,
                    )
                job.status_update_reason = reason
                job.suspended_date = None
                job.suspended_cause = None
                self._set_status(job, "Ready", reasons=[reason] if reason else [])
            else:
                if job.status in TERMINAL or job.status in ("Cancelling", "Completing", "Failing"):
                    raise hooks.EmulatedError(
                        "JobStatusException", f"Job {job.job_id} is {job.status} and cannot be cancelled", 400
                    )
                job.status_update_reason = reason
                # Only a job that has started running tasks has anything to wind down.
                target = "Cancelling" if job.status == "Active" else "Cancelled"
                self._set_status(job, target, reasons=[reason] if reason else [])
            if self.execution == "sync":
                self.run_job(job.job_id)
            return _output(
                "UpdateJobStatus",
                {"JobId": job.job_id, "Status": job.status, "StatusUpdateReason": job.status_update_reason},
            )

    def _update_job_priority(self, params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        priority = int(params["Priority"])
        if not 0 <= priority <= MAX_PRIORITY:
            raise _bad_request(f"Priority must be between 0 and {MAX_PRIORITY}, not {priority}")
        with self._lock:
            job = self._find(params, context)
            job.request["Priority"] = priority
            return _output("UpdateJobPriority", {"JobId": job.job_id, "Priority": priority})

    # -- running jobs ------------------------------------------------------------------------------
