"""remediate: one remediation pass (EventBridge Scheduler, or invoked on demand).

Event (all optional): {"bucket": "<source bucket>", "dry_run": true}. Returns the pass result.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from replimend.observability import logger, metrics, tracer
from replimend.settings import RemediationSettings, load_settings
from replimend.wiring import build_remediation, publish_remediation_metrics

#: Stop starting new work this long before the Lambda timeout (marking resumes next pass).
SAFETY_MARGIN_SECONDS = 30

remediation = build_remediation(load_settings(RemediationSettings))  # once per container


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any] | None, context: LambdaContext) -> dict[str, Any]:
    request = event if isinstance(event, dict) else {}
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS
    dry_run = request.get("dry_run")
    result = remediation.run(
        bucket=request.get("bucket") or None,
        dry_run=bool(dry_run) if dry_run is not None else None,
        deadline=deadline,
    )
    publish_remediation_metrics(result, metrics)
    summary = result.to_dict()
    logger.info("remediation pass", extra={"result": summary})
    return summary
