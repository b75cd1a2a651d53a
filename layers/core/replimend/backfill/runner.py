"""One backfill run: per enrolled source bucket, one generated-manifest Batch Replication job, never
overlapping another replimend job of that source, and only when diagnosis passes.

Per source, in this order:
1. the source must be in this Region: "the generated manifest must be stored in the same AWS Region
   as the source bucket" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html),
   and the manifest bucket is the stack's;
2. the gate: every destination of the enabled rules passes the checks a Batch Replication task
   depends on (a task replicates to every rule's destination and fails if one fails:
   https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-troubleshoot.html); a blocked
   source is reported on its ``BackfillBlocked`` incident (with an alert when it is news);
3. a lease on the source in the ledger (a conditional put), so concurrent triggers cannot both pass;
4. no active replimend job for the source, in the ledger or in ListJobs (every page);
5. CreateJob with a token derived from source, filter and window, and the job recorded in the ledger
   (kind ``backfill``): track_jobs tracks it like any other.
A run that dies after CreateJob leaves a job whose Description carries the token's tag: the next run
finds it with ListJobs and records it instead of starting another.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from replimend.alerts import Alert, incident_alert, pending_alert
from replimend.backfill.inventory import InventoryRow
from replimend.backfill.pending import (
    ANY_DESTINATION,
    STUCK_PENDING,
    InventoryReader,
    PendingReport,
    find_stuck,
    pending_summary,
)
from replimend.backfill.planner import (
    BACKFILL_BLOCKED,
    CostEstimate,
    GeneratorFilter,
    job_description,
    job_tag,
    manifest_prefix,
    overlap,
    parse_statuses,
    report_prefix,
    request_token,
    window_of,
)
from replimend.diagnose import REGISTRY, rules
from replimend.errors import ReplimendError
from replimend.models import DIAGNOSIS_ACTOR, JobRecord, JobStatus
from replimend.observability import logger
from replimend.ports import (
    BackfillJobRequest,
    BackfillJobStarter,
    ConfigReader,
    GateDecision,
    Notifier,
    PairGate,
)
from replimend.settings import BackfillSettings

ACTOR = "backfill"
#: Checks about event delivery are left out: a source whose metrics or notification are off is
#: exactly what backfill is for. Object-level checks need a key.
BACKFILL_CHECKS = tuple(
    name
    for name, check in REGISTRY.items()
    if not check.needs_key and name not in ("replication_metrics", "failure_notification")
)


@dataclass
class SourceBackfill:
    """What a run did (or, in a dry run, would do) for one source bucket."""

    source_bucket: str
    outcome: str = "skipped"  # started · recovered · dry_run · skipped · blocked · failed
    detail: str = ""
    job_id: str | None = None
    token: str | None = None
    filter: dict[str, Any] = field(default_factory=dict)
    destinations: list[str] = field(default_factory=list)
    cost: dict[str, Any] | None = None
    pending: dict[str, Any] | None = None


@dataclass
class BackfillResult:
    dry_run: bool
    started_at: datetime
    sources: list[SourceBackfill] = field(default_factory=list)

    @property
    def jobs(self) -> list[str]:
        return [s.job_id for s in self.sources if s.job_id and s.outcome in ("started", "recovered")]

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.sources if s.outcome == outcome)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "started_at": self.started_at.isoformat(),
            "jobs": self.jobs,
            "sources": [asdict(s) for s in self.sources],
        }


@dataclass
class Backfill:
    ledger: Any  # the Ledger facade: jobs, incidents and the per-source lease
    jobs: BackfillJobStarter
    reader: ConfigReader
    gate: PairGate
    inventory: InventoryReader
    settings: BackfillSettings
    notifier: Notifier | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: Identifies this run's lease (a second trigger is another owner).
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)

    def default_filter(self) -> GeneratorFilter:
        return GeneratorFilter(statuses=parse_statuses(self.settings.backfill_statuses))

    def run(
        self,
        *,
        buckets: Sequence[str] | None = None,
        job_filter: GeneratorFilter | None = None,
        dry_run: bool = False,
        scan_pending: bool = True,
    ) -> BackfillResult:
        """Backfill ``buckets`` (every enrolled source when None) with ``job_filter``."""
        now = self.clock()
        result = BackfillResult(dry_run=dry_run, started_at=now)
        chosen = job_filter or self.default_filter()
        for source in list(buckets) if buckets else self.settings.source_buckets:
            try:
                outcome = self.backfill_source(source, chosen, dry_run=dry_run, now=now)
            except ReplimendError as exc:
                logger.exception("backfill failed", extra={"source": source})
                outcome = SourceBackfill(
                    source, "failed", f"{type(exc).__name__}: {exc}", filter=chosen.describe()
                )
            if scan_pending:
                outcome.pending = self.report_pending(source, dry_run=dry_run).to_dict()
            result.sources.append(outcome)
        return result

    # ---- one source ---------------------------------------------------------------------------
    def backfill_source(
        self, source: str, job_filter: GeneratorFilter, *, dry_run: bool, now: datetime
    ) -> SourceBackfill:
        outcome = SourceBackfill(source, filter=job_filter.describe())
        region = self.reader.bucket_region(source)
        if self.settings.region and region != self.settings.region:
            outcome.detail = (
                f"{source} is in {region}: a generated manifest must be stored in the source bucket's "
                f"Region, and the manifest bucket is in {self.settings.region}"
            )
            return outcome
        config = self.reader.replication_configuration(source)
        enabled = [r for r in (config or {}).get("Rules", []) if r.get("Status") == "Enabled"]
        outcome.destinations = rules.destinations({"Rules": enabled})
        if not outcome.destinations:
            outcome.detail = f"{source} has no enabled replication rule: nothing to backfill"
            return outcome
        blocked = self._gate(source, outcome.destinations, dry_run=dry_run)
        if blocked:
            outcome.outcome, outcome.detail = "blocked", blocked
            return outcome
        if dry_run:
            active = overlap(source, self.ledger.active_jobs(source), self.jobs.list_active_jobs(region))
            outcome.outcome = "dry_run"
            outcome.detail = "would start a job" if not active.blocked else f"would wait: {active}"
            outcome.cost = CostEstimate(self.estimate(source, job_filter)).to_dict()
            return outcome
        token = request_token(source, job_filter, window_of(now))
        outcome.token = token
        known = self.ledger.find_job_by_token(token)
        if known is not None:
            outcome.job_id, outcome.detail = known.job_id, "this window's backfill job was started already"
            return outcome
        lease = timedelta(seconds=self.settings.lock_lease_seconds)
        if not self.ledger.acquire_source_lock(source, self.owner, lease=lease):
            outcome.detail = "another backfill run is starting a job for this source"
            return outcome
        try:
            return self._start(outcome, region, job_filter, token)
        finally:
            self.ledger.release_source_lock(source, self.owner)

    def _start(
        self, outcome: SourceBackfill, region: str, job_filter: GeneratorFilter, token: str
    ) -> SourceBackfill:
        source = outcome.source_bucket
        listed = self.jobs.list_active_jobs(region)
        tag = job_tag(token)
        mine = next((j.job_id for j in listed if tag in j.description), None)
        if mine is None:
            active = overlap(source, self.ledger.active_jobs(source), listed)
            if active.blocked:
                outcome.detail = str(active)
                return outcome
            # A job of this token that already ended (a run died before recording it).
            mine = self.jobs.find_job(region, tag)
        request = self._request(outcome, region, job_filter, token)
        if mine is not None:
            outcome.outcome, outcome.detail = "recovered", "recorded the job a previous run started"
            job_id = mine
        else:
            job_id = self.jobs.create_backfill_job(request)
            outcome.outcome, outcome.detail = "started", f"Batch Replication job {job_id}"
        outcome.job_id = job_id
        self.ledger.create_job(
            JobRecord(
                job_id=job_id,
                source_bucket=source,
                destination_bucket=request.destinations[0] if len(request.destinations) == 1 else None,
                destinations=list(request.destinations),
                status=JobStatus.NEW.value,
                client_request_token=token,
                object_count=0,  # S3 generates the manifest: the count comes with the report
                report_bucket=request.report_bucket,
                report_prefix=request.report_prefix,
                created_at=self.clock(),
                region=region,
                kind="backfill",
            )
        )
        logger.info("backfill job", extra={"source": source, "job_id": job_id, "outcome": outcome.outcome})
        return outcome

    def _request(
        self, outcome: SourceBackfill, region: str, job_filter: GeneratorFilter, token: str
    ) -> BackfillJobRequest:
        settings, source = self.settings, outcome.source_bucket
        return BackfillJobRequest(
            account_id=settings.account_id,
            region=region,
            source_bucket=source,
            destinations=outcome.destinations,
            manifest_bucket=settings.manifest_bucket,
            manifest_prefix=manifest_prefix(source),
            report_bucket=settings.report_bucket,
            report_prefix=report_prefix(source),
            role_arn=settings.batch_role_arn,
            priority=settings.job_priority,
            token=token,
            description=job_description(token, source, job_filter),
            filter=job_filter.to_api(),
            partition=settings.partition,
        )

    # ---- the gate -----------------------------------------------------------------------------
    def _gate(self, source: str, destinations: list[str], *, dry_run: bool) -> str | None:
        """None when every destination passes; else why, recorded on each blocked destination's
        ``BackfillBlocked`` incident (and resolved there once it passes)."""
        held = []
        for destination in destinations:
            decision = self.gate.check_pair(source, destination, BACKFILL_CHECKS)
            if not decision.fixed:
                held.append(f"{destination}: {decision.summary}")
            if not dry_run:
                self._record_gate(source, destination, decision)
        return "; ".join(held) if held else None

    def _record_gate(self, source: str, destination: str, decision: GateDecision) -> None:
        before = self.ledger.get_incident(source, destination, BACKFILL_BLOCKED)
        if decision.fixed:
            if before is None or before.fixed:
                return
            self.ledger.record_diagnosis(
                source, destination, BACKFILL_BLOCKED, decision.summary, decision.checks
            )
            self.ledger.set_incident_fixed(source, destination, BACKFILL_BLOCKED, actor=DIAGNOSIS_ACTOR)
        else:
            self.ledger.touch_incident(source, destination, BACKFILL_BLOCKED, at=self.clock())
            self.ledger.record_diagnosis(
                source, destination, BACKFILL_BLOCKED, decision.summary, decision.checks
            )
        self._publish(incident_alert(before, decision, source, destination, BACKFILL_BLOCKED))

    # ---- stuck PENDING ------------------------------------------------------------------------
    def report_pending(self, source: str, *, dry_run: bool = False) -> PendingReport:
        threshold = timedelta(hours=self.settings.pending_threshold_hours)
        try:
            report = find_stuck(self.inventory, source, threshold=threshold, now=self.clock())
        except ReplimendError as exc:
            return PendingReport(
                source, threshold.total_seconds() / 3600, note=f"{type(exc).__name__}: {exc}"
            )
        if dry_run or report.inventory is None or report.note:
            return report
        before = self.ledger.get_incident(source, ANY_DESTINATION, STUCK_PENDING)
        if report.stuck_count:
            self.ledger.touch_incident(source, ANY_DESTINATION, STUCK_PENDING, at=self.clock())
            summary = pending_summary(report)
            self.ledger.record_diagnosis(source, ANY_DESTINATION, STUCK_PENDING, summary)
            if before is None or before.fixed:
                self._publish(pending_alert(source, report.stuck_count, summary))
        elif before is not None and not before.fixed:
            cleared = f"no object PENDING longer than the threshold in {report.inventory}"
            self.ledger.record_diagnosis(source, ANY_DESTINATION, STUCK_PENDING, cleared)
            self.ledger.set_incident_fixed(source, ANY_DESTINATION, STUCK_PENDING, actor=DIAGNOSIS_ACTOR)
        return report

    # ---- costs --------------------------------------------------------------------------------
    def estimate(self, source: str, job_filter: GeneratorFilter) -> int | None:
        """How many versions the filter would select, from the latest inventory (no inventory: not
        known cheaply). The generator also applies the rules' prefix and tag filters; the inventory
        count ignores tags, so it is an upper bound."""
        try:
            location, _ = self.inventory.latest(source)
            if location is None:
                return None
            _, rows = self.inventory.rows(location, lambda _: None)
            return sum(1 for row in rows if _selected(row, job_filter))
        except ReplimendError:
            return None

    def _publish(self, alert: Alert | None) -> None:
        if alert is None or self.notifier is None:
            return
        try:
            self.notifier.publish(alert.subject, alert.message)
        except ReplimendError:
            logger.exception("alert not published", extra={"subject": alert.subject})


def _selected(row: InventoryRow, job_filter: GeneratorFilter) -> bool:
    if row.is_delete_marker:
        return False
    status = row.replication_status or "NONE"
    if status == "COMPLETE":
        status = "COMPLETED"
    if status not in job_filter.statuses:
        return False
    if job_filter.prefixes and not any(row.key.startswith(p) for p in job_filter.prefixes):
        return False
    after = job_filter.created_after
    return after is None or (row.last_modified is not None and row.last_modified > after)
