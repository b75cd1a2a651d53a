"""archive: copy every history line the ledger writes, from its DynamoDB stream, to the audit bucket.

A batch becomes one gzip JSON Lines object per date and hour it touches, under keys derived from
the batch's stream records, so a redelivered batch overwrites what it wrote. An unreadable record
is reported in batchItemFailures (Lambda retries from it, bisects, and after the retries sends the
batch's description to the on-failure destination); a failed upload fails the whole batch.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from replimend.observability import logger, metrics, tracer
from replimend.settings import ArchiveSettings, load_settings
from replimend.wiring import build_archive

archive = build_archive(load_settings(ArchiveSettings))  # once per container


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = archive.write(event.get("Records") or [])
    metrics.add_metric(name="HistoryLinesArchived", unit=MetricUnit.Count, value=batch.lines)
    logger.info(
        "archived", extra={"records": batch.records, "lines": batch.lines, "objects": len(batch.keys)}
    )
    return batch.batch_item_failures()
