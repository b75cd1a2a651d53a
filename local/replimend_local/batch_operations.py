"""S3 Batch Operations emulator: s3control CreateJob / DescribeJob / ListJobs / UpdateJobStatus /
UpdateJobPriority for the ``S3ReplicateObject`` operation (S3 Batch Replication).

moto does not implement these operations, so :class:`BatchOperationsEmulator` answers them through botocore
event hooks (:mod:`replimend_local.hooks`): production code calls ``boto3.client("s3control")``
exactly as in AWS, botocore validates the request against the real service model, and the emulator
replies with the response AWS would send, or the modelled error (``BadRequestException``,
``IdempotencyException``, ``NotFoundException``, ``JobStatusException``, ...). s3control never reaches
the moto server, so the account-id host prefix does not matter.

Everything a job does is decided from the emulated account's real state on the moto server: the
manifest object and its ETag, the job role's trust and permission policies (:mod:`iam_eval`), the
source bucket's replication configuration and region, and, per task, the replication engine's
verdict for every destination. Completion reports and generated manifests are written to the moto
server in AWS's formats (:mod:`batch_manifests`); ``JobCreated`` / ``JobStatusChanged`` events go to
the default EventBridge bus of the job's region in the CloudTrail-delivered shape, and to any
registered sink.

Jobs advance deterministically, when asked to (``execution="manual"``, the default):
:meth:`BatchOperationsEmulator.process_jobs` (alias ``run_pending``) moves every runnable job forward,
:meth:`advance` moves one job one status. ``execution="sync"`` runs a job to its end (or to
``Suspended``) inside CreateJob / UpdateJobStatus; :meth:`start_background` advances jobs from a
daemon thread every ``interval`` seconds.

What CreateJob rejects (BadRequestException): both or neither of Manifest and ManifestGenerator, an
operation other than S3ReplicateObject, Priority above 2147483647, a RoleArn that is not a role ARN,
malformed ARNs, CSV Fields without Bucket and Key, enum values botocore does not check; a reused
ClientRequestToken with other parameters is an IdempotencyException (the same parameters return the
same JobId). What fails a job while ``Preparing`` (FailureReasons codes are this emulator's own, the
reasons quote AWS's documented wording where there is one): AssumeRoleNotPermitted (role missing or
not trusting batchoperations.s3.amazonaws.com), ReportNotWritable ("The job report could not be
written to your report bucket"), ManifestAccessDenied, ManifestNotFound, ManifestETagMismatch,
ManifestEncryptionNotSupported (SSE-KMS / SSE-C CSV manifest), InvalidManifest (header row, invalid
or several buckets, rows with and without version ids, empty), SrcBucketReplicationConfigMissing and
NoKeysMatchingFilter ("Manifest generation found no keys matching the filter criteria") for
generated manifests. Each task: InitiateReplicationNotPermitted (job role), SrcBucketNotFound,
SrcBucketInvalidRegion, SrcBucketReplicationConfigMissing, then the replication engine's outcome
per destination (the task fails with the first failed destination's reason). Once at least 1,000
tasks ran and more than half failed, the job goes Failing -> Failed (TaskFailureThresholdExceeded)
without running the rest.

Not emulated: operations other than S3ReplicateObject; Pausing/Paused (S3 pauses lower-priority
jobs under load); ExpectedBucketOwner checks; job tags; the 90-day listing window is applied
(jobs vanish 90 days after they end) but nothing else ages; ``ConfirmationRequired`` left out is
treated as True, as the CLI documents for API-created jobs.

Usage::

    batch = BatchOperationsEmulator(endpoint_url, region="us-east-1", account_id="123456789012")
    hooks.install_global(batch.handlers())   # or hooks.install(session, batch.handlers())
    ...  # production code calls s3control.create_job(...)
    batch.process_jobs()                     # New -> Preparing -> Ready -> Active -> ... -> Complete
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import Shape
from botocore.utils import parse_timestamp
from dateutil.tz import tzutc

from replimend_local import hooks
from replimend_local.batch_generator import GenerationError, ManifestGenerator
from replimend_local.batch_manifests import (
    CSV_MANIFEST_FORMAT,
    GENERATED_MANIFEST_FORMAT,
    INVENTORY_MANIFEST_FORMATS,
    REPORT_FORMAT,
    ManifestEntry,
    ManifestError,
    TaskResult,
    is_valid_bucket_name,
    read_manifest,
    report_base,
    write_completion_report,
    write_generated_manifest,
)
from replimend_local.s3_rules import bucket_from_arn, object_from_arn

logger = logging.getLogger(__name__)

SERVICE_ID = "s3-control"
BATCH_PRINCIPAL = "batchoperations.s3.amazonaws.com"
FAILURE_THRESHOLD_MIN_TASKS = 1000
FAILURE_THRESHOLD_RATIO = 0.5
RETENTION = timedelta(days=90)
MAX_PRIORITY = 2_147_483_647

TERMINAL = frozenset({"Complete", "Failed", "Cancelled"})
RUNNABLE = frozenset({"New", "Preparing", "Ready", "Active", "Completing", "Failing", "Cancelling"})

Execution = Literal["manual", "sync"]
EventSink = Callable[[dict[str, Any]], None]


# --- ports ---------------------------------------------------------------------------------------


class ReplicationOutcomeLike(Protocol):
    @property
    def destination_bucket(self) -> str: ...
    @property
    def rule_id(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def failure_reason(self) -> str | None: ...


class ReplicationEnginePort(Protocol):
    """What the emulator needs of the replication engine (replimend_local.replication_engine)."""

    def replicate_version(
        self, source_bucket: str, key: str, version_id: str, *, trigger: Literal["live", "batch"] = ...
    ) -> Sequence[ReplicationOutcomeLike]: ...

    def replication_status(self, bucket: str, key: str, version_id: str) -> str | None: ...


class RoleAuthority(Protocol):
    """What the emulator needs of IAM: whether a service may assume a role, and what the role may do."""

    def assume_role_problem(self, role_arn: str, service_principal: str) -> str | None:
        """None when ``service_principal`` can assume ``role_arn``; otherwise why it cannot."""
        ...

    def is_allowed(self, role_arn: str, action: str, resource: str) -> bool: ...


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


# --- jobs ----------------------------------------------------------------------------------------


@dataclass
class _Job:
    job_id: str
    account_id: str
    region: str
    request: dict[str, Any]
    fingerprint: str
    created: datetime
    sequence: int
    status: str = "New"
    status_update_reason: str | None = None
    failure_reasons: list[dict[str, str]] = field(default_factory=list)
    termination_date: datetime | None = None
    suspended_date: datetime | None = None
    suspended_cause: str | None = None
    tasks: list[ManifestEntry] | None = None
    results: list[TaskResult] = field(default_factory=list)
    failed_count: int = 0
    generated_manifest: dict[str, Any] | None = None
    active_seconds: float = 0.0
    active_since: datetime | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:{self.region}:{self.account_id}:job/{self.job_id}"

    @property
    def role_arn(self) -> str:
        return str(self.request["RoleArn"])

    @property
    def confirmation_required(self) -> bool:
        # The CLI/API leave jobs Suspended unless confirmation is explicitly switched off.
        return bool(self.request.get("ConfirmationRequired", True))

    @property
    def total_tasks(self) -> int:
        return len(self.tasks) if self.tasks is not None else 0


@dataclass
class _BucketFacts:
    exists: bool
    region: str | None = None
    has_replication_config: bool = False


class _TaskRun:
    """Per-step caches: bucket facts do not change while one step of one job runs."""

    def __init__(self, s3: Any, roles: RoleAuthority) -> None:
        self._s3 = s3
        self.roles = roles
        self._buckets: dict[str, _BucketFacts] = {}
        self._latest: dict[str, str | None] = {}

    def bucket(self, name: str) -> _BucketFacts:
        if name not in self._buckets:
            self._buckets[name] = self._load(name)
        return self._buckets[name]

    def _load(self, name: str) -> _BucketFacts:
        try:
            location = self._s3.get_bucket_location(Bucket=name).get("LocationConstraint")
        except ClientError as error:
            if _error_code(error) in ("NoSuchBucket", "404"):
                return _BucketFacts(exists=False)
            raise
        region = location or "us-east-1"
        if region == "EU":
            region = "eu-west-1"
        try:
            self._s3.get_bucket_replication(Bucket=name)
            has_config = True
        except ClientError as error:
            if _error_code(error) != "ReplicationConfigurationNotFoundError":
                raise
            has_config = False
        return _BucketFacts(exists=True, region=region, has_replication_config=has_config)

    def latest_version(self, bucket: str, key: str) -> str | None:
        """The current version id of ``key`` (manifests without version ids mean the latest)."""
        cache_key = f"{bucket}/{key}"
        if cache_key not in self._latest:
            try:
                head = self._s3.head_object(Bucket=bucket, Key=key)
                self._latest[cache_key] = head.get("VersionId") or "null"
            except ClientError:
                self._latest[cache_key] = None
        return self._latest[cache_key]


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


_TASK_HTTP_STATUS = {
    "SrcBucketNotFound": 404,
    "SrcKeyNotFound": 404,
    "SrcObjectNotFound": 404,
    "SrcVersionNotFound": 404,
    "DstBucketNotFound": 404,
    "DstKmsKeyNotFound": 404,
    "DstVersionNotFound": 404,
}


_SOURCE_FAILURES = {
    "SrcBucketNotFound": "The source bucket {bucket} does not exist",
    "SrcBucketReplicationConfigMissing": "The source bucket {bucket} has no replication configuration",
    "SrcKeyNotFound": "The key {key} no longer exists in {bucket}",
    "SrcVersionNotFound": "The version {version} of {key} no longer exists in {bucket}",
    "SrcObjectNotEligible": "The object {key} matches no enabled replication rule of {bucket}",
}


def _outcome_message(entry: ManifestEntry, outcome: ReplicationOutcomeLike) -> str:
    code = outcome.failure_reason or outcome.status
    if not outcome.destination_bucket:
        template = _SOURCE_FAILURES.get(code, "Replication of {key} failed: {code}")
        return template.format(bucket=entry.bucket, key=entry.key, version=entry.version_id, code=code)
    return f"Replication to {outcome.destination_bucket} (rule {outcome.rule_id}) failed: {code}"


def _task_http_status(code: str) -> int:
    if code in _TASK_HTTP_STATUS:
        return _TASK_HTTP_STATUS[code]
    return 403 if code.endswith("NotPermitted") else 400


_SESSIONS_LOCK = threading.Lock()
_SESSIONS: dict[str, Any] = {}


def _plain_client(service: str, region: str, endpoint_url: str, config: Config) -> Any:
    """A client of an un-hooked session per region, shared between emulators: its loader keeps the
    parsed service models, which take a good part of a second to load for every new session.
    Sessions are not safe for concurrent client creation, hence the lock."""
    with _SESSIONS_LOCK:
        if region not in _SESSIONS:
            _SESSIONS[region] = hooks.plain_session(region)
        return _SESSIONS[region].client(service, endpoint_url=endpoint_url, config=config)


# --- the emulator --------------------------------------------------------------------------------


class BatchOperationsEmulator:
    """The emulated S3 Batch Operations service of one embedded AWS (all accounts and regions).

    ``replication``: the replication engine used for every task (default: one
    ``replimend_local.replication_engine.ReplicationEngine`` per job region). ``roles``: IAM decisions
    (default: :class:`IamEvalRoleAuthority` over the moto server). ``execution``: ``"manual"`` (jobs
    advance only through :meth:`process_jobs` / :meth:`advance`) or ``"sync"`` (a job runs to its end,
    or to ``Suspended``, inside the API call that created or confirmed it). ``tasks_per_step``: tasks
    run per ``Active`` step (None: all of them in one step). ``publish_events``: put job events on the
    moto server's default event bus; ``event_sinks``: callables that also receive each event.
    """

    def __init__(
        self,
        endpoint_url: str,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        *,
        replication: ReplicationEnginePort | None = None,
        roles: RoleAuthority | None = None,
        execution: Execution = "manual",
        tasks_per_step: int | None = None,
        publish_events: bool = True,
        event_sinks: Iterable[EventSink] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if execution not in ("manual", "sync"):
            raise ValueError(f"execution must be 'manual' or 'sync', not {execution!r}")
        if tasks_per_step is not None and tasks_per_step < 1:
            raise ValueError("tasks_per_step must be at least 1")
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self.execution: Execution = execution
        self.tasks_per_step = tasks_per_step
        self.publish_events = publish_events
        self._event_sinks: list[EventSink] = list(event_sinks)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._engine = replication
        self._engines: dict[str, ReplicationEnginePort] = {}
        self._roles = roles
        self._jobs: dict[str, _Job] = {}
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._lock = threading.RLock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._background: threading.Thread | None = None
        self._stop = threading.Event()

    # -- wiring ------------------------------------------------------------------------------------

    def handlers(self) -> list[hooks.Hook]:
        """The botocore hooks answering the s3control job operations (install with replimend_local.hooks)."""
        responders = {
            "CreateJob": self._create_job,
            "DescribeJob": self._describe_job,
            "ListJobs": self._list_jobs,
            "UpdateJobStatus": self._update_job_status,
            "UpdateJobPriority": self._update_job_priority,
        }
        installed: list[hooks.Hook] = []
        for operation, responder in responders.items():
            installed.extend(hooks.emulated_operation(SERVICE_ID, operation, responder))
        return installed

    def add_event_sink(self, sink: EventSink) -> None:
        """``sink(event)`` receives every job event as EventBridge would deliver it."""
        with self._lock:
            self._event_sinks.append(sink)

    def _client(self, service: str, region: str) -> Any:
        with self._lock:
            if (service, region) not in self._clients:
                config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2})
                self._clients[(service, region)] = _plain_client(service, region, self.endpoint_url, config)
            return self._clients[(service, region)]

    def _engine_for(self, region: str) -> ReplicationEnginePort:
        if self._engine is not None:
            return self._engine
        with self._lock:
            if region not in self._engines:
                from replimend_local.replication_engine import ReplicationEngine

                self._engines[region] = ReplicationEngine(
                    self.endpoint_url, region, account_id=self.account_id
                )
            return self._engines[region]

    def _role_authority(self) -> RoleAuthority:
        """IAM decisions for one job step: role policies are read once per step when the authority
        can cache them (IAM changes made between steps are seen)."""
        with self._lock:
            if self._roles is None:
                from replimend_local.iam_eval import IamEvaluator

                self._roles = IamEvalRoleAuthority(
                    IamEvaluator(self._client("iam", self.region)), self.account_id
                )
            cached = getattr(self._roles, "cached", None)
            return cached() if callable(cached) else self._roles

    # -- API: CreateJob ----------------------------------------------------------------------------

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

    def _now(self) -> datetime:
        return self._clock()

    def job_ids(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def status(self, job_id: str) -> str:
        with self._lock:
            return self._jobs[job_id].status

    def _runnable(self) -> list[_Job]:
        jobs = [job for job in self._jobs.values() if job.status in RUNNABLE]
        return sorted(jobs, key=lambda job: (-int(job.request["Priority"]), job.sequence))

    def process_jobs(self, max_steps: int | None = None) -> int:
        """Advance runnable jobs (highest priority first) until none can move or ``max_steps`` status
        steps were taken; returns the number of steps. Suspended jobs wait for UpdateJobStatus(Ready)."""
        steps = 0
        with self._lock:
            while max_steps is None or steps < max_steps:
                runnable = self._runnable()
                if not runnable:
                    break
                self._step(runnable[0])
                steps += 1
        return steps

    run_pending = process_jobs

    def advance(self, job_id: str) -> str:
        """One step of one job (a status change, or one batch of tasks while Active); the new status."""
        with self._lock:
            job = self._jobs[job_id]
            if job.status in RUNNABLE:
                self._step(job)
            return job.status

    def run_job(self, job_id: str) -> str:
        """Advance one job until it is terminal or Suspended; its final status."""
        with self._lock:
            job = self._jobs[job_id]
            while job.status in RUNNABLE:
                self._step(job)
            return job.status

    def start_background(self, interval: float = 0.2) -> None:
        """Advance jobs from a daemon thread, one step every ``interval`` seconds."""
        if self._background is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.process_jobs(max_steps=1)
                except Exception:
                    logger.exception("batch operations background step failed")

        self._background = threading.Thread(target=loop, name="batch-operations", daemon=True)
        self._background.start()

    def stop_background(self) -> None:
        self._stop.set()
        if self._background is not None:
            self._background.join(timeout=10)
            self._background = None

    def _step(self, job: _Job) -> None:
        handlers: dict[str, Callable[[_Job], None]] = {
            "New": lambda j: self._set_status(j, "Preparing"),
            "Preparing": self._prepare,
            "Ready": self._activate,
            "Active": self._run_tasks,
            "Completing": lambda j: self._finish(j, "Complete"),
            "Failing": lambda j: self._finish(j, "Failed"),
            "Cancelling": lambda j: self._finish(j, "Cancelled"),
        }
        handlers[job.status](job)

    def _set_status(self, job: _Job, status: str, *, reasons: Sequence[str] = ()) -> None:
        now = self._now()
        if job.active_since is not None and status != "Active":
            job.active_seconds += (now - job.active_since).total_seconds()
            job.active_since = None
        if status == "Active":
            job.active_since = now
        if status in TERMINAL:
            job.termination_date = now
        job.status = status
        self._emit(job, "JobStatusChanged", reasons=reasons)

    def _fail(self, job: _Job, code: str, reason: str, *, via_failing: bool) -> None:
        job.failure_reasons.append({"FailureCode": code, "FailureReason": reason})
        self._set_status(job, "Failing" if via_failing else "Failed", reasons=[reason])

    def _prepare(self, job: _Job) -> None:
        region = job.region
        s3 = self._client("s3", region)
        roles = self._role_authority()
        problem = roles.assume_role_problem(job.role_arn, BATCH_PRINCIPAL)
        if problem is not None:
            self._fail(
                job,
                "AssumeRoleNotPermitted",
                f"Amazon S3 Batch Operations cannot assume the job role {job.role_arn}: {problem}",
                via_failing=False,
            )
            return
        report = job.request["Report"]
        if report.get("Enabled"):
            why = self._report_unwritable(job, s3, roles)
            if why is not None:
                self._fail(
                    job,
                    "ReportNotWritable",
                    f"The job report could not be written to your report bucket: {why}",
                    via_failing=False,
                )
                return
        try:
            job.tasks = self._manifest_entries(job, s3, roles)
        except (ManifestError, GenerationError) as error:
            self._fail(job, error.code, error.reason, via_failing=False)
            return
        if job.confirmation_required:
            job.suspended_date = self._now()
            job.suspended_cause = "AwaitingConfirmation"
            self._set_status(job, "Suspended")
        else:
            self._set_status(job, "Ready")

    def _report_unwritable(self, job: _Job, s3: Any, roles: RoleAuthority) -> str | None:
        bucket, base = report_base(job.request["Report"], job.job_id)
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as error:
            return f"the bucket {bucket} does not exist ({_error_code(error)})"
        resource = f"arn:aws:s3:::{bucket}/{base}/manifest.json"
        if not roles.is_allowed(job.role_arn, "s3:PutObject", resource):
            return f"the job role {job.role_arn} is not allowed s3:PutObject on {resource}"
        return None

    def _manifest_entries(self, job: _Job, s3: Any, roles: RoleAuthority) -> list[ManifestEntry]:
        if "Manifest" in job.request:
            manifest = job.request["Manifest"]
            bucket, key = object_from_arn(manifest["Location"]["ObjectArn"])
            actions = ["s3:GetObject"]
            if manifest["Location"].get("ObjectVersionId"):
                actions.append("s3:GetObjectVersion")
            for action in actions:
                if not roles.is_allowed(job.role_arn, action, f"arn:aws:s3:::{bucket}/{key}"):
                    raise ManifestError(
                        "ManifestAccessDenied",
                        f"Reading the manifest is forbidden: the job role {job.role_arn} is not allowed "
                        f"{action} on arn:aws:s3:::{bucket}/{key}",
                    )
            return read_manifest(s3, manifest)
        generator = job.request["ManifestGenerator"]["S3JobManifestGenerator"]
        source_bucket = bucket_from_arn(generator["SourceBucket"])
        if not roles.is_allowed(
            job.role_arn, "s3:GetReplicationConfiguration", f"arn:aws:s3:::{source_bucket}"
        ):
            raise GenerationError(
                "ManifestGenerationNotPermitted",
                f"The job role {job.role_arn} is not allowed s3:GetReplicationConfiguration on "
                f"arn:aws:s3:::{source_bucket}",
            )
        engine = self._engine_for(job.region)
        # The engine keeps replication configurations as they were put (moto's rendering is lossy).
        configuration = getattr(engine, "replication_configuration", None)
        generate = ManifestGenerator(s3, engine.replication_status, configuration).generate
        entries = generate(source_bucket, generator.get("Filter"))
        if generator.get("EnableManifestOutput"):
            output = generator["ManifestOutputLocation"]
            output_bucket = bucket_from_arn(output["Bucket"])
            if not roles.is_allowed(job.role_arn, "s3:PutObject", f"arn:aws:s3:::{output_bucket}/*"):
                raise GenerationError(
                    "ManifestOutputNotWritable",
                    f"The job role {job.role_arn} is not allowed s3:PutObject on "
                    f"arn:aws:s3:::{output_bucket}",
                )
            try:
                job.generated_manifest = write_generated_manifest(
                    s3,
                    job_id=job.job_id,
                    source_bucket=source_bucket,
                    output_location=output,
                    entries=entries,
                    created=self._now(),
                )
            except ClientError as error:
                raise GenerationError(
                    "ManifestOutputNotWritable",
                    f"The generated manifest could not be written to {output_bucket}: {_error_code(error)}",
                ) from None
        return entries

    def _activate(self, job: _Job) -> None:
        self._set_status(job, "Active")

    def _run_tasks(self, job: _Job) -> None:
        tasks = job.tasks or []
        run = _TaskRun(self._client("s3", job.region), self._role_authority())
        budget = self.tasks_per_step or len(tasks)
        while budget > 0 and len(job.results) < len(tasks):
            result = self._run_task(job, tasks[len(job.results)], run)
            job.results.append(result)
            if not result.succeeded:
                job.failed_count += 1
            budget -= 1
            executed = len(job.results)
            if (
                executed >= FAILURE_THRESHOLD_MIN_TASKS
                and job.failed_count > executed * FAILURE_THRESHOLD_RATIO
            ):
                self._fail(
                    job,
                    "TaskFailureThresholdExceeded",
                    f"Job failed: {job.failed_count} of the {executed} tasks run so far failed, more than "
                    f"50% after at least {FAILURE_THRESHOLD_MIN_TASKS} tasks",
                    via_failing=True,
                )
                return
        if len(job.results) >= len(tasks):
            self._set_status(job, "Completing")

    def _run_task(self, job: _Job, entry: ManifestEntry, run: _TaskRun) -> TaskResult:
        def failed(code: str, message: str) -> TaskResult:
            return TaskResult(entry, False, _task_http_status(code), code, message)

        resource = f"arn:aws:s3:::{entry.bucket}/{entry.key}"
        if not run.roles.is_allowed(job.role_arn, "s3:InitiateReplication", resource):
            return failed(
                "InitiateReplicationNotPermitted",
                f"The job role {job.role_arn} is not allowed s3:InitiateReplication on {resource}",
            )
        facts = run.bucket(entry.bucket)
        if not facts.exists:
            return failed("SrcBucketNotFound", f"The source bucket {entry.bucket} does not exist")
        if facts.region != job.region:
            return failed(
                "SrcBucketInvalidRegion",
                f"The source bucket {entry.bucket} is in {facts.region}, the job runs in {job.region}",
            )
        if not facts.has_replication_config:
            return failed(
                "SrcBucketReplicationConfigMissing",
                f"The source bucket {entry.bucket} has no replication configuration",
            )
        version_id = entry.version_id or run.latest_version(entry.bucket, entry.key)
        if version_id is None:
            return failed("SrcKeyNotFound", f"The key {entry.key} does not exist in {entry.bucket}")
        outcomes = self._engine_for(job.region).replicate_version(
            entry.bucket, entry.key, version_id, trigger="batch"
        )
        if not outcomes:
            return failed(
                "SrcObjectNotEligible", f"The object {entry.key} matches no enabled rule of {entry.bucket}"
            )
        broken = [outcome for outcome in outcomes if outcome.status != "COMPLETED"]
        if not broken:
            return TaskResult(entry, True, 200, "", "Successful")
        code = broken[0].failure_reason or "UnknownError"
        return failed(code, "; ".join(_outcome_message(entry, outcome) for outcome in broken))

    def _finish(self, job: _Job, final: str) -> None:
        report = job.request["Report"]
        if report.get("Enabled") and job.results:
            try:
                write_completion_report(
                    self._client("s3", job.region),
                    job_id=job.job_id,
                    report=report,
                    results=job.results,
                    created=self._now(),
                )
            except ClientError as error:
                reason = f"The job report could not be written to your report bucket: {_error_code(error)}"
                job.failure_reasons.append({"FailureCode": "ReportNotWritable", "FailureReason": reason})
                self._set_status(job, "Failed" if final == "Complete" else final, reasons=[reason])
                return
        self._set_status(job, final)

    # -- events ------------------------------------------------------------------------------------

    def _emit(self, job: _Job, event_name: str, *, reasons: Sequence[str] = ()) -> None:
        now = self._now()
        failing = job.status in ("Failing", "Failed")
        failure_codes = [failure["FailureCode"] for failure in job.failure_reasons] if failing else []
        detail = {
            "eventVersion": "1.05",
            "userIdentity": {"accountId": job.account_id, "invokedBy": "s3.amazonaws.com"},
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "s3.amazonaws.com",
            "eventName": event_name,
            "awsRegion": job.region,
            "sourceIPAddress": "s3.amazonaws.com",
            "userAgent": "s3.amazonaws.com",
            "requestParameters": None,
            "responseElements": None,
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "eventType": "AwsServiceEvent",
            "managementEvent": True,
            "recipientAccountId": job.account_id,
            "serviceEventDetails": {
                "jobId": job.job_id,
                "jobArn": job.arn,
                "status": job.status,
                "jobEventId": uuid.uuid4().hex,
                "failureCodes": failure_codes,
                "statusChangeReason": list(reasons),
            },
        }
        event: dict[str, Any] = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "AWS Service Event via CloudTrail",
            "source": "aws.s3",
            "account": job.account_id,
            "time": detail["eventTime"],
            "region": job.region,
            "resources": [],
            "detail": detail,
        }
        if self.publish_events:
            try:
                response = self._client("events", job.region).put_events(
                    Entries=[
                        {
                            "Source": event["source"],
                            "DetailType": event["detail-type"],
                            "Detail": json.dumps(detail),
                            "Time": now,
                            "Resources": [],
                        }
                    ]
                )
                event_id = response.get("Entries", [{}])[0].get("EventId")
                if event_id:
                    event["id"] = event_id
            except Exception:
                # CloudTrail-delivered events are best effort in AWS too; the job carries on.
                logger.exception(
                    "could not put %s event of job %s on the default bus", event_name, job.job_id
                )
        for sink in list(self._event_sinks):
            try:
                sink(copy.deepcopy(event))
            except Exception:
                logger.exception("batch operations event sink failed for job %s", job.job_id)


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


# --- default IAM decisions -----------------------------------------------------------------------


class IamEvalRoleAuthority:
    """:class:`RoleAuthority` over the moto server's IAM, decided by replimend_local.iam_eval.

    ``cached()`` gives a view that reads each role's policies once: a job step (up to thousands of
    tasks) then costs one IAM read per role instead of one per task.
    """

    def __init__(self, evaluator: Any, account_id: str) -> None:
        self._evaluator = evaluator
        self._account_id = account_id

    def cached(self) -> IamEvalRoleAuthority:
        from replimend_local.iam_eval import IamEvaluator, RolePolicies

        source = self._evaluator

        class _Snapshot(IamEvaluator):
            """Reads go through ``source``; each role's policies (or its absence) are read once."""

            def __init__(self) -> None:
                super().__init__(None)
                self._roles: dict[str, RolePolicies | LookupError] = {}

            def role_policies(self, role_name_or_arn: str) -> RolePolicies:
                if role_name_or_arn not in self._roles:
                    try:
                        self._roles[role_name_or_arn] = source.role_policies(role_name_or_arn)
                    except LookupError as missing:
                        self._roles[role_name_or_arn] = missing
                known = self._roles[role_name_or_arn]
                if isinstance(known, LookupError):
                    raise known
                return known

        return IamEvalRoleAuthority(_Snapshot(), self._account_id)

    def assume_role_problem(self, role_arn: str, service_principal: str) -> str | None:
        if not self._evaluator.role_exists(role_arn):
            return "the role does not exist"
        # S3 assumes a job role with the job's account as aws:SourceAccount: trust policies with the
        # usual confused-deputy condition must see it.
        context = {"aws:SourceAccount": [self._account_id]}
        if not self._evaluator.role_trusts(role_arn, service_principal, context=context):
            return f"its trust policy does not allow {service_principal} to call sts:AssumeRole"
        return None

    def is_allowed(self, role_arn: str, action: str, resource: str) -> bool:
        from replimend_local.iam_eval import NoSuchRoleError

        try:
            return bool(self._evaluator.role_allows(role_arn, action, resource).allowed)
        except NoSuchRoleError:
            return False


BatchOperations = BatchOperationsEmulator
