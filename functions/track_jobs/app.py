"""track_jobs: Batch Operations job events (EventBridge, via CloudTrail) and scheduled reconciliation.

A job event (detail.serviceEventDetails.jobId) refreshes that job; any other event (the schedule)
polls every active job of the ledger.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from replimend.observability import logger, metrics, tracer
from replimend.settings import RemediationSettings, load_settings
from replimend.wiring import build_tracker, publish_tracking_metrics

SAFETY_MARGIN_SECONDS = 20

tracker = build_tracker(load_settings(RemediationSettings))  # once per container


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any] | None, context: LambdaContext) -> dict[str, Any]:
    request = event if isinstance(event, dict) else {}
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS
    if isinstance(request.get("detail"), dict) and "serviceEventDetails" in request["detail"]:
        result = tracker.handle_event(request, deadline=deadline)
    else:
        result = tracker.reconcile(deadline=deadline)
    publish_tracking_metrics(result, metrics)
    summary = result.to_dict()
    logger.info("job tracking", extra={"result": summary})
    return summary
