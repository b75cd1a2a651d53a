"""ingest: record S3 replication events from the FailureQueue in the ledger.

Partial batch responses: a message that cannot be parsed (or recorded) is reported in
batchItemFailures, SQS redelivers it and after maxReceiveCount moves it to the DLQ; the rest of
the batch is recorded.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from replimend.ingest.recorder import IngestResult, escalation_alerts, ingest_message, publish_alerts
from replimend.ingest.sqs_batch import process_sqs_batch
from replimend.observability import logger, metrics, tracer
from replimend.settings import IngestSettings, load_settings
from replimend.wiring import build_ingest, build_notifier

settings = load_settings(IngestSettings)  # once per container
ledger = build_ingest(settings)
notifier = build_notifier(settings.alert_topic_arn)
batch_result = IngestResult()  # its escalations, reset per invocation, become the batch's alerts


@tracer.capture_method
def record_handler(message_id: str, body: str) -> None:
    logger.append_keys(message_id=message_id)
    batch_result.add(ingest_message(body, ledger, message_id=message_id))


@logger.inject_lambda_context(correlation_id_path="Records[0].messageId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Incident counts and activity pages are written once per batch when it ends; if that write
    # fails the invocation fails and SQS redelivers the batch (recording is idempotent).
    batch_result.escalated.clear()
    with ledger.batch():
        response = process_sqs_batch(event, record_handler)
    # objects escalated in this batch: one alert per incident, never one per event
    publish_alerts(escalation_alerts(batch_result), notifier)
    return response
