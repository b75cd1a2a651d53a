"""Track Batch Replication jobs: status events, polling, completion reports, per-object outcomes.

Job status events reach EventBridge through CloudTrail, best effort (aws-facts.md §4.3), so a
scheduled reconciliation also polls DescribeJob for the ledger's active jobs. Both paths end in
``_refresh``; per-object transitions are conditional and only move objects that still belong to the
job, so an event and a poll racing on the same job cannot apply an outcome twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from replimend import lifecycle
from replimend.alerts import pair_alert
from replimend.errors import ConflictError, MalformedEventError, NotFoundError, ReplimendError
from replimend.ledger_lookup import find_failure
from replimend.manifest_csv import parse_manifest
from replimend.models import (
    TERMINAL_JOB_STATUSES,
    Action,
    FailureRecord,
    JobRecord,
    JobStatus,
    ObjectState,
)
from replimend.observability import logger
from replimend.ports import JobDescriber, JobDescription, ManifestStorage, Notifier, ObjectInspector
from replimend.reasons import reason_entry
from replimend.settings import RemediationSettings
from replimend.track.job_events import parse_job_event
from replimend.track.reports import (
    TaskResult,
    parse_report_manifest,
    parse_report_rows,
    report_manifest_key,
)

ACTOR = "track_jobs"
_TERMINAL = frozenset(status.value for status in TERMINAL_JOB_STATUSES)
_OUTCOMES = {JobStatus.FAILED.value: "failed", JobStatus.CANCELLED.value: "cancelled"}


def job_outcome(job: JobRecord) -> str | None:
    """succeeded / partial / failed / cancelled for a finished job; None while it runs.

    Complete with failed tasks is a partial success, not a success.
    """
    if job.status == JobStatus.COMPLETE.value:
        return "partial" if job.tasks_failed else "succeeded"
    return _OUTCOMES.get(job.status)


@dataclass
class JobUpdate:
    """What tracking did for one job."""

    job_id: str
    status: str
    outcome: str | None = None
    replicated: int = 0
    retrying: int = 0  # back to FAILED with backoff
    gave_up: int = 0
    closed: int = 0  # OBSOLETE / DONE / ESCALATED by the task's failure reason
    returned: int = 0  # objects of a job without (complete) report, returned to FAILED
    unmatched: int = 0  # report rows with no object of this job in the ledger
    unreadable_rows: int = 0
    stale: bool = False
    note: str | None = None


@dataclass
class TrackingResult:
    jobs: list[JobUpdate] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # events/jobs not ours, or stale
    errors: list[str] = field(default_factory=list)

    @property
    def stale_jobs(self) -> list[str]:
        return [update.job_id for update in self.jobs if update.stale]

    def total(self, name: str) -> int:
        return sum(int(getattr(update, name)) for update in self.jobs)

    def to_dict(self) -> dict[str, Any]:
        return {"jobs": [asdict(u) for u in self.jobs], "ignored": self.ignored, "errors": self.errors}


@dataclass
class JobTracker:
    ledger: Any  # RemediationLedger (Any: the Protocol's update_job **changes is too loose for mypy)
    jobs: JobDescriber
    storage: ManifestStorage
    objects: ObjectInspector  # bucket_region for jobs recorded without a Region
    settings: RemediationSettings
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: A job not finished after this long is reported stale and no longer polled.
    stale_after: timedelta = timedelta(hours=48)
    #: Fraction of a retry delay spread deterministically per object (0 disables jitter).
    backoff_jitter: float = 0.0
    #: Where alerts about objects given up go (None: nowhere).
    notifier: Notifier | None = None

    # ---- entry points ----------------------------------------------------------------------
    def handle_event(self, event: Mapping[str, Any]) -> TrackingResult:
        """A JobCreated/JobStatusChanged event: refresh that job if it is one of ours."""
        with self.ledger.batch():  # activity pages once per run, not per object
            return self._handle_event(event)

    def reconcile(self, *, deadline: float | None = None) -> TrackingResult:
        """Poll DescribeJob for each active, non-stale job (the schedule runs every few minutes,
        well above the 30 s per-job polling floor AWS asks for)."""
        with self.ledger.batch():
            return self._reconcile(deadline=deadline)

    def _handle_event(self, event: Mapping[str, Any]) -> TrackingResult:
        result = TrackingResult()
        parsed = parse_job_event(event)
        job = self.ledger.get_job(parsed.job_id)
        if job is None:
            result.ignored.append(f"{parsed.job_id}: not a job replimend started")
            return result
        if job.region is None and parsed.region:
            job.region = parsed.region
        if job.outcome_recorded and job.status in _TERMINAL:
            result.ignored.append(f"{parsed.job_id}: outcome already recorded ({job.status})")
            return result
        if parsed.status and parsed.status not in _TERMINAL and parsed.status != JobStatus.SUSPENDED.value:
            # Cheap path: a progress event needs no DescribeJob. Events can arrive out of order,
            # so a terminal status already recorded is never overwritten.
            if job.status in _TERMINAL or (job.status == parsed.status and job.stale_since is None):
                result.jobs.append(JobUpdate(job.job_id, job.status))
                return result
            job = self._update_job(job, status=parsed.status, stale_since=None)
            result.jobs.append(JobUpdate(job.job_id, job.status))
            return result
        self._refresh_into(job, result)
        return result

    def _reconcile(self, *, deadline: float | None) -> TrackingResult:
        result = TrackingResult()
        for job in self.ledger.active_jobs():
            if deadline is not None and time.monotonic() >= deadline:
                result.errors.append("time budget reached; remaining jobs wait for the next run")
                break
            if job.stale_since is not None:
                result.ignored.append(f"{job.job_id}: stale since {job.stale_since}")
                continue
            self._refresh_into(job, result)
        # A finished job whose outcome could not be applied (crash) is retried here too.
        for job in self.ledger.list_jobs(active_only=False):
            if job.status in _TERMINAL and not job.outcome_recorded and job.job_id not in _ids(result):
                self._refresh_into(job, result)
        return result

    def refresh(self, job: JobRecord) -> JobUpdate:
        """DescribeJob, record status/progress; on a terminal status apply the outcome once."""
        now = self.clock()
        region = job.region or self.objects.bucket_region(job.source_bucket)
        try:
            description = self.jobs.describe_job(job.job_id, region)
        except NotFoundError as exc:
            # Jobs are deleted 90 days after they end; a job we never saw finish is stuck for us.
            job = self._update_job(job, stale_since=job.stale_since or now, region=region)
            logger.warning("batch job not found", extra={"job_id": job.job_id, "error": str(exc)})
            return JobUpdate(job.job_id, job.status, stale=True, note=str(exc))
        changes: dict[str, Any] = {
            "status": description.status,
            "tasks_succeeded": description.tasks_succeeded,
            "tasks_failed": description.tasks_failed,
            "failure_reasons": description.failure_reasons or job.failure_reasons,
            "region": region,
        }
        if description.status not in _TERMINAL:
            stuck = self._stuck_reason(job, description, now)
            changes["stale_since"] = (job.stale_since or now) if stuck else None
            job = self._update_job(job, **changes)
            if stuck:
                logger.warning("batch job stuck; polling stops", extra={"job_id": job.job_id, "why": stuck})
            return JobUpdate(job.job_id, job.status, stale=bool(stuck), note=stuck)
        if job.outcome_recorded:
            job = self._update_job(job, **changes) if job.status != description.status else job
            return JobUpdate(
                job.job_id, job.status, outcome=job_outcome(job), note="outcome already recorded"
            )
        # Record the terminal status first (outcome_recorded stays False until every object moved).
        job = self._update_job(job, **changes, finished_at=description.terminated_at or now, stale_since=None)
        update = JobUpdate(job.job_id, job.status, outcome=job_outcome(job))
        self._apply_outcome(job, description, update, now)
        self._update_job(job, outcome_recorded=True)
        self._alert(job, update)
        logger.info("batch job finished", extra={"job_id": job.job_id, **asdict(update)})
        return update

    def _alert(self, job: JobRecord, update: JobUpdate) -> None:
        """One message per finished job whose objects were given up (never one per object)."""
        alert = pair_alert(
            job.source_bucket,
            job.destination_bucket or "every destination",
            gave_up=update.gave_up,
            escalated=0,
        )
        if alert is None or self.notifier is None:
            return
        try:
            self.notifier.publish(alert.subject, alert.message)
        except ReplimendError:
            logger.exception("alert not published", extra={"job_id": job.job_id})

    # ---- outcome ---------------------------------------------------------------------------
    def _apply_outcome(
        self, job: JobRecord, description: JobDescription, update: JobUpdate, now: datetime
    ) -> None:
        covered = 0
        tasks = self._report_tasks(job, description, update)
        failures: Counter[str] = Counter()
        for task in tasks:
            covered += 1
            self._apply_task(job, task, update, now, failures)
        if covered < job.object_count:
            # No report (a failed job before any task ran, a cancelled one) or a partial one:
            # whatever is still in this job goes back to FAILED with the job's own reasons.
            reason = _job_failure_code(description, job)
            returned = self._return_objects(
                job, reason, update, now, count_attempt=job.status != JobStatus.CANCELLED.value
            )
            failures[reason] += returned
        self._touch_incidents(job, failures, now)

    def _report_tasks(
        self, job: JobRecord, description: JobDescription, update: JobUpdate
    ) -> Iterator[TaskResult]:
        bucket = description.report_bucket or job.report_bucket
        prefix = description.report_prefix if description.report_prefix is not None else job.report_prefix
        if not bucket or prefix is None:
            return
        try:
            files = parse_report_manifest(
                self.storage.get_bytes(bucket, report_manifest_key(prefix, job.job_id))
            )
        except NotFoundError:
            update.note = "no completion report"
            return
        except MalformedEventError as exc:
            update.note = f"unreadable completion report: {exc}"
            logger.error("unreadable completion report", extra={"job_id": job.job_id, "error": str(exc)})
            return
        for result_file in files:
            for row in parse_report_rows(self.storage.iter_lines(result_file.bucket, result_file.key)):
                if isinstance(row, str):
                    update.unreadable_rows += 1
                    logger.warning("unreadable report row", extra={"job_id": job.job_id, "row": row})
                    continue
                yield row

    def _apply_task(
        self, job: JobRecord, task: TaskResult, update: JobUpdate, now: datetime, failures: Counter[str]
    ) -> None:
        destination = job.destination_bucket or ""
        record = find_failure(self.ledger, task.bucket, task.key, task.version_id, destination)
        for _ in range(3):
            if record is None or not lifecycle.belongs_to_job(record, job.job_id):
                update.unmatched += 1
                return
            decision = lifecycle.after_task(
                record,
                succeeded=task.succeeded,
                reason=task.failure_reason,
                max_attempts=self.settings.max_attempts,
                backoff=self._backoff(),
                now=now,
            )
            try:
                self._apply(record, job, decision, update, detail=task.message or None)
            except ConflictError as exc:
                record = (
                    exc.current
                    if isinstance(exc.current, FailureRecord)
                    else self.ledger.get_failure(record.ref)
                )
                continue
            if decision.reopens_incident and decision.failure_reason:
                failures[decision.failure_reason] += decision.counts_for_incident
            return

    def _backoff(self) -> lifecycle.Backoff:
        return lifecycle.Backoff(
            self.settings.backoff_base_seconds, self.settings.backoff_max_seconds, self.backoff_jitter
        )

    def _apply(
        self,
        record: FailureRecord,
        job: JobRecord,
        decision: lifecycle.TaskDecision,
        update: JobUpdate,
        *,
        detail: str | None,
    ) -> None:
        """Write the lifecycle's decision for one object of the job, and count it."""
        self.ledger.transition(
            record,
            decision.to_state,
            reason=decision.why,
            actor=ACTOR,
            job_id=job.job_id,
            attempts=decision.attempts,
            failure_reason=decision.failure_reason,
            next_attempt_at=decision.next_attempt_at,
            detail=detail,
        )
        if decision.to_state is ObjectState.REPLICATED:
            update.replicated += 1
        elif decision.to_state is ObjectState.GAVE_UP:
            update.gave_up += 1
        elif decision.to_state is ObjectState.FAILED:
            update.retrying += 1
        else:
            update.closed += 1

    def _return_objects(
        self, job: JobRecord, reason: str, update: JobUpdate, now: datetime, *, count_attempt: bool
    ) -> int:
        """Objects still IN_JOB for a job that ended without their report row go back to FAILED
        (or further, as the lifecycle says); how many newly count under ``reason``'s incident."""
        detail = "; ".join(job.failure_reasons) or None
        returned = 0
        for listed in self._job_objects(job):
            record = listed
            for _ in range(3):
                if record is None or record.state is not ObjectState.IN_JOB or record.job_id != job.job_id:
                    break
                decision = lifecycle.after_job_without_report(
                    record,
                    job_cancelled=not count_attempt,
                    job_reason=reason,
                    max_attempts=self.settings.max_attempts,
                    backoff=self._backoff(),
                    now=now,
                )
                try:
                    self._apply(record, job, decision, update, detail=detail)
                except ConflictError as exc:
                    fresh = exc.current
                    record = (
                        fresh if isinstance(fresh, FailureRecord) else self.ledger.get_failure(record.ref)
                    )
                    continue
                update.returned += 1
                returned += decision.counts_for_incident
                break
        return returned

    def _job_objects(self, job: JobRecord) -> Iterable[FailureRecord | None]:
        """The objects of a job: from the manifest we wrote, else the ledger's IN_JOB objects."""
        if job.manifest_arn and job.manifest_arn.startswith("arn:aws:s3:::") and "/" in job.manifest_arn:
            bucket, key = job.manifest_arn.removeprefix("arn:aws:s3:::").split("/", 1)
            try:
                rows = list(parse_manifest(self.storage.iter_lines(bucket, key)))
            except NotFoundError:
                rows = []
            if rows:
                destination = job.destination_bucket or ""
                return (find_failure(self.ledger, r.bucket, r.key, r.version_id, destination) for r in rows)
        in_job = self.ledger.failures_in_state(ObjectState.IN_JOB, source_bucket=job.source_bucket)
        return (record for record in in_job if record.job_id == job.job_id)

    def _touch_incidents(self, job: JobRecord, failures: Counter[str], now: datetime) -> None:
        """Tasks failing with a configuration reason mean the cause is not fixed: open (or reopen,
        when marked fixed before these failures) the incident, so the gate holds the next retry.
        ``failures`` counts only objects new to the incident (a reason may be present with 0)."""
        for reason, count in failures.items():
            if reason_entry(reason).action is not Action.RETRY_AFTER_FIX:
                continue
            try:
                self.ledger.touch_incident(
                    job.source_bucket, job.destination_bucket or "", reason, new_objects=count, at=now
                )
            except ReplimendError:
                logger.exception("could not open incident", extra={"reason": reason, "job_id": job.job_id})

    # ---- helpers ---------------------------------------------------------------------------
    def _stuck_reason(self, job: JobRecord, description: JobDescription, now: datetime) -> str | None:
        if description.status == JobStatus.SUSPENDED.value:
            cause = description.suspended_cause or description.status_update_reason or "no cause given"
            return f"job is Suspended ({cause}); confirm or cancel it (s3control update-job-status)"
        started = job.created_at or description.created_at
        if started is not None and now - started > self.stale_after:
            return f"job still {description.status} after {now - started}"
        return None

    def _update_job(self, job: JobRecord, **changes: Any) -> JobRecord:
        for _ in range(3):
            try:
                return self.ledger.update_job(job, **changes)
            except ConflictError:
                fresh = self.ledger.get_job(job.job_id)
                if fresh is None:
                    raise
                if fresh.outcome_recorded and "outcome_recorded" not in changes:
                    return fresh  # the other writer finished the job; nothing left to say
                job = fresh
        return self.ledger.update_job(job, **changes)

    def _refresh_into(self, job: JobRecord, result: TrackingResult) -> None:
        try:
            result.jobs.append(self.refresh(job))
        except ReplimendError as exc:
            logger.exception("job refresh failed", extra={"job_id": job.job_id})
            result.errors.append(f"{job.job_id}: {exc}")


def _job_failure_code(description: JobDescription, job: JobRecord) -> str:
    for reason in description.failure_reasons or job.failure_reasons:
        code = reason.split(":", 1)[0].strip()
        if code:
            return code
    return f"Job{description.status}"


def _ids(result: TrackingResult) -> set[str]:
    return {update.job_id for update in result.jobs}
