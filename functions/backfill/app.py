"""backfill: one backfill run (EventBridge Scheduler, daily by default, or invoked on demand).

Event (all optional): {"bucket": "<source bucket>", "statuses": "FAILED,NONE", "since":
"<ISO 8601>", "prefix": "<key prefix>", "dry_run": true}. Returns the run's result per source.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from replimend.backfill.planner import GeneratorFilter, parse_statuses
from replimend.observability import logger, metrics, tracer
from replimend.settings import BackfillSettings, load_settings
from replimend.wiring import build_backfill, publish_backfill_metrics

backfill = build_backfill(load_settings(BackfillSettings))  # once per container


def _filter(request: dict[str, Any]) -> GeneratorFilter | None:
    """The request's filter; None (the configured default) when it names none. ValueError when bad."""
    if not any(request.get(name) for name in ("statuses", "since", "prefix")):
        return None
    statuses = request.get("statuses") or backfill.settings.backfill_statuses
    since = request.get("since")
    prefix = request.get("prefix")
    return GeneratorFilter(
        statuses=parse_statuses(statuses),
        created_after=datetime.fromisoformat(str(since)) if since else None,
        prefixes=(str(prefix),) if prefix else (),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any] | None, context: LambdaContext) -> dict[str, Any]:
    request = event if isinstance(event, dict) else {}
    bucket = request.get("bucket")
    result = backfill.run(
        buckets=[str(bucket)] if bucket else None,
        job_filter=_filter(request),
        dry_run=bool(request.get("dry_run")),
    )
    publish_backfill_metrics(result, metrics)
    summary = result.to_dict()
    logger.info("backfill run", extra={"result": summary})
    return summary
