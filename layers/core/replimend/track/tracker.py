"""Track Batch Replication jobs: status events, polling, completion reports, per-object outcomes.

Job status events reach EventBridge through CloudTrail, best effort (aws-facts.md §4.3), so a
scheduled reconciliation also polls DescribeJob for the ledger's active jobs. Both paths end in
``_refresh``; per-object transitions are conditional and only move objects that still belong to the
job, so an event and a poll racing on the same job cannot apply an outcome twice.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from replimend import lifecycle
from replimend.alerts import Alert, checks_pass_but_job_failed_alert, pair_alert
from replimend.errors import ConflictError, MalformedEventError, NotFoundError, ReplimendError
from replimend.manifest_csv import NULL_VERSION, parse_manifest
from replimend.models import (
    TERMINAL_JOB_STATUSES,
    Action,
    FailureRecord,
    JobRecord,
    JobStatus,
    ObjectRef,
    ObjectState,
)
from replimend.observability import logger
from replimend.ports import (
    JobDescriber,
    JobDescription,
    ManifestStorage,
    Notifier,
    ObjectInspector,
    ReplicaStatus,
)
from replimend.reasons import reason_entry
from replimend.settings import RemediationSettings
from replimend.track.job_events import parse_job_event
from replimend.track.reports import (
    TaskResult,
    parse_report_manifest,
    parse_report_rows,
    report_manifest_key,
)

_S3_OBJECT_ARN = re.compile(r"arn:[a-z0-9-]+:s3:::([^/]+)/(.+)", re.DOTALL)  # any partition
ACTOR = "track_jobs"
BACKFILL_KIND = "backfill"  # JobRecord.kind of a generated-manifest job (replimend.backfill)
_TERMINAL = frozenset(status.value for status in TERMINAL_JOB_STATUSES)
_OUTCOMES = {JobStatus.FAILED.value: "failed", JobStatus.CANCELLED.value: "cancelled"}


def job_outcome(job: JobRecord) -> str | None:
    """succeeded / partial / failed / cancelled for a finished job; None while it runs.

    Complete with failed tasks is a partial success, not a success.
    """
    if job.status == JobStatus.COMPLETE.value:
        return "partial" if job.tasks_failed else "succeeded"
    return _OUTCOMES.get(job.status)


@dataclass(frozen=True, slots=True)
class _Verdict:
    """What tracking concluded for one destination record of a job."""

    kind: str  # replicated · failed · unattributed · no_row (job completed) · job_ended (failed/cancelled)
    reason: str | None = None
    destinations: int = 0  # unattributed: how many destinations it could have been
    cancelled: bool = False


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
    returned: int = 0  # objects no report row resolved, resolved once the job ended
    unmatched: int = 0  # report rows with no object of this job in the ledger
    unreadable_rows: int = 0
    found: int = 0  # backfill: destination records of versions the ledger did not know, entered now
    stale: bool = False
    note: str | None = None
    #: the longest time from first failure to repair among the objects this job replicated
    longest_repair_seconds: float = 0.0
    #: objects this job left ESCALATED or failed again (FAILED/GAVE_UP), by destination and reason
    escalated_by: dict[str, dict[str, int]] = field(default_factory=dict)
    failed_by: dict[str, dict[str, int]] = field(default_factory=dict)


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
    def handle_event(self, event: Mapping[str, Any], *, deadline: float | None = None) -> TrackingResult:
        """A JobCreated/JobStatusChanged event: refresh that job if it is one of ours. ``deadline``
        (a ``time.monotonic()`` value): a big completion report is applied up to it, the rest by
        the next run (the scheduled reconcile)."""
        with self.ledger.batch():  # activity pages once per run, not per object
            return self._handle_event(event, deadline=deadline)

    def reconcile(self, *, deadline: float | None = None) -> TrackingResult:
        """Poll DescribeJob for each active, non-stale job (the schedule runs every few minutes,
        well above the 30 s per-job polling floor AWS asks for)."""
        with self.ledger.batch():
            return self._reconcile(deadline=deadline)

    def _handle_event(self, event: Mapping[str, Any], *, deadline: float | None) -> TrackingResult:
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
        self._refresh_into(job, result, deadline=deadline)
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
            self._refresh_into(job, result, deadline=deadline)
        # A finished job whose outcome is not all applied (a crash, or the last run's time budget)
        # goes on here too.
        for job in self.ledger.list_jobs(active_only=False):
            if deadline is not None and time.monotonic() >= deadline:
                break
            if job.status in _TERMINAL and not job.outcome_recorded and job.job_id not in _ids(result):
                self._refresh_into(job, result, deadline=deadline)
        return result

    def refresh(self, job: JobRecord, *, deadline: float | None = None) -> JobUpdate:
        """DescribeJob, record status/progress; on a terminal status apply the outcome once (up to
        ``deadline``; a later refresh goes on from the report row where this one stopped)."""
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
        applied_rows = self._apply_outcome(job, description, update, now, deadline=deadline)
        if applied_rows is not None:
            # The time budget ran out: keep the place (rows before it are applied) for the next run.
            job = self._update_job(job, report_rows_done=applied_rows[0], report_rows_matched=applied_rows[1])
            update.note = f"completion report applied up to row {applied_rows[0]:,}; the next run goes on"
            self._alert(job, update)
            logger.info("batch job outcome partly applied", extra={"job_id": job.job_id, **asdict(update)})
            return update
        self._update_job(job, outcome_recorded=True)
        self._alert(job, update)
        logger.info("batch job finished", extra={"job_id": job.job_id, **asdict(update)})
        return update

    def _alert(self, job: JobRecord, update: JobUpdate) -> None:
        """A finished job's alerts, never one per object: its objects given up; per incident, its
        objects escalated; and per incident whose checks all passed, that the job failed anyway (a
        cause diagnosis cannot see)."""
        if self.notifier is None:
            return
        alerts = [
            pair_alert(
                job.source_bucket,
                job.destination_bucket or "every destination",
                gave_up=update.gave_up,
                escalated=0,
            )
        ]
        for destination, reasons in sorted(update.escalated_by.items()):
            for reason, count in sorted(reasons.items()):
                alerts.append(
                    pair_alert(job.source_bucket, destination, gave_up=0, escalated=count, reason=reason)
                )
        for destination, reasons in sorted(update.failed_by.items()):
            for reason, count in sorted(reasons.items()):
                alerts.append(self._unseen_cause_alert(job, destination, reason, count))
        for alert in alerts:
            if alert is None:
                continue
            try:
                self.notifier.publish(alert.subject, alert.message)
            except ReplimendError:
                logger.exception("alert not published", extra={"job_id": job.job_id})

    def _unseen_cause_alert(self, job: JobRecord, destination: str, reason: str, count: int) -> Alert | None:
        try:
            incident = self.ledger.get_incident(job.source_bucket, destination, reason)
        except ReplimendError:
            return None
        if incident is None or not incident.last_checks:
            return None  # never diagnosed: the next pass's gate does, and tells if it fails
        return checks_pass_but_job_failed_alert(incident, job.job_id, count)

    # ---- outcome ---------------------------------------------------------------------------
    def _apply_outcome(
        self,
        job: JobRecord,
        description: JobDescription,
        update: JobUpdate,
        now: datetime,
        *,
        deadline: float | None = None,
    ) -> tuple[int, int] | None:
        """Apply the report's rows from ``job.report_rows_done`` on, then return the objects no row
        resolved. None when done; (rows done, rows matched) when ``deadline`` came first."""
        matched = job.report_rows_matched
        failures: Counter[tuple[str, str]] = Counter()  # (destination, reason) -> objects new to it
        for row, task in enumerate(self._report_tasks(job, description, update)):
            if row < job.report_rows_done:
                continue  # applied by an earlier run (applying it again would change nothing)
            # every run applies at least one row, so a report always gets through
            if row > job.report_rows_done and deadline is not None and time.monotonic() >= deadline:
                self._touch_incidents(job, failures, now)
                return row, matched
            matched += self._apply_task(job, task, update, now, failures)
        if matched < job.object_count:
            # No report (a failed job before any task ran, a cancelled one), a partial one, or rows
            # we could not match: nothing may stay IN_JOB once its job has ended (the ones left are
            # counted in ``returned``, metric ObjectsReturnedFromJob).
            reason = _job_failure_code(description, job)
            self._return_objects(
                job, reason, update, now, failures, count_attempt=job.status != JobStatus.CANCELLED.value
            )
        self._touch_incidents(job, failures, now)
        return None

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
        self,
        job: JobRecord,
        task: TaskResult,
        update: JobUpdate,
        now: datetime,
        failures: Counter[tuple[str, str]],
    ) -> int:
        """Apply one report row to its version's records, per destination; 1 when the row named a
        version of this job (resolved now or before), else 0."""
        records = self._task_records(task)
        if not records:
            if job.kind == BACKFILL_KIND:
                return self._record_found(job, task, update, failures)
            update.unmatched += 1
            return 0
        if job.kind == BACKFILL_KIND:  # its records were never marked IN_JOB: only a success moves them
            if task.succeeded:
                self._close_replicated_by_backfill(job, records, update)
            return 1
        in_job = [r for r in records if lifecycle.belongs_to_job(r, job.job_id)]
        if not in_job:
            return 1  # already applied (a second event or poll for the same job)
        if task.succeeded:  # with several destinations a task succeeds only if every one did
            verdicts = [(record, _Verdict("replicated")) for record in in_job]
        else:
            verdicts = self._attribute_failure(job, in_job, task.failure_reason or "UnknownTaskFailure")
        for record, verdict in verdicts:
            self._decide(record, job, verdict, update, failures, now=now, detail=task.message or None)
        return 1

    def _record_found(
        self, job: JobRecord, task: TaskResult, update: JobUpdate, failures: Counter[tuple[str, str]]
    ) -> int:
        """A version a backfill job's report names and the ledger never saw: one record per destination
        of the job (``found_by: backfill``). A succeeded task replicated it everywhere; a failed one is
        charged to the destinations whose replica is not there (``lifecycle.found_state``), and opens or
        joins the incident of its reason like an event-reported failure."""
        destinations = job.destinations or ([job.destination_bucket] if job.destination_bucket else [])
        if not destinations:
            update.unmatched += 1
            return 0
        version = None if task.version_id in (None, "", NULL_VERSION) else task.version_id
        key = task.key_candidates[0]
        reason = None if task.succeeded else (task.failure_reason or "UnknownTaskFailure")
        for destination in destinations:
            replicated = task.succeeded or (
                len(destinations) > 1
                and self.objects.replica_status(destination, key, version) is ReplicaStatus.PRESENT
            )
            state = lifecycle.found_state(replicated=replicated, reason=reason)
            found = self.ledger.record_found(
                ObjectRef(task.bucket, key, version, destination),
                state,
                failure_reason=None if replicated else reason,
                job_id=job.job_id,
                actor=ACTOR,
                detail=task.message or None,
            )
            if found is None:
                continue  # an event (or an earlier poll) recorded it first
            update.found += 1
            if state is ObjectState.REPLICATED:
                update.replicated += 1
            elif reason is not None:
                failures[(destination, reason)] += 1
        return 1

    def _close_replicated_by_backfill(
        self, job: JobRecord, records: list[FailureRecord], update: JobUpdate
    ) -> None:
        """Open records of a version a backfill task replicated: every destination has it now."""
        for record in records:
            if record.state not in (ObjectState.FAILED, ObjectState.BLOCKED):
                continue
            try:
                self.ledger.transition(
                    record,
                    ObjectState.DONE,
                    reason=f"replicated by backfill job {job.job_id}",
                    actor=ACTOR,
                    job_id=job.job_id,
                )
            except ConflictError:
                continue  # moved meanwhile: whoever moved it decided
            update.closed += 1

    def _attribute_failure(
        self, job: JobRecord, records: list[FailureRecord], reason: str
    ) -> list[tuple[FailureRecord, _Verdict]]:
        """How each destination of a failed task is resolved. The report has no destination column,
        so a failure is charged to a destination only when something says it failed there: it is
        the version's only destination in the job; its replica is the only one absent; or S3 sent a
        failure event for it after the job started (whether S3 does for Batch Replication tasks is
        not documented: either way this holds). A present replica means that destination
        replicated. Where nothing tells, the record says so and keeps its own reason."""
        if len(records) == 1:
            return [(records[0], _Verdict("failed", reason))]
        present: list[FailureRecord] = []
        other: list[FailureRecord] = []
        for record in records:
            ref = record.ref
            seen = self.objects.replica_status(ref.destination_bucket, ref.key, ref.version_id)
            (present if seen == ReplicaStatus.PRESENT else other).append(record)
        verdicts = [(record, _Verdict("replicated")) for record in present]
        started = job.created_at
        for record in other:
            evented = started is not None and record.last_seen is not None and record.last_seen >= started
            if len(other) == 1:
                verdicts.append((record, _Verdict("failed", reason)))
            elif evented:
                verdicts.append((record, _Verdict("failed", record.failure_reason or reason)))
            else:
                verdicts.append((record, _Verdict("unattributed", reason, destinations=len(other))))
        return verdicts

    def _decision(self, record: FailureRecord, verdict: _Verdict, now: datetime) -> lifecycle.TaskDecision:
        """The lifecycle's decision for one destination record, given what tracking concluded."""
        backoff, max_attempts = self._backoff(), self.settings.max_attempts
        if verdict.kind == "unattributed":
            return lifecycle.after_unattributed_failure(
                record,
                reason=verdict.reason or "",
                destinations=verdict.destinations,
                max_attempts=max_attempts,
                backoff=backoff,
                now=now,
            )
        if verdict.kind == "no_row":
            return lifecycle.after_missing_report_row(record, now=now)
        if verdict.kind == "job_ended":
            return lifecycle.after_job_without_report(
                record,
                job_cancelled=verdict.cancelled,
                job_reason=verdict.reason or "",
                max_attempts=max_attempts,
                backoff=backoff,
                now=now,
            )
        return lifecycle.after_task(
            record,
            succeeded=verdict.kind == "replicated",
            reason=verdict.reason,
            max_attempts=max_attempts,
            backoff=backoff,
            now=now,
        )

    def _decide(
        self,
        record: FailureRecord,
        job: JobRecord,
        verdict: _Verdict,
        update: JobUpdate,
        failures: Counter[tuple[str, str]],
        *,
        now: datetime,
        detail: str | None,
    ) -> bool:
        """Write the decision for one record still in the job (re-reading it after a lost race)."""
        current: FailureRecord | None = record
        for _ in range(3):
            if current is None or not lifecycle.belongs_to_job(current, job.job_id):
                return False
            decision = self._decision(current, verdict, now)
            try:
                self._apply(current, job, decision, update, detail=detail)
            except ConflictError as exc:
                fresh = exc.current if isinstance(exc.current, FailureRecord) else None
                current = fresh or self.ledger.get_failure(current.ref)
                continue
            if decision.reopens_incident and decision.failure_reason:
                incident = (current.ref.destination_bucket, decision.failure_reason)
                failures[incident] += decision.counts_for_incident
            return True
        return False

    def _task_records(self, task: TaskResult) -> list[FailureRecord]:
        """The records of the version a report row names (one per destination): the exact key string
        of our manifest first, then other readings of it (AWS does not document the report's key
        encoding)."""
        version = None if task.version_id in (None, "", NULL_VERSION) else task.version_id
        for key in task.key_candidates:
            records = self.ledger.version_records(task.bucket, key, version)
            if records:
                return records
        return []

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
            if record.first_seen is not None:
                repair = (self.clock() - record.first_seen).total_seconds()
                update.longest_repair_seconds = max(update.longest_repair_seconds, repair)
        elif decision.to_state is ObjectState.GAVE_UP:
            update.gave_up += 1
        elif decision.to_state is ObjectState.FAILED:
            update.retrying += 1
        else:
            update.closed += 1
        tally = {ObjectState.ESCALATED: update.escalated_by, ObjectState.GAVE_UP: update.failed_by,
                 ObjectState.FAILED: update.failed_by}.get(decision.to_state)  # fmt: skip
        reason = decision.failure_reason or record.failure_reason
        if tally is not None and reason:
            per_reason = tally.setdefault(record.ref.destination_bucket, {})
            per_reason[reason] = per_reason.get(reason, 0) + 1

    def _return_objects(
        self,
        job: JobRecord,
        reason: str,
        update: JobUpdate,
        now: datetime,
        failures: Counter[tuple[str, str]],
        *,
        count_attempt: bool,
    ) -> None:
        """Records still IN_JOB for a job that ended without their report row go back to FAILED (or
        further, as the lifecycle says)."""
        detail = "; ".join(job.failure_reasons) or None
        if job.status == JobStatus.COMPLETE.value:
            verdict = _Verdict("no_row")
        else:
            verdict = _Verdict("job_ended", reason, cancelled=not count_attempt)
        for record in self._job_objects(job):
            if record.state is ObjectState.IN_JOB and record.job_id == job.job_id:
                update.returned += self._decide(
                    record, job, verdict, update, failures, now=now, detail=detail
                )

    def _job_objects(self, job: JobRecord) -> Iterable[FailureRecord]:
        """The records of a job: every destination record of each version in the manifest we wrote,
        else the ledger's IN_JOB records of the source."""
        object_arn = _S3_OBJECT_ARN.fullmatch(job.manifest_arn or "")
        if object_arn:
            bucket, key = object_arn.group(1), object_arn.group(2)
            try:
                rows = list(parse_manifest(self.storage.iter_lines(bucket, key)))
            except NotFoundError:
                rows = []
            if rows:
                return (
                    record
                    for row in rows
                    for record in self.ledger.version_records(
                        row.bucket, row.key, None if row.version_id == NULL_VERSION else row.version_id
                    )
                )
        in_job = self.ledger.failures_in_state(ObjectState.IN_JOB, source_bucket=job.source_bucket)
        return (record for record in in_job if record.job_id == job.job_id)

    def _touch_incidents(self, job: JobRecord, failures: Counter[tuple[str, str]], now: datetime) -> None:
        """Tasks failing with a configuration reason mean the cause is not fixed: open (or reopen,
        when marked fixed before these failures) the incident, so the gate holds the next retry.
        ``failures`` counts only objects new to the incident (a reason may be present with 0)."""
        for (destination, reason), count in failures.items():
            if reason_entry(reason).action is not Action.RETRY_AFTER_FIX:
                continue
            try:
                self.ledger.touch_incident(job.source_bucket, destination, reason, new_objects=count, at=now)
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

    def _refresh_into(self, job: JobRecord, result: TrackingResult, *, deadline: float | None = None) -> None:
        try:
            result.jobs.append(self.refresh(job, deadline=deadline))
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
