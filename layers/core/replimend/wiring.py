"""The composition root: every function's dependencies, built from its settings with real boto3
clients, and the metrics helpers of the passes.

  build_ingest(LedgerSettings)            the EventLedger ingest records into
  build_remediation(RemediationSettings)  a Remediation (ledger, diagnosis gate, S3, s3control)
  build_tracker(RemediationSettings)      a JobTracker
  build_audit(LedgerSettings)             the audit API's queries (read-only)
  build_backfill(BackfillSettings)        a Backfill (ledger, diagnosis gate, s3control, S3 Inventory)
  build_archive(ArchiveSettings)          an ArchiveWriter to the audit bucket

Every handler builds its dependencies here, once per container (cold start); the CLI does too, so a
local run exercises the same code. Clients are plain boto3 clients (the embedded AWS attaches to
them through botocore hooks / endpoint env vars).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from replimend.ledger import Ledger
from replimend.settings import ArchiveSettings, BackfillSettings, LedgerSettings, RemediationSettings

if TYPE_CHECKING:
    from replimend.archive import ArchiveWriter
    from replimend.audit.queries import AuditQueries
    from replimend.backfill.runner import Backfill, BackfillResult
    from replimend.ports import CauseGate, EventLedger, Notifier
    from replimend.remediate.gate import DiagnosisGate
    from replimend.remediate.remediation import Remediation, RemediationResult
    from replimend.track.tracker import JobTracker, TrackingResult

# Each builder imports its stage and adapters itself: the ingest function's cold start then loads
# neither remediation, tracking, diagnosis nor their S3 adapters (about a fifth of its import time).


def _s3_client() -> Any:
    import boto3
    from botocore.config import Config

    # HEADs run in parallel threads: a connection pool larger than the thread count.
    return boto3.client("s3", config=Config(max_pool_connections=32, retries={"mode": "standard"}))


def build_ingest(settings: LedgerSettings) -> EventLedger:
    return Ledger.from_settings(settings)


def build_audit(settings: LedgerSettings) -> AuditQueries:
    from replimend.audit.queries import AuditQueries

    return AuditQueries(Ledger.from_settings(settings))


def build_archive(settings: ArchiveSettings) -> ArchiveWriter:
    from replimend.archive import ArchiveWriter
    from replimend.aws.s3 import S3Storage

    return ArchiveWriter(S3Storage(_s3_client()), settings.audit_bucket)


def build_remediation(settings: RemediationSettings, *, gate: CauseGate | None = None) -> Remediation:
    from replimend.aws.s3 import S3Objects, S3Storage
    from replimend.aws.s3control import BatchJobs, s3control_client_factory
    from replimend.remediate.remediation import Remediation

    s3 = _s3_client()
    ledger = Ledger.from_settings(settings)
    return Remediation(
        ledger=ledger,
        gate=gate or build_gate(settings, ledger),
        objects=S3Objects(s3),
        storage=S3Storage(s3),
        jobs=BatchJobs(s3control_client_factory(), settings.account_id),
        settings=settings,
        notifier=_notifier(settings),
    )


def _notifier(settings: RemediationSettings) -> Notifier | None:
    return build_notifier(settings.alert_topic_arn)


def build_notifier(alert_topic_arn: str | None) -> Notifier | None:
    """The SNS topic alerts go to, or None (no topic: no alerts)."""
    if not alert_topic_arn:
        return None
    import boto3

    from replimend.aws.sns import SnsNotifier

    return SnsNotifier(boto3.client("sns"), alert_topic_arn)


def build_backfill(settings: BackfillSettings) -> Backfill:
    from replimend.aws.config import AwsConfigReader, boto3_client_factory
    from replimend.aws.s3 import S3Storage
    from replimend.aws.s3control import BatchJobs, s3control_client_factory
    from replimend.backfill.pending import InventoryReader
    from replimend.backfill.runner import Backfill

    ledger = Ledger.from_settings(settings)
    reader = AwsConfigReader(boto3_client_factory())
    return Backfill(
        ledger=ledger,
        jobs=BatchJobs(s3control_client_factory(), settings.account_id),
        reader=reader,
        gate=build_gate(settings, ledger),
        inventory=InventoryReader(reader, S3Storage(_s3_client())),
        settings=settings,
        notifier=_notifier(settings),
    )


def build_gate(settings: RemediationSettings, ledger: Ledger) -> DiagnosisGate:
    """The diagnosis gate: the checks a reason names, read with the function's own credentials
    (template.yaml grants exactly these reads), and replimend's Batch role and buckets."""
    from replimend.aws.config import AwsConfigReader, boto3_client_factory
    from replimend.diagnose import Setup
    from replimend.remediate.gate import DiagnosisGate

    setup = Setup(
        batch_role_arn=settings.batch_role_arn,
        manifest_bucket=settings.manifest_bucket,
        report_bucket=settings.report_bucket,
    )
    return DiagnosisGate(ledger, AwsConfigReader(boto3_client_factory()), setup)


def build_tracker(settings: RemediationSettings) -> JobTracker:
    from replimend.aws.s3 import S3Objects, S3Storage
    from replimend.aws.s3control import BatchJobs, s3control_client_factory
    from replimend.track.tracker import JobTracker

    s3 = _s3_client()
    return JobTracker(
        ledger=Ledger.from_settings(settings),
        jobs=BatchJobs(s3control_client_factory(), settings.account_id),
        storage=S3Storage(s3),
        objects=S3Objects(s3),
        settings=settings,
        notifier=_notifier(settings),
    )


def publish_remediation_metrics(result: RemediationResult, metrics: Any) -> None:
    """Counts of what a pass did (Powertools Metrics; flushed by the handler's decorator)."""
    for name, attribute in (
        ("ObjectsPlanned", "planned"),
        ("ObjectsObsolete", "obsolete"),
        ("ObjectsDone", "done"),
        ("ObjectsBlocked", "blocked"),
        ("ObjectsGaveUp", "gave_up"),
        ("ObjectsEscalated", "escalated"),
        ("ObjectsMarkedInJob", "marked_in_job"),
        ("ObjectConflicts", "conflicts"),
        ("ObjectsWaitingForOtherDestination", "waiting_for_other_destination"),
        ("PendingJobsReleased", "released_markers"),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=result.total(attribute))
    metrics.add_metric(name="JobsStarted", unit=MetricUnit.Count, value=len(result.jobs))
    metrics.add_metric(
        name="RemediationErrors", unit=MetricUnit.Count, value=sum(len(s.errors) for s in result.sources)
    )
    # 0 when nothing is due, so an alarm on it recovers
    metrics.add_metric(
        name="OldestDueFailureAgeSeconds", unit=MetricUnit.Seconds, value=result.oldest_due_age()
    )
    if result.open_incidents is not None:
        metrics.add_metric(name="OpenIncidents", unit=MetricUnit.Count, value=result.open_incidents)
    metrics.add_metric(name="IncidentReminders", unit=MetricUnit.Count, value=result.reminders)


def publish_tracking_metrics(result: TrackingResult, metrics: Any) -> None:
    for name, attribute in (
        ("ObjectsReplicated", "replicated"),
        ("ObjectsRetrying", "retrying"),
        ("ObjectsGaveUp", "gave_up"),
        ("ObjectsClosedByReport", "closed"),
        ("ObjectsReturnedFromJob", "returned"),
        ("ReportRowsUnmatched", "unmatched"),
        ("ReportRowsUnreadable", "unreadable_rows"),
        ("ObjectsFoundByBackfill", "found"),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=result.total(name=attribute))
    metrics.add_metric(name="JobsStale", unit=MetricUnit.Count, value=len(result.stale_jobs))
    metrics.add_metric(
        name="JobsFinished", unit=MetricUnit.Count, value=sum(1 for u in result.jobs if u.outcome)
    )
    metrics.add_metric(
        name="JobsPartial", unit=MetricUnit.Count, value=sum(1 for u in result.jobs if u.outcome == "partial")
    )
    metrics.add_metric(
        name="JobsFailed", unit=MetricUnit.Count, value=sum(1 for u in result.jobs if u.outcome == "failed")
    )
    # time to repair: per job, its slowest object (first failure to REPLICATED); Maximum on the dashboard
    for update in result.jobs:
        if update.replicated:
            metrics.add_metric(
                name="TimeToRepairSeconds", unit=MetricUnit.Seconds, value=update.longest_repair_seconds
            )
    metrics.add_metric(name="TrackingErrors", unit=MetricUnit.Count, value=len(result.errors))


def publish_backfill_metrics(result: BackfillResult, metrics: Any) -> None:
    metrics.add_metric(name="BackfillJobsStarted", unit=MetricUnit.Count, value=len(result.jobs))
    for name, outcome in (("BackfillBlocked", "blocked"), ("BackfillFailed", "failed")):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=result.count(outcome))
    stuck = sum(int((s.pending or {}).get("stuck_count") or 0) for s in result.sources)
    metrics.add_metric(name="ObjectsStuckPending", unit=MetricUnit.Count, value=stuck)
