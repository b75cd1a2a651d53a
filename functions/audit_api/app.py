"""audit_api: answer audit questions over HTTP (API Gateway HTTP API, payload 2.0, IAM auth).

The routes, validation and OpenAPI document are ``replimend.audit.api``; this handler only wires
the ledger once per container.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from replimend.audit.api import build_api
from replimend.observability import logger, tracer
from replimend.settings import LedgerSettings, load_settings
from replimend.wiring import build_audit

queries = build_audit(load_settings(LedgerSettings))  # once per container
app = build_api(lambda: queries)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
