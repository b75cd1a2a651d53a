"""The audit API: Powertools' APIGatewayHttpResolver with validation, over ``AuditQueries``.

``build_api`` makes the resolver the audit_api function serves and the CLI prints the OpenAPI
document of (``replimend api openapi``): one definition of the routes, their parameters and their
responses. The queries are built lazily, so the document needs no table.

Errors: a parameter the models reject, a bad cursor or an inverted period is 400 with one message
naming what was wrong; an object the ledger has never seen is 404.
"""

from __future__ import annotations

import json
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
from replimend.audit.queries import DEFAULT_LIMIT, MAX_LIMIT, AuditQueries, FailureQuery
from replimend.audit.schema import ErrorBody, FailurePage, IncidentList, JobsOverview, ObjectHistory, Summary
from replimend.models import ObjectState

API_TITLE = "replimend audit API"
API_VERSION = "1"
OBJECTS_PREFIX = "/objects/"

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
    parameters stop at one, so the key's slashes are escaped before routing (and unescaped by the
    route), as percent-escapes are in the key already."""

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        raw_path = str(event.get("rawPath") or "")
        if raw_path.startswith(OBJECTS_PREFIX):
            bucket, _, key = raw_path.removeprefix(OBJECTS_PREFIX).partition("/")
            if key:
                event = {**event, "rawPath": f"{OBJECTS_PREFIX}{bucket}/{key.replace('/', '%2F')}"}
        return super().resolve(event, context)


def build_api(queries: Callable[[], AuditQueries]) -> AuditResolver:
    app = AuditResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[str]:
        return _error(400, "; ".join(_describe(e) for e in error.errors()))

    @app.exception_handler(CursorError)
    def invalid_cursor(error: CursorError) -> Response[str]:
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
        since: Annotated[datetime | None, Query(description="first seen at or after (ISO 8601)")] = None,
        until: Annotated[datetime | None, Query(description="first seen at or before (ISO 8601)")] = None,
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
        bucket: Annotated[str, Path(min_length=3, max_length=63, description="source bucket")],
        key: Annotated[str, Path(min_length=1, description="object key (URL-encoded; may contain /)")],
    ) -> ObjectHistory:
        name = unquote(key)
        found = queries().object(bucket, name)
        if found is None:
            raise NotFoundError(f"no failure recorded for s3://{bucket}/{name}")
        return found

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
        since: Annotated[
            datetime | None, Query(description="from (ISO 8601); default 30 days before until")
        ] = None,
        until: Annotated[datetime | None, Query(description="to (ISO 8601); default now")] = None,
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


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    low, high = _utc(since), _utc(until)
    if low is not None and high is not None and low > high:
        raise BadRequestError("since is after until")
    return low, high


def _utc(at: datetime | None) -> datetime | None:
    """An ISO time without an offset is UTC, as everywhere in replimend."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("query", "path"))
    return f"{where or 'request'}: {error.get('msg', 'is not valid')}"


def _error(status: int, message: str) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"statusCode": status, "message": message}),
    )
