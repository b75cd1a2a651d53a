"""The audit API: Powertools' APIGatewayHttpResolver with validation, over ``AuditQueries``.

``build_api`` makes the resolver the audit_api function serves and the CLI prints the OpenAPI
document of (``replimend api openapi``): one definition of the routes, their parameters and their
responses. The queries are built lazily, so the document needs no table.

Errors: a parameter the models reject, a bad cursor or an inverted period is 400 with one message
naming what was wrong; an object the ledger has never seen is 404.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote, unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from replimend.audit.cursor import CursorError
from replimend.audit.queries import DEFAULT_LIMIT, MAX_LIMIT, AuditQueries, FailureQuery, InvalidPeriod
from replimend.audit.schema import ErrorBody, FailurePage, IncidentList, JobsOverview, ObjectHistory, Summary
from replimend.models import ObjectState

API_TITLE = "replimend audit API"
API_VERSION = "1"
OBJECTS_PREFIX = "/objects/"
RAW_KEY = "raw_key"

_ERROR = {"application/json": {"model": ErrorBody}}
BAD_REQUEST = {400: {"description": "a parameter is not valid", "content": _ERROR}}
NOT_FOUND = {404: {"description": "the ledger has no such object", "content": _ERROR}}


def _responses(answer: str, *errors: dict[int, Any]) -> dict[int, Any]:
    """The route's documented responses: 200 (its return type's schema) and its errors."""
    documented: dict[int, Any] = {200: {"description": answer}}
    for error in errors:
        documented.update(error)
    return documented


# S3 bucket names are 3-63 characters (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
Bucket = Annotated[str, Query(min_length=3, max_length=63)]


class IncidentStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class AuditResolver(APIGatewayHttpResolver):
    """Routes ``/objects/{bucket}/{key+}`` whole: S3 keys contain "/", and Powertools' path
    parameters stop at one (and at "?" or a space), so the key's segment is escaped whole for routing
    and kept, as the event had it, for the route (``RAW_KEY``)."""

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        raw_path = str(event.get("rawPath") or "")
        if raw_path.startswith(OBJECTS_PREFIX):
            bucket, _, key = raw_path.removeprefix(OBJECTS_PREFIX).partition("/")
            if key:
                self.append_context(**{RAW_KEY: key})
                event = {**event, "rawPath": f"{OBJECTS_PREFIX}{bucket}/{quote(key, safe='')}"}
        return super().resolve(event, context)


def build_api(queries: Callable[[], AuditQueries]) -> AuditResolver:
    app = AuditResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[str]:
        return _error(400, "; ".join(_describe(e) for e in error.errors()))

    @app.exception_handler([CursorError, InvalidPeriod])
    def invalid_query(error: Exception) -> Response[str]:
        return _error(400, str(error))

    @app.get(
        "/failures",
        summary="Failures by source, destination, reason, category, state and first-seen time",
        responses=_responses("a page of failures", BAD_REQUEST),
    )
    def failures(  # noqa: PLR0917  (one argument per query parameter, as Powertools reads them)
        source: Annotated[str | None, Query(min_length=3, max_length=63, description="source bucket")] = None,
        destination: Annotated[
            str | None, Query(min_length=3, max_length=63, description="destination bucket")
        ] = None,
        reason: Annotated[
            str | None, Query(min_length=1, max_length=128, description="failure reason")
        ] = None,
        category: Annotated[
            str | None, Query(min_length=1, max_length=64, description="reason category")
        ] = None,
        state: Annotated[ObjectState | None, Query(description="current state")] = None,
        since: Annotated[str | None, _time_query("first seen at or after")] = None,
        until: Annotated[str | None, _time_query("first seen at or before")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None, Query(min_length=1, max_length=4096, description="next_cursor of the previous page")
        ] = None,
    ) -> FailurePage:
        low, high = _period(since, until)
        query = FailureQuery(source, destination, reason, category, state, low, high)
        return queries().failures(query, limit=limit, cursor=cursor)

    @app.get(
        "/objects/<bucket>/<key>",
        summary="One object's records and history: every version and destination",
        responses=_responses("the object's records and history", BAD_REQUEST, NOT_FOUND),
    )
    def object_history(
        # Percent-encoded in the path, so lengths are checked by no one: an unknown bucket is a 404.
        bucket: Annotated[str, Path(description="source bucket")],
        key: Annotated[str, Path(description="object key, percent-encoded (its / may stay as they are)")],
    ) -> ObjectHistory:
        # AWS does not document whether an HTTP API's rawPath keeps the client's percent-encoding or
        # decodes it (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
        # shows neither), so the key is looked up decoded, then as it came.
        raw = str(app.context.get(RAW_KEY, key))
        return _object(unquote(bucket), [unquote(raw), raw])

    @app.get(
        "/objects/<bucket>",
        summary="One object's records and history, the key as a query parameter (any key, even one "
        "with ?, # or % that a path cannot carry through API Gateway)",
        responses=_responses("the object's records and history", BAD_REQUEST, NOT_FOUND),
    )
    def object_by_key(
        bucket: Annotated[str, Path(description="source bucket")],
        key: Annotated[str, Query(min_length=1, max_length=1024, description="object key")],
    ) -> ObjectHistory:
        return _object(unquote(bucket), [key])

    def _object(bucket: str, keys: list[str]) -> ObjectHistory:
        for name in dict.fromkeys(keys):
            found = queries().object(bucket, name)
            if found is not None:
                return found
        raise NotFoundError(f"no failure recorded for s3://{bucket}/{keys[0]}")

    @app.get(
        "/incidents",
        summary="Incidents with their last diagnosis' checks",
        responses=_responses("the incidents", BAD_REQUEST),
    )
    def incidents(
        status: Annotated[
            IncidentStatus | None, Query(description="open or resolved; both if absent")
        ] = None,
    ) -> IncidentList:
        return queries().incidents(status.value if status else None)

    @app.get(
        "/jobs",
        summary="Batch Replication jobs: counts and outcomes",
        responses=_responses("job counts, outcomes and the newest jobs", BAD_REQUEST),
    )
    def jobs(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="newest jobs listed")] = DEFAULT_LIMIT,
    ) -> JobsOverview:
        return queries().jobs(limit=limit)

    @app.get(
        "/summary",
        summary="Counts by state and reason, time to repair and RTC threshold misses over a period",
        responses=_responses("the period's figures", BAD_REQUEST),
    )
    def summary(
        since: Annotated[str | None, _time_query("from; default 30 days before until")] = None,
        until: Annotated[str | None, _time_query("to; default now")] = None,
    ) -> Summary:
        low, high = _period(since, until)
        return queries().summary(since=low, until=high)

    return app


def openapi_document(app: AuditResolver) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(app.get_openapi_json_schema(title=API_TITLE, version=API_VERSION))
    return document


def object_path(bucket: str, key: str) -> str:
    """The API path of an object: the key percent-encoded, its slashes kept."""
    return f"{OBJECTS_PREFIX}{quote(bucket, safe='')}/{quote(key, safe='/')}"


# RFC 3339 date-time (what OpenAPI's "date-time" format means), the offset optional (then UTC).
# pydantic's own datetime would also take numbers ("0.5") as Unix times, which the document does not say.
_DATE_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?P<fraction>\.\d+)?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})?$"
)


def _time_query(meaning: str) -> Any:
    return Query(
        description=f"{meaning} (RFC 3339 date-time; UTC if it has no offset)",
        max_length=64,
        json_schema_extra={"format": "date-time"},
    )


def _period(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    low, high = parse_time("since", since), parse_time("until", until)
    if low is not None and high is not None and low > high:
        raise BadRequestError("since is after until")
    return low, high


def parse_time(name: str, text: str | None) -> datetime | None:
    """An RFC 3339 date-time in UTC; BadRequestError naming the parameter otherwise."""
    if text is None:
        return None
    match = _DATE_TIME.match(text)
    if match is None:
        raise BadRequestError(f"{name}: not an RFC 3339 date-time (e.g. 2025-01-31T00:00:00Z): {text[:64]!r}")
    clock = match["time"].replace(":60", ":59")  # a leap second, which datetime cannot hold
    fraction = (match["fraction"] or "")[:7]
    offset = (match["offset"] or "+00:00").upper().replace("Z", "+00:00")
    try:
        at = datetime.fromisoformat(f"{match['date']}T{clock}{fraction}{offset}")
    except ValueError as exc:
        raise BadRequestError(f"{name}: {exc}: {text[:64]!r}") from None
    return at.astimezone(UTC)


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("query", "path"))
    return f"{where or 'request'}: {error.get('msg', 'is not valid')}"


def _error(status: int, message: str) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"statusCode": status, "message": message}),
    )
