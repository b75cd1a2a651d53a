"""ingest: parse, classify and record S3 replication events in the ledger, with metrics.

The ingest function calls ``ingest_message`` once per SQS message. A message that cannot be parsed
raises (the batch reports it as failed, SQS redelivers it and finally moves it to the DLQ), and so
does one whose events could not all be recorded (counted as RecordFailures); events
with unknown failure reasons are recorded as ESCALATED and logged, never dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from replimend.alerts import Alert, pair_alert
from replimend.errors import MalformedEventError, ReplimendError
from replimend.events import parse_message_body
from replimend.models import (
    FAILED_REPLICATION,
    REPLICATION_EVENT_TYPES,
    TEST_EVENT,
    Action,
    Classification,
    ReplicationEvent,
)
from replimend.observability import SERVICE, logger, metrics
from replimend.ports import EventLedger, Notifier, RecordOutcome
from replimend.reasons import REASONS, classify_failure

Classifier = Callable[[ReplicationEvent], Classification]

#: Outcomes that wrote or changed an object item.
WRITTEN_OUTCOMES = frozenset({RecordOutcome.CREATED, RecordOutcome.UPDATED})


@dataclass
class IngestResult:
    """What happened to the events of one message (or batch)."""

    outcomes: Counter[RecordOutcome] = field(default_factory=Counter)
    unknown_reasons: int = 0
    #: objects newly recorded ESCALATED, by (source, destination, reason): one alert per incident
    escalated: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    @property
    def events(self) -> int:
        return sum(self.outcomes.values())

    @property
    def written(self) -> int:
        return sum(self.outcomes[outcome] for outcome in WRITTEN_OUTCOMES)

    def add(self, other: IngestResult) -> None:
        self.outcomes.update(other.outcomes)
        self.unknown_reasons += other.unknown_reasons
        self.escalated.update(other.escalated)


def ingest_message(
    body: str,
    ledger: EventLedger,
    *,
    classify: Classifier = classify_failure,
    message_id: str | None = None,
) -> IngestResult:
    """Parse one SQS message body and record its events; MalformedEventError if it cannot be parsed."""
    try:
        events = parse_message_body(body)
    except MalformedEventError as exc:
        metrics.add_metric(name="ParseFailures", unit=MetricUnit.Count, value=1)
        logger.error(
            "message could not be parsed; left for redelivery and the DLQ",
            extra={"message_id": message_id, "error": str(exc)},
        )
        raise
    try:
        return record_events(events, ledger, classify=classify)
    except ReplimendError as exc:
        # A ledger write failed (throttled, say): the message goes back to SQS and is recorded on
        # redelivery (recording is idempotent); this metric and log line make the fault visible.
        metrics.add_metric(name="RecordFailures", unit=MetricUnit.Count, value=1)
        logger.warning(
            "message not recorded; left for redelivery",
            extra={"message_id": message_id, "error": str(exc)},
        )
        raise


def record_events(
    events: Iterable[ReplicationEvent],
    ledger: EventLedger,
    *,
    classify: Classifier = classify_failure,
    actor: str = "ingest",
) -> IngestResult:
    """Classify and record each event; counts by outcome. Metrics cover what was recorded even on error."""
    result = IngestResult()
    by_type: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    try:
        for event in events:
            classification = classify(event)
            outcome = ledger.record_event(event, classification, actor=actor)
            result.outcomes[outcome] += 1
            by_type[event_type_dimension(event.event_type)] += 1
            if event.event_type == FAILED_REPLICATION:
                by_reason[failure_reason_dimension(classification)] += 1
            if classification.action is Action.ESCALATE and outcome in WRITTEN_OUTCOMES:
                reason = classification.failure_reason or event.event_type
                result.escalated[(event.source_bucket or "", event.destination_bucket or "", reason)] += 1
            if not classification.known and classification.action is not Action.IGNORE:
                result.unknown_reasons += 1
                logger.warning(
                    "unknown failure reason or event type: recorded and escalated",
                    extra={
                        "event_type": event.event_type,
                        "failure_reason": classification.failure_reason,
                        "source_bucket": event.source_bucket,
                        "key": event.key,
                        "version_id": event.version_id,
                        "destination_bucket": event.destination_bucket,
                        "outcome": str(outcome),
                    },
                )
    finally:
        _publish(result, by_type, by_reason)
    return result


def escalation_alerts(result: IngestResult) -> list[Alert]:
    """One alert per incident (source, destination, reason) whose objects a batch escalated."""
    alerts = [
        pair_alert(source, destination or "its destinations", gave_up=0, escalated=count, reason=reason)
        for (source, destination, reason), count in sorted(result.escalated.items())
    ]
    return [alert for alert in alerts if alert is not None]


def publish_alerts(alerts: Iterable[Alert], notifier: Notifier | None) -> None:
    """Best effort: an alert that cannot be published is logged; the events stay recorded."""
    if notifier is None:
        return
    for alert in alerts:
        try:
            notifier.publish(alert.subject, alert.message)
        except ReplimendError:
            logger.exception("alert not published", extra={"subject": alert.subject})


def event_type_dimension(event_type: str) -> str:
    """A bounded metric dimension value for an S3 event name."""
    if event_type in REPLICATION_EVENT_TYPES:
        return event_type.removeprefix("Replication:Operation")
    if event_type == TEST_EVENT:
        return "TestEvent"
    if event_type.startswith("Replication:"):
        return "UnknownReplication"
    return "OtherS3Event"


def failure_reason_dimension(classification: Classification) -> str:
    """The failure reason as a metric dimension: known codes as-is, anything else folded to Unknown."""
    reason = classification.failure_reason
    if reason is None:
        return "Missing"
    return reason if reason in REASONS else "Unknown"


def _publish(result: IngestResult, by_type: Counter[str], by_reason: Counter[str]) -> None:
    for name, value in (
        ("RecordsWritten", result.written),
        ("DuplicateEvents", result.outcomes[RecordOutcome.DUPLICATE]),
        ("UnknownReasons", result.unknown_reasons),
    ):
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    # One EMF document per dimension value: Powertools' Metrics shares one dimension set per flush.
    for dimension, counts in (("EventType", by_type), ("FailureReason", by_reason)):
        for dimension_value, count in sorted(counts.items()):
            with single_metric(
                name="EventsReceived",
                unit=MetricUnit.Count,
                value=count,
                default_dimensions={"service": SERVICE},
            ) as single:
                single.add_dimension(name=dimension, value=dimension_value)
