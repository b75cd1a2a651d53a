"""One remediation pass: gate, pick due failures per (source, destination), start one job per manifest.

Per chunk of a pair the steps are, in this order:

1. write the manifest (key = its content digest),
2. write a *pending marker* next to it holding the exact CreateJob request,
3. CreateJob with the digest as ClientRequestToken and record the job in the ledger,
4. mark each object IN_JOB (conditional transitions),
5. delete the marker.

A crash anywhere leaves either nothing started (1) or a marker (2-5). The next pass first resumes
every marker — resending the same request returns the same JobId, and objects still FAILED that
the manifest lists are marked IN_JOB — and only then plans that pair again, so no object ends up in
two jobs and none is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from replimend import lifecycle
from replimend.alerts import Alert, incident_alert, pair_alert
from replimend.errors import ConflictError, ReplimendError
from replimend.ledger_lookup import find_failure
from replimend.lifecycle import PlanStep
from replimend.manifest_csv import ManifestRow, parse_manifest
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
    pending_marker_key,
    report_prefix,
)
from replimend.settings import RemediationSettings

ACTOR = "remediate"
#: Candidates are read and head-checked in batches of this many (parallel HEADs, ordered results).
PLAN_BATCH = 256


@dataclass
class PairResult:
    """What one pass did (or, in a dry run, would do) for one (source, destination)."""

    source_bucket: str
    destination_bucket: str
    planned: int = 0  # objects put in a manifest (or that would be)
    obsolete: int = 0
    done: int = 0
    blocked: int = 0  # held by the gate this pass
    unblocked: int = 0  # BLOCKED → FAILED because the gate opened
    gave_up: int = 0
    escalated: int = 0  # of closed_by_reason: closed ESCALATED (a person must act)
    closed_by_reason: int = 0  # escalated/closed because the reason's action allows no job
    not_due: int = 0
    conflicts: int = 0  # changed under us; picked again next pass
    unverified: int = 0  # HEAD could not check the version; included, the job will tell
    marked_in_job: int = 0
    jobs: list[str] = field(default_factory=list)
    manifest_keys: list[str] = field(default_factory=list)
    resumed_jobs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return self.obsolete + self.done + self.blocked + self.gave_up + self.closed_by_reason


@dataclass
class RemediationResult:
    dry_run: bool
    started_at: datetime
    pairs: list[PairResult] = field(default_factory=list)
    gate: dict[str, str] = field(default_factory=dict)  # "src -> dst: reason" → decision summary
    truncated: str | None = None  # why the pass stopped early (budget, deadline), if it did

    def pair(self, source_bucket: str, destination_bucket: str) -> PairResult:
        for pair in self.pairs:
            if (pair.source_bucket, pair.destination_bucket) == (source_bucket, destination_bucket):
                return pair
        pair = PairResult(source_bucket, destination_bucket)
        self.pairs.append(pair)
        return pair

    @property
    def jobs(self) -> list[str]:
        return [job for pair in self.pairs for job in (*pair.resumed_jobs, *pair.jobs)]

    def total(self, name: str) -> int:
        return sum(int(getattr(pair, name)) for pair in self.pairs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "started_at": self.started_at.isoformat(),
            "truncated": self.truncated,
            "gate": self.gate,
            "pairs": [{**asdict(pair), "skipped": pair.skipped} for pair in self.pairs],
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
        held: set[tuple[str, str]] = set()
        if not self.dry_run:
            held = self._resume_pending()
        with ThreadPoolExecutor(max_workers=max(1, self.deps.head_concurrency)) as pool:
            for source, destination in self.ledger.open_pairs():
                if self.bucket and source != self.bucket:
                    continue
                if (source, destination) in held:
                    continue  # its unfinished job must be resumed first, or objects could join two jobs
                if self._stop_reason():
                    break
                pair = self.result.pair(source, destination)
                try:
                    self._plan_pair(pair, pool)
                except ReplimendError as exc:
                    logger.exception(
                        "remediation of pair failed", extra={"source": source, "dest": destination}
                    )
                    pair.errors.append(str(exc))
        alerts = self._record_gate_decisions()
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
    def _plan_pair(self, pair: PairResult, pool: ThreadPoolExecutor) -> None:
        chunk = ManifestChunk(pair.source_bucket, pair.destination_bucket)
        try:
            candidates = self.ledger.due_failures(pair.source_bucket, pair.destination_bucket, now=self.now)
            for batch in _batches(candidates, PLAN_BATCH):
                eligible = [record for record in map(lambda r: self._pre_check(pair, r), batch) if record]
                for record, status in zip(eligible, self._head_statuses(eligible, pool), strict=True):
                    if self.budget <= 0:
                        break
                    checked = lifecycle.after_head(status)
                    if checked.to_state is not None:
                        self._move(pair, record, checked.to_state, checked.why)
                        pair.obsolete += checked.to_state is ObjectState.OBSOLETE
                        pair.done += checked.to_state is ObjectState.DONE
                        continue
                    pair.unverified += status is SourceVersionStatus.UNVERIFIED
                    chunk.add(record)
                    pair.planned += 1
                    self.budget -= 1
                    if chunk.count >= self.settings.max_objects_per_job:
                        self._submit(pair, chunk)
                        chunk.close()
                        chunk = ManifestChunk(pair.source_bucket, pair.destination_bucket)
                if self._stop_reason():
                    break
            if chunk.count:
                self._submit(pair, chunk)
        finally:
            chunk.close()

    def _pre_check(self, pair: PairResult, record: FailureRecord) -> FailureRecord | None:
        """The lifecycle's plan for a due record (and the gate's answer when its cause needs a fix);
        the record to HEAD-check and put in a job, or None."""
        decision = lifecycle.plan(record, now=self.now, max_attempts=self.settings.max_attempts)
        if decision.step is PlanStep.SKIP:
            pair.not_due += record.state in lifecycle.DUE_STATES
            return None
        if decision.step is PlanStep.ASK_GATE:
            reason = record.failure_reason or UNKNOWN_REASON.code
            answer = self.gate.is_fixed(pair.source_bucket, pair.destination_bucket, reason)
            self.result.gate[f"{pair.source_bucket} -> {pair.destination_bucket}: {reason}"] = answer.summary
            decision = lifecycle.after_gate(record, fixed=answer.fixed, summary=answer.summary)
            if decision.step is PlanStep.SKIP:
                if decision.to_state is not None:
                    self._move(pair, record, decision.to_state, decision.why)
                pair.blocked += 1
                return None
        if decision.to_state is None:
            return record
        moved = self._move(pair, record, decision.to_state, decision.why)
        if decision.step is PlanStep.CLOSE:
            pair.closed_by_reason += 1
            pair.escalated += decision.to_state is ObjectState.ESCALATED
        elif decision.step is PlanStep.GIVE_UP:
            pair.gave_up += 1
        elif moved is not None:  # BLOCKED -> FAILED: on to a job
            pair.unblocked += 1
            return moved
        return None

    def _head_statuses(
        self, records: list[FailureRecord], pool: ThreadPoolExecutor
    ) -> list[SourceVersionStatus]:
        if not self.deps.verify_source_versions:
            return [SourceVersionStatus.UNVERIFIED] * len(records)
        check = self.deps.objects.source_version_status
        return list(pool.map(lambda r: check(r.ref.source_bucket, r.ref.key, r.ref.version_id), records))

    def _move(
        self, pair: PairResult, record: FailureRecord, to_state: ObjectState, why: str
    ) -> FailureRecord | None:
        """A conditional transition (nothing in a dry run); None when the record changed under us."""
        if self.dry_run:
            return record
        try:
            return self.ledger.transition(record, to_state, reason=why, actor=ACTOR)
        except ConflictError:
            pair.conflicts += 1
            return None

    # ---- starting a job -------------------------------------------------------------------
    def _submit(self, pair: PairResult, chunk: ManifestChunk) -> None:
        pair.manifest_keys.append(chunk.key)
        if self.dry_run:
            logger.info(
                "dry run: would start a job",
                extra={
                    "source": pair.source_bucket,
                    "dest": pair.destination_bucket,
                    "objects": chunk.count,
                    "manifest": chunk.key,
                },
            )
            return
        settings = self.settings
        etag = self.deps.storage.put_manifest(settings.manifest_bucket, chunk.key, chunk.rewound_body())
        request = ReplicationJobRequest(
            account_id=settings.account_id,
            region=self.deps.objects.bucket_region(pair.source_bucket),
            source_bucket=pair.source_bucket,
            destination_bucket=pair.destination_bucket,
            manifest_bucket=settings.manifest_bucket,
            manifest_key=chunk.key,
            manifest_etag=etag,
            object_count=chunk.count,
            report_bucket=settings.report_bucket,
            report_prefix=report_prefix(pair.source_bucket, pair.destination_bucket),
            role_arn=settings.batch_role_arn,
            priority=settings.job_priority,
            token=chunk.token,
            description=(
                f"replimend: re-drive {chunk.count} objects {pair.source_bucket} -> {pair.destination_bucket}"
            ),
        )
        marker = pending_marker_key(pair.source_bucket, pair.destination_bucket, chunk.digest)
        self.deps.storage.put_text(settings.manifest_bucket, marker, request.to_json())
        job = self._start_job(request)
        pair.jobs.append(job.job_id)
        finished = self._mark_in_job(pair, job, chunk.records())
        if finished:
            self.deps.storage.delete(settings.manifest_bucket, marker)

    def _start_job(self, request: ReplicationJobRequest) -> JobRecord:
        known = self.ledger.find_job_by_token(request.token)
        if known is not None:
            return known
        job_id = self.deps.jobs.create_replication_job(request)
        job = JobRecord(
            job_id=job_id,
            source_bucket=request.source_bucket,
            destination_bucket=request.destination_bucket,
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
                "dest": request.destination_bucket,
            },
        )
        return job

    def _mark_in_job(self, pair: PairResult, job: JobRecord, records: Iterable[FailureRecord | None]) -> bool:
        """Mark the job's objects IN_JOB; False if the time ran out (the marker resumes it)."""
        for count, record in enumerate(records):
            if count % 500 == 0 and self.deadline is not None and time.monotonic() >= self.deadline:
                return False
            if record is not None and self._mark_one(record, job.job_id):
                pair.marked_in_job += 1
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
            except ConflictError:
                fresh = self.ledger.get_failure(record.ref)
                if fresh is None:
                    return False
                record = fresh
        return False

    # ---- crash recovery -------------------------------------------------------------------
    def _resume_pending(self) -> set[tuple[str, str]]:
        """Finish every job a previous pass left half-started; pairs that could not be resumed are held."""
        held: set[tuple[str, str]] = set()
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
            pair_key = (request.source_bucket, request.destination_bucket)
            pair = self.result.pair(*pair_key)
            try:
                job = self._start_job(request)  # same token and request: the same JobId
                pair.resumed_jobs.append(job.job_id)
                pair.manifest_keys.append(request.manifest_key)
                if job.outcome_recorded:
                    finished = True  # tracking already applied the report to these objects
                else:
                    rows = parse_manifest(storage.iter_lines(bucket, request.manifest_key))
                    records = (self._find(row, request.destination_bucket) for row in rows)
                    finished = self._mark_in_job(pair, job, records)
                if finished:
                    storage.delete(bucket, marker)
                else:
                    held.add(pair_key)
            except ReplimendError as exc:
                logger.exception("could not resume a pending job", extra={"marker": marker})
                pair.errors.append(f"resume {request.manifest_key}: {exc}")
                held.add(pair_key)
        return held

    def _find(self, row: ManifestRow, destination_bucket: str) -> FailureRecord | None:
        return find_failure(self.ledger, row.bucket, row.key, row.version_id, destination_bucket)

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

    def _send(self, alerts: list[Alert]) -> None:
        notifier = self.deps.notifier
        if notifier is None or self.dry_run:
            return
        for pair in self.result.pairs:
            alert = pair_alert(
                pair.source_bucket, pair.destination_bucket, gave_up=pair.gave_up, escalated=pair.escalated
            )
            if alert is not None:
                alerts.append(alert)
        for alert in alerts:
            try:
                notifier.publish(alert.subject, alert.message)
            except ReplimendError:
                logger.exception("alert not published", extra={"subject": alert.subject})


def _batches(items: Iterable[FailureRecord], size: int) -> Iterator[list[FailureRecord]]:
    batch: list[FailureRecord] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
