"""The Batch Operations backend: jobs and their state, advanced step by step (prepare: role,
manifest and report checks; run: one replication per task; finish: completion report and events)."""

from __future__ import annotations

import copy
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.config import Config
from botocore.exceptions import ClientError

from replimend_local import hooks
from replimend_local.batch_operations.generator import GenerationError, ManifestGenerator
from replimend_local.batch_operations.manifests import (
    ManifestEntry,
    ManifestError,
    TaskResult,
    read_manifest,
    report_base,
    write_completion_report,
    write_generated_manifest,
)
from replimend_local.batch_operations.ports import (
    IamEvalRoleAuthority,
    ReplicationEnginePort,
    ReplicationOutcomeLike,
    RoleAuthority,
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


class BatchOperationsBackend:
    """The state and job processing of the emulated S3 Batch Operations service (all accounts and
    regions of one embedded AWS); :class:`BatchOperationsEmulator` adds its API."""

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
                from replimend_local.s3_replication import ReplicationEngine

                self._engines[region] = ReplicationEngine(
                    self.endpoint_url, region, account_id=self.account_id
                )
            return self._engines[region]

    def _role_authority(self) -> RoleAuthority:
        """IAM decisions for one job step: role policies are read once per step when the authority
        can cache them (IAM changes made between steps are seen)."""
        with self._lock:
            if self._roles is None:
                from replimend_local.iam import IamEvaluator

                self._roles = IamEvalRoleAuthority(
                    IamEvaluator(self._client("iam", self.region)), self.account_id
                )
            cached = getattr(self._roles, "cached", None)
            return cached() if callable(cached) else self._roles

    # -- API: CreateJob ----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock()

    def job_ids(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def status(self, job_id: str) -> str:
        with self._lock:
            return self._jobs[job_id].status

    def source_buckets(self, job_id: str) -> set[str]:
        """The buckets whose objects a job replicates: its generator's source bucket, or the buckets of
        its manifest's rows once it is prepared (empty before, or when the manifest could not be read)."""
        with self._lock:
            job = self._jobs[job_id]
            generator = job.request.get("ManifestGenerator")
            if generator:
                spec = generator.get("S3JobManifestGenerator") or {}
                return {bucket_from_arn(str(spec["SourceBucket"]))} if spec.get("SourceBucket") else set()
            return {entry.bucket for entry in job.tasks or ()}

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
        # "Policy if using and storing an Amazon S3 generated manifest" grants both on the source
        # bucket (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-policies.html).
        for action in ("s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"):
            if not roles.is_allowed(job.role_arn, action, f"arn:aws:s3:::{source_bucket}"):
                raise GenerationError(
                    "ManifestGenerationNotPermitted",
                    f"The job role {job.role_arn} is not allowed {action} on arn:aws:s3:::{source_bucket}",
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
