"""The audit API against its own OpenAPI document: the document is valid OpenAPI, and schemathesis
(property-based: generated valid and invalid requests) finds no answer the document does not
describe — no 5xx, no undocumented status, no body off its schema. In process, through a small
WSGI adapter that turns each request into the API Gateway HTTP API (2.0) event the function gets."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote

import pytest
import schemathesis
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate

from replimend.audit.api import build_api, openapi_document, parse_time
from replimend.audit.queries import AuditQueries
from replimend.ledger import Ledger
from tests.integration.ledger_helpers import RETRY, RETRY_AFTER_FIX, FakeClock, failure_event

_queries: list[AuditQueries] = []  # the ledger of the running test (the app is built at import)
APP = build_api(lambda: _queries[-1])
DOCUMENT = openapi_document(APP)


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """WSGI → API Gateway HTTP API event → the resolver → WSGI; /openapi.json serves the document."""
    raw_path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ["PATH_INFO"]))
    path = raw_path.split("?", 1)[0]
    if path == "/openapi.json":
        start_response("200 OK", [("content-type", "application/json")])
        return [json.dumps(DOCUMENT).encode()]
    query = str(environ.get("QUERY_STRING", ""))
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "localhost"},
        "queryStringParameters": parameters or None,
        "requestContext": {
            "http": {"method": environ["REQUEST_METHOD"], "path": path, "sourceIp": "127.0.0.1"},
            "requestId": "contract",
            "routeKey": "$default",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    response = APP.resolve(event, {})
    headers = [(str(k), str(v)) for k, v in (response.get("headers") or {}).items()]
    start_response(f"{response['statusCode']} -", headers)
    return [str(response.get("body") or "").encode()]


SCHEMA = schemathesis.openapi.from_wsgi("/openapi.json", wsgi_app)


def test_the_openapi_document_is_valid_openapi() -> None:
    validate(DOCUMENT)
    assert set(DOCUMENT["paths"]) == {
        "/failures",
        "/objects/{bucket}/{key}",
        "/objects/{bucket}",
        "/incidents",
        "/jobs",
        "/summary",
    }


@pytest.fixture
def seeded_queries(ledger_table: Any) -> Iterator[None]:
    ledger = Ledger(ledger_table, index_shards=2, clock=FakeClock())
    with ledger.batch():
        ledger.record_event(failure_event(key="a/b.txt"), RETRY_AFTER_FIX)
        ledger.record_event(
            failure_event(key="c", source="other-src", reason="DstPutObjectNotPermitted"), RETRY
        )
    _queries.append(AuditQueries(ledger))
    yield
    _queries.clear()


@SCHEMA.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_document(case: Any, seeded_queries: None) -> None:
    # Two rules a schema cannot state, kept out of "valid" requests (test_audit_api tests both as
    # 400s): a cursor is one the API made, and a period starts before it ends.
    query = case.query or {}
    query.pop("cursor", None)
    since, until = _time(query.get("since")), _time(query.get("until"))
    if since and until and since > until:
        query["since"], query["until"] = query["until"], query["since"]
    # API Gateway itself answers a method no route has (404 from HTTP APIs), never the function.
    case.call_and_validate(excluded_checks=[schemathesis.checks.unsupported_method])


def _time(value: Any) -> datetime | None:
    """A generated time parameter as the API reads it; None when it is not one (a negative case)."""
    try:
        return parse_time("time", str(value)) if value is not None else None
    except BadRequestError:
        return None
