"""One remediation pass: one Batch Replication job per source bucket, split only at the job limit.

A Batch Replication task replicates a version to every destination of its source's replication
configuration (AWS, "Replicating existing objects with Batch Replication"), and fails if any
destination fails. So the unit is the source bucket, each version appears once in its manifest
however many destinations it failed for, and a version joins a job only when every destination it
is open for is cleared: due (its backoff over), and its cause fixed where its reason needs a fix.
A version with one destination still broken waits — its task would fail, burn an attempt of the
fixed destination, and count towards the rule that fails a job of 1,000+ tasks past 50% failures.

Per chunk of a source the steps are, in this order:

1. write the manifest (key = its content digest),
2. write a *pending marker* next to it holding the exact CreateJob request,
3. CreateJob with the digest as ClientRequestToken and record the job in the ledger,
4. mark each object IN_JOB (conditional transitions),
5. delete the marker.

A crash anywhere leaves either nothing started (1) or a marker (2-5). The next pass first resumes
every marker — resending the same request returns the same JobId, and objects still FAILED that
the manifest lists are marked IN_JOB — and only then plans that source again, so no object ends up in
two jobs and none is lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from replimend import lifecycle
from replimend.alerts import Alert, incident_alert, pair_alert, reminder_alert
from replimend.errors import AwsCallError, ConflictError, NotFoundError, ReplimendError
from replimend.lifecycle import PlanStep
from replimend.manifest_csv import NULL_VERSION, ManifestRow, parse_manifest
from replimend.models import DIAGNOSIS_ACTOR, FailureRecord, JobRecord, JobStatus, ObjectState
from replimend.observability import logger
from replimend.ports import (
    CauseGate,
    JobStarter,
    ManifestStorage,
    Notifier,
    ObjectInspector,
    RemediationLedger,
    ReplicationJobRequest,
    SourceVersionStatus,
)
from replimend.reasons import UNKNOWN_REASON
from replimend.remediate.gate import CachedGate
from replimend.remediate.manifest import (
    PENDING_PREFIX,
    ManifestChunk,
    client_request_token,
    pending_marker_key,
    released_marker_key,
    report_prefix,
)
from replimend.settings import RemediationSettings

ACTOR = "remediate"
#: Passes that may fail to resume a pending job before its source is released.
MAX_RESUMES = 4


class _Waits:
    """A destination record that stays open and holds its version out of this pass's jobs."""


_WAITS = _Waits()
#: Candidates are read and head-checked in batches of this many (parallel HEADs, ordered results).
PLAN_BATCH = 256


@dataclass
class SourceResult:
    """What one pass did (or, in a dry run, would do) for one source bucket."""

    source_bucket: str
    planned: int = 0  # versions put in a manifest (or that would be)
    obsolete: int = 0  # records closed: source version gone
    done: int = 0  # records closed: already replicated everywhere
    blocked: int = 0  # records held by the gate this pass
    unblocked: int = 0  # BLOCKED → FAILED because the gate opened
    gave_up: int = 0
    escalated: int = 0  # of closed_by_reason: closed ESCALATED (a person must act)
    closed_by_reason: int = 0  # escalated/closed because the reason's action allows no job
    not_due: int = 0
    waiting_for_other_destination: int = 0  # cleared records whose version waits for another one
    conflicts: int = 0  # changed under us; picked again next pass
    unverified: int = 0  # HEAD could not check the version; included, the job will tell
    marked_in_job: int = 0  # destination records marked IN_JOB
    destinations: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    manifest_keys: list[str] = field(default_factory=list)
    resumed_jobs: list[str] = field(default_factory=list)
    released_markers: int = 0  # pending jobs given up on after MAX_RESUMES failed resumes
    held_by_backfill: list[str] = field(default_factory=list)  # active backfill jobs of the source
    errors: list[str] = field(default_factory=list)
    #: first failure of the oldest due (FAILED or BLOCKED) record this pass looked at
    oldest_due: datetime | None = None

    @property
    def skipped(self) -> int:
        return self.obsolete + self.done + self.blocked + self.gave_up + self.closed_by_reason


@dataclass
class RemediationResult:
    dry_run: bool
    started_at: datetime
    sources: list[SourceResult] = field(default_factory=list)
    gate: dict[str, str] = field(default_factory=dict)  # "src -> dst: reason" → decision summary
    truncated: str | None = None  # why the pass stopped early (budget, deadline), if it did
    open_incidents: int | None = None  # counted after the gate's decisions (None: not counted)
    reminders: int = 0  # reminders sent for incidents open longer than the reminder interval

    def oldest_due_age(self) -> float:
        """Seconds since the oldest due failure of the pass first failed (0: nothing due)."""
        oldest = [s.oldest_due for s in self.sources if s.oldest_due is not None]
        return max(0.0, (self.started_at - min(oldest)).total_seconds()) if oldest else 0.0

    def source(self, source_bucket: str) -> SourceResult:
        for result in self.sources:
            if result.source_bucket == source_bucket:
                return result
        result = SourceResult(source_bucket)
        self.sources.append(result)
        return result

    @property
    def jobs(self) -> list[str]:
        return [job for source in self.sources for job in (*source.resumed_jobs, *source.jobs)]

    def total(self, name: str) -> int:
        return sum(int(getattr(source, name)) for source in self.sources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "started_at": self.started_at.isoformat(),
            "truncated": self.truncated,
            "gate": self.gate,
            "sources": [{**asdict(source), "skipped": source.skipped} for source in self.sources],
        }


@dataclass
class Remediation:
    """The dependencies of a pass: ledger, gate, S3 and s3control adapters, settings."""

    ledger: RemediationLedger
    gate: CauseGate
    objects: ObjectInspector
    storage: ManifestStorage
    jobs: JobStarter
    settings: RemediationSettings
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    head_concurrency: int = 16
    #: Skip HEAD checks (cost/latency trade-off): the job's report then closes gone versions.
    verify_source_versions: bool = True
    #: Where incident alerts go (None: nowhere).
    notifier: Notifier | None = None

    def run(
        self,
        *,
        bucket: str | None = None,
        dry_run: bool | None = None,
        deadline: float | None = None,
    ) -> RemediationResult:
        """One pass. ``deadline`` is a ``time.monotonic()`` value after which no new work starts."""
        return _Pass(
            self,
            bucket=bucket,
            dry_run=self.settings.dry_run if dry_run is None else dry_run,
            deadline=deadline,
        ).run_batched()


class _Pass:
    def __init__(self, deps: Remediation, *, bucket: str | None, dry_run: bool, deadline: float | None):
        self.deps = deps
        self.ledger = deps.ledger
        self.settings = deps.settings
        self.bucket = bucket
        self.dry_run = dry_run
        self.deadline = deadline
        self.now = deps.clock()
        self.gate = CachedGate(deps.gate)
        self.result = RemediationResult(dry_run=dry_run, started_at=self.now)
        self.budget = self.settings.max_objects_per_run

    # ---- the pass -------------------------------------------------------------------------
    def run_batched(self) -> RemediationResult:
        # Activity pages are written once at the end of the pass, not per transition.
        with self.ledger.batch():
            return self.run()

    def run(self) -> RemediationResult:
        held: set[str] = set()
        if not self.dry_run:
            held = self._resume_pending()
        with ThreadPoolExecutor(max_workers=max(1, self.deps.head_concurrency)) as pool:
            for source in self.ledger.open_sources():
                if self.bucket and source != self.bucket:
                    continue
                if source in held:
                    continue  # its unfinished job must be resumed first, or objects could join two jobs
                if self._stop_reason():
                    break
                result = self.result.source(source)
                backfills = [j.job_id for j in self.ledger.active_jobs(source) if j.kind == "backfill"]
                if backfills:
                    # Never two replimend jobs at once for a source: its objects wait for the next pass.
                    result.held_by_backfill = backfills
                    continue
                try:
                    self._plan_source(result, pool)
                except ReplimendError as exc:
                    logger.exception("remediation of source failed", extra={"source": source})
                    result.errors.append(str(exc))
        alerts = self._record_gate_decisions()
        alerts += self._reminders()
        self._send(alerts)
        self.result.truncated = self._stop_reason()
        return self.result

    def _stop_reason(self) -> str | None:
        if self.budget <= 0:
            return f"max_objects_per_run ({self.settings.max_objects_per_run}) reached"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "time budget of the invocation reached"
        return None

    # ---- planning -------------------------------------------------------------------------
    def _plan_source(self, result: SourceResult, pool: ThreadPoolExecutor) -> None:
        source = result.source_bucket
        chunk = ManifestChunk(source)
        try:
            for batch in _batches(self.ledger.due_versions(source, now=self.now), PLAN_BATCH):
                versions = [cleared for records in batch if (cleared := self._clear_version(result, records))]
                for records, status in zip(versions, self._head_statuses(versions, pool), strict=True):
                    if self.budget <= 0:
                        break
                    checked = lifecycle.after_head(status)
                    if checked.to_state is not None:
                        # COMPLETED means every destination has it; a gone version is gone for all.
                        for record in records:
                            self._move(result, record, checked.to_state, checked.why)
                        result.obsolete += len(records) * (checked.to_state is ObjectState.OBSOLETE)
                        result.done += len(records) * (checked.to_state is ObjectState.DONE)
                        continue
                    result.unverified += status is SourceVersionStatus.UNVERIFIED
                    chunk.add(records)
                    result.planned += 1
                    for record in records:
                        if record.ref.destination_bucket not in result.destinations:
                            result.destinations.append(record.ref.destination_bucket)
                    self.budget -= 1
                    if chunk.count >= self.settings.max_objects_per_job:
                        self._submit(result, chunk)
                        chunk.close()
                        chunk = ManifestChunk(source)
                if self._stop_reason():
                    break
            if chunk.count:
                self._submit(result, chunk)
        finally:
            chunk.close()

    def _clear_version(self, result: SourceResult, records: list[FailureRecord]) -> list[FailureRecord]:
        """The records of a version that go into a job together, or [] if it must wait.

        Every destination the version is open for is looked at: each is closed, given up, held by
        the gate, not yet due, or cleared. The version goes into a job only if nothing of it is
        held, not due or already in a job, and at least one destination is cleared.
        """
        cleared: list[FailureRecord] = []
        waiting = False
        for record in records:
            if record.state is ObjectState.IN_JOB:
                waiting = True  # another job has it; that job decides
            elif record.state in lifecycle.DUE_STATES:
                if record.first_seen is not None and (
                    result.oldest_due is None or record.first_seen < result.oldest_due
                ):
                    result.oldest_due = record.first_seen
                outcome = self._pre_check(result, record)
                if isinstance(outcome, _Waits):
                    waiting = True
                elif outcome is not None:
                    cleared.append(outcome)
        if waiting:
            result.waiting_for_other_destination += len(cleared)
            return []
        return cleared

    def _pre_check(self, result: SourceResult, record: FailureRecord) -> FailureRecord | _Waits | None:
        """The lifecycle's plan for one destination record (and the gate's answer when its cause
        needs a fix): the record, cleared for a job; _WAITS if it stays open and holds its version;
        None if it was closed or given up (it holds nothing)."""
        decision = lifecycle.plan(record, now=self.now, max_attempts=self.settings.max_attempts)
        if decision.step is PlanStep.SKIP:
            result.not_due += 1
            return _WAITS
        if decision.step is PlanStep.ASK_GATE:
            source, destination = record.ref.source_bucket, record.ref.destination_bucket
            reason = record.failure_reason or UNKNOWN_REASON.code
            answer = self.gate.is_fixed(source, destination, reason)
            self.result.gate[f"{source} -> {destination}: {reason}"] = answer.summary
            decision = lifecycle.after_gate(record, fixed=answer.fixed, summary=answer.summary)
            if decision.step is PlanStep.SKIP:
                if decision.to_state is not None:
                    self._move(result, record, decision.to_state, decision.why)
                result.blocked += 1
                return _WAITS
        if decision.to_state is None:
            return record
        moved = self._move(result, record, decision.to_state, decision.why)
        if decision.step is PlanStep.CLOSE:
            result.closed_by_reason += 1
            result.escalated += decision.to_state is ObjectState.ESCALATED
            return None
        if decision.step is PlanStep.GIVE_UP:
            result.gave_up += 1
            return None
        if moved is None:  # changed under us: it stays open; look again next pass
            return _WAITS
        result.unblocked += 1  # BLOCKED -> FAILED: on to a job
        return moved

    def _head_statuses(
        self, versions: list[list[FailureRecord]], pool: ThreadPoolExecutor
    ) -> list[SourceVersionStatus]:
        """One HEAD of the source version per version (not per destination), in parallel."""
        if not self.deps.verify_source_versions:
            return [SourceVersionStatus.UNVERIFIED] * len(versions)
        check = self.deps.objects.source_version_status
        refs = [records[0].ref for records in versions]
        return list(pool.map(lambda ref: check(ref.source_bucket, ref.key, ref.version_id), refs))

    def _move(
        self, result: SourceResult, record: FailureRecord, to_state: ObjectState, why: str
    ) -> FailureRecord | None:
        """A conditional transition (nothing in a dry run); None when the record changed under us."""
        if self.dry_run:
            return record
        try:
            return self.ledger.transition(record, to_state, reason=why, actor=ACTOR)
        except ConflictError:
            result.conflicts += 1
            return None

    # ---- starting a job -------------------------------------------------------------------
    def _submit(self, result: SourceResult, chunk: ManifestChunk) -> None:
        source = result.source_bucket
        result.manifest_keys.append(chunk.key)
        destinations = sorted(chunk.destinations)
        if self.dry_run:
            logger.info(
                "dry run: would start a job",
                extra={
                    "source": source,
                    "destinations": destinations,
                    "objects": chunk.count,
                    "manifest": chunk.key,
                },
            )
            return
        settings = self.settings
        if self._was_released(pending_marker_key(source, chunk.digest)):
            # The same rows were planned before and their job could never be resumed: a new token,
            # so a token S3 keeps refusing cannot hold these objects forever.
            chunk.salt(self.now.isoformat())
        etag = self.deps.storage.put_manifest(settings.manifest_bucket, chunk.key, chunk.rewound_body())
        request = ReplicationJobRequest(
            account_id=settings.account_id,
            region=self.deps.objects.bucket_region(source),
            source_bucket=source,
            destinations=destinations,
            manifest_bucket=settings.manifest_bucket,
            manifest_key=chunk.key,
            manifest_etag=etag,
            object_count=chunk.count,
            report_bucket=settings.report_bucket,
            report_prefix=report_prefix(source),
            role_arn=settings.batch_role_arn,
            priority=settings.job_priority,
            token=chunk.token,
            partition=settings.partition,
            description=job_description(chunk.digest, chunk.count, source, len(destinations)),
        )
        marker = pending_marker_key(source, chunk.digest)
        self.deps.storage.put_text(settings.manifest_bucket, marker, request.to_json())
        job = self._start_job(request)
        result.jobs.append(job.job_id)
        if self._mark_in_job(result, job, chunk.records()):  # streamed from the spool file
            self.deps.storage.delete(settings.manifest_bucket, marker)

    def _start_job(self, request: ReplicationJobRequest, *, resuming: bool = False) -> JobRecord:
        """The job of a request: the one the ledger or S3 already has for it, else a new one.

        A resumed request (a pass died after writing its marker) is looked up with ListJobs, by the
        tag in its Description, before CreateJob is sent again: a job must never start twice, and
        what CreateJob answers for a token it has seen is not documented. If CreateJob refuses the
        token (IdempotencyException), the job it remembers is looked up the same way.
        """
        known = self.ledger.find_job_by_token(request.token)
        if known is not None:
            return known
        tag = job_tag(request.token)
        job_id = self.deps.jobs.find_job(request.region, tag) if resuming else None
        if job_id is None:
            try:
                job_id = self.deps.jobs.create_replication_job(request)
            except AwsCallError as exc:
                job_id = (
                    self.deps.jobs.find_job(request.region, tag)
                    if exc.code == "IdempotencyException"
                    else None
                )
                if job_id is None:
                    raise
        job = JobRecord(
            job_id=job_id,
            source_bucket=request.source_bucket,
            # A job covers every destination of its source; a single one is named for readers.
            destination_bucket=request.destinations[0] if len(request.destinations) == 1 else None,
            destinations=list(request.destinations),
            status=JobStatus.NEW.value,
            client_request_token=request.token,
            object_count=request.object_count,
            manifest_arn=request.manifest_arn,
            manifest_etag=request.manifest_etag,
            report_bucket=request.report_bucket,
            report_prefix=request.report_prefix,
            created_at=self.deps.clock(),
            region=request.region,
        )
        if not self.ledger.create_job(job):
            job = self.ledger.get_job(job_id) or job
        logger.info(
            "started batch replication job",
            extra={
                "job_id": job_id,
                "objects": request.object_count,
                "source": request.source_bucket,
                "destinations": request.destinations,
            },
        )
        return job

    def _mark_in_job(self, result: SourceResult, job: JobRecord, records: Iterable[FailureRecord]) -> bool:
        """Mark the job's objects IN_JOB; False if the time ran out (the marker resumes it)."""
        for count, record in enumerate(records):
            if count % 500 == 0 and self.deadline is not None and time.monotonic() >= self.deadline:
                return False
            if self._mark_one(record, job.job_id):
                result.marked_in_job += 1
        return True

    def _mark_one(self, record: FailureRecord, job_id: str) -> bool:
        for _ in range(3):
            # IN_JOB: this job's mark survived a crash, or a concurrent pass took it. Other states:
            # closed meanwhile (e.g. a later event said it replicated).
            if record.state not in (ObjectState.FAILED, ObjectState.BLOCKED):
                return False
            try:
                self.ledger.transition(
                    record, ObjectState.IN_JOB, reason="in batch replication job", actor=ACTOR, job_id=job_id
                )
                return True
            except ConflictError as exc:
                fresh = exc.current if isinstance(exc.current, FailureRecord) else None
                fresh = fresh or self.ledger.get_failure(record.ref)
                if fresh is None:
                    return False
                record = fresh
        return False

    # ---- crash recovery -------------------------------------------------------------------
    def _resume_pending(self) -> set[str]:
        """Finish every job a previous pass left half-started; sources that could not be resumed
        are held for this pass."""
        held: set[str] = set()
        storage, bucket = self.deps.storage, self.settings.manifest_bucket
        prefix = f"{PENDING_PREFIX}{self.bucket}/" if self.bucket else PENDING_PREFIX
        for marker in list(storage.list_keys(bucket, prefix)):
            try:
                request = ReplicationJobRequest.from_json(storage.get_bytes(bucket, marker))
            except (ReplimendError, ValueError, KeyError, TypeError) as exc:
                logger.error(
                    "unreadable pending marker left in place", extra={"marker": marker, "error": str(exc)}
                )
                continue
            result = self.result.source(request.source_bucket)
            try:
                job = self._start_job(request, resuming=True)
                result.resumed_jobs.append(job.job_id)
                result.manifest_keys.append(request.manifest_key)
                if job.outcome_recorded:
                    finished = True  # tracking already applied the report to these objects
                else:
                    rows = parse_manifest(storage.iter_lines(bucket, request.manifest_key))
                    finished = self._mark_in_job(result, job, self._open_records(rows))
                if not finished:
                    held.add(request.source_bucket)
                else:
                    storage.delete(bucket, marker)
            except ReplimendError as exc:
                logger.exception("could not resume a pending job", extra={"marker": marker})
                result.errors.append(f"resume {request.manifest_key}: {exc}")
                if self._give_up_on_marker(marker, storage.get_bytes(bucket, marker)):
                    result.released_markers += 1
                held.add(request.source_bucket)  # released or not, not planned again in this pass
        return held

    def _open_records(self, rows: Iterable[ManifestRow]) -> Iterator[FailureRecord]:
        """The FAILED/BLOCKED records of each manifest row's version, every destination: its task
        replicates to all of them, so all of them are in the job."""
        for row in rows:
            version = None if row.version_id == NULL_VERSION else row.version_id
            for record in self.ledger.version_records(row.bucket, row.key, version):
                if record.state in lifecycle.DUE_STATES:
                    yield record

    def _give_up_on_marker(self, marker: str, document: bytes) -> bool:
        """Count one more failed resume in the marker; past MAX_RESUMES release its source (True).

        Its objects not yet marked stay FAILED and are planned again from the next pass, under a new
        token (``_was_released``); the source is never held forever.
        """
        data = json.loads(document)
        data["failed_resumes"] = int(data.get("failed_resumes", 0)) + 1
        if data["failed_resumes"] < MAX_RESUMES:
            self.deps.storage.put_text(
                self.settings.manifest_bucket, marker, json.dumps(data, sort_keys=True)
            )
            return False
        logger.error(
            "pending job could not be resumed; its source is released",
            extra={"marker": marker, "failed_resumes": data["failed_resumes"]},
        )
        self.deps.storage.put_text(
            self.settings.manifest_bucket, released_marker_key(marker), json.dumps(data)
        )
        self.deps.storage.delete(self.settings.manifest_bucket, marker)
        return True

    def _was_released(self, marker: str) -> bool:
        try:
            self.deps.storage.get_bytes(self.settings.manifest_bucket, released_marker_key(marker))
        except NotFoundError:
            return False
        return True

    def _record_gate_decisions(self) -> list[Alert]:
        """Record each decision on its incident; the alerts the decisions call for."""
        alerts: list[Alert] = []
        if self.dry_run:
            return alerts
        for (source, destination, reason), decision in self.gate.decisions.items():
            try:
                before = self.ledger.get_incident(source, destination, reason)
                alert = incident_alert(before, decision, source, destination, reason)
                if alert is not None:
                    alerts.append(alert)
                incident = self.ledger.record_diagnosis(
                    source, destination, reason, decision.summary, decision.checks
                )
                if decision.fixed and decision.resolved_by == DIAGNOSIS_ACTOR and not incident.fixed:
                    # its checks pass: the incident resolves (resolved_by: diagnosis); a later failure
                    # reopens it (lifecycle.incident_reopens)
                    self.ledger.set_incident_fixed(source, destination, reason, actor=DIAGNOSIS_ACTOR)
            except ReplimendError:
                logger.warning("gate decision not recorded", extra={"reason": reason, "source": source})
        return alerts

    def _reminders(self) -> list[Alert]:
        """Count the open incidents; a reminder for each open past the interval and not reminded
        within it (the ledger's conditional claim: one reminder per interval, however many passes)."""
        try:
            incidents = self.ledger.list_incidents(open_only=True)
        except ReplimendError:
            logger.warning("open incidents not listed: no reminders this pass")
            return []
        self.result.open_incidents = len(incidents)
        hours = self.settings.incident_reminder_hours
        if self.dry_run or not hours or self.deps.notifier is None:
            return []
        interval = timedelta(hours=hours)
        alerts: list[Alert] = []
        for incident in incidents:
            if self.now - incident.opened_at < interval:
                continue
            if incident.last_reminded_at is not None and self.now - incident.last_reminded_at < interval:
                continue  # saves the conditional write; the claim below decides
            try:
                claimed = self.ledger.claim_incident_reminder(
                    incident.source_bucket,
                    incident.destination_bucket,
                    incident.failure_reason,
                    interval=interval,
                )
            except ReplimendError:
                logger.warning("reminder not claimed", extra={"reason": incident.failure_reason})
                continue
            if claimed:
                alerts.append(reminder_alert(incident, self.now))
                self.result.reminders += 1
        return alerts

    def _send(self, alerts: list[Alert]) -> None:
        notifier = self.deps.notifier
        if notifier is None or self.dry_run:
            return
        for source in self.result.sources:
            alert = pair_alert(
                source.source_bucket,
                ", ".join(source.destinations) or "its destinations",
                gave_up=source.gave_up,
                escalated=source.escalated,
            )
            if alert is not None:
                alerts.append(alert)
        for alert in alerts:
            try:
                notifier.publish(alert.subject, alert.message)
            except ReplimendError:
                logger.exception("alert not published", extra={"subject": alert.subject})


def _batches(items: Iterable[list[FailureRecord]], size: int) -> Iterator[list[list[FailureRecord]]]:
    batch: list[list[FailureRecord]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def job_tag(token: str) -> str:
    """What a job's Description carries so ListJobs can find it: the manifest digest's token."""
    return f"replimend:{token[:32]}"


def job_description(digest: str, count: int, source_bucket: str, destinations: int) -> str:
    # At most 256 characters (CreateJob): the 42-character tag, a bucket name of at most 63 and the
    # counts fit.
    tag = job_tag(client_request_token(digest))
    return f"{tag} re-drive {count} versions of {source_bucket} to {destinations} destination(s)"
