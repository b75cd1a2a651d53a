"""The composition root: every function's dependencies, built from its settings with real boto3
clients, and the metrics helpers of the passes.

  build_ingest(LedgerSettings)            the EventLedger ingest records into
  build_remediation(RemediationSettings)  a Remediation (ledger, diagnosis gate, S3, s3control)
  build_tracker(RemediationSettings)      a JobTracker

Every handler builds its dependencies here, once per container (cold start); the CLI does too, so a
local run exercises the same code. Clients are plain boto3 clients (the embedded AWS attaches to
them through botocore hooks / endpoint env vars).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from replimend.ledger import Ledger
from replimend.settings import LedgerSettings, RemediationSettings

if TYPE_CHECKING:
    from replimend.ports import CauseGate, EventLedger, Notifier
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
    if not settings.alert_topic_arn:
        return None
    import boto3

    from replimend.aws.sns import SnsNotifier

    return SnsNotifier(boto3.client("sns"), settings.alert_topic_arn)


def build_gate(settings: RemediationSettings, ledger: Ledger) -> CauseGate:
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


def publish_tracking_metrics(result: TrackingResult, metrics: Any) -> None:
    for name, attribute in (
        ("ObjectsReplicated", "replicated"),
        ("ObjectsRetrying", "retrying"),
        ("ObjectsGaveUp", "gave_up"),
        ("ObjectsClosedByReport", "closed"),
        ("ObjectsReturnedFromJob", "returned"),
        ("ReportRowsUnmatched", "unmatched"),
        ("ReportRowsUnreadable", "unreadable_rows"),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=result.total(name=attribute))
    metrics.add_metric(name="JobsStale", unit=MetricUnit.Count, value=len(result.stale_jobs))
    metrics.add_metric(
        name="JobsFinished", unit=MetricUnit.Count, value=sum(1 for u in result.jobs if u.outcome)
    )
    metrics.add_metric(
        name="JobsPartial", unit=MetricUnit.Count, value=sum(1 for u in result.jobs if u.outcome == "partial")
    )
    metrics.add_metric(name="TrackingErrors", unit=MetricUnit.Count, value=len(result.errors))
