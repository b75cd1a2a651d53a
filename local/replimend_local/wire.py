"""Emulated operations over HTTP: what the emulators answer through botocore hooks in this process,
served to callers in other processes (the AWS CLI, boto3 against ``replimend local up``).

moto implements neither the s3control job operations nor IAM's SimulatePrincipalPolicy, so without
this the moto server would answer them with a 404 or a 500. :class:`EmulatedOperations` routes a
request to the emulator's responder and does the wire work with moto's own request parsers and
response serializers, which follow the botocore service models (moto 5.2.5 ships both): the caller's
botocore parses the answer exactly as it parses AWS's.

Routing follows the models: a rest-xml operation (s3control) by its ``requestUri`` template and HTTP
method; a query operation (IAM) by the ``Action`` of its form body. The s3control AccountId travels
in the ``x-amz-account-id`` header as well as the host name (botocore's endpoint rules put it in
front of the endpoint's host, ``123456789012.127.0.0.1``, a name no resolver answers: callers reach
the server through it as an HTTP proxy, see the README's "Local mode").
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from moto.core.parse import PROTOCOL_PARSERS, RequestDict
from moto.core.serialize import get_serializer_class
from moto.core.utils import get_service_model
from werkzeug.datastructures import EnvironHeaders, MultiDict

from replimend_local import hooks

StartResponse = Callable[..., Any]
_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}


@dataclass(frozen=True)
class _Operation:
    service: str
    name: str
    responder: hooks.Responder
    model: Any  # moto.core.model OperationModel (moto's serializers need its own model classes)


def _uri_pattern(request_uri: str) -> re.Pattern[str]:
    """``/v20180820/jobs/{id}`` -> a regex with a named group per label (``{key+}`` spans slashes)."""
    path = request_uri.split("?", 1)[0]
    pattern = ""
    for literal, label, greedy in re.findall(r"([^{]*)(?:\{([A-Za-z0-9_]+)(\+?)\})?", path):
        pattern += re.escape(literal)
        if label:
            pattern += f"(?P<{label}>.+)" if greedy else f"(?P<{label}>[^/]+)"
    return re.compile(pattern + "/?$")


class EmulatedOperations:
    """A registry of emulated operations answered on the wire; ``answer`` serves one request."""

    def __init__(self) -> None:
        self._rest: list[tuple[str, re.Pattern[str], _Operation]] = []
        self._query: dict[tuple[str, str], _Operation] = {}

    def add(self, service: str, operation: str, responder: hooks.Responder) -> None:
        model = get_service_model(service)
        entry = _Operation(service, operation, responder, model.operation_model(operation))
        if model.protocol == "query":
            self._query[(model.signing_name or service, operation)] = entry
        elif model.protocol == "rest-xml":
            http = entry.model.http
            self._rest.append((str(http["method"]), _uri_pattern(str(http["requestUri"])), entry))
        else:
            raise ValueError(f"{service} speaks {model.protocol}: not served on the wire")

    def __bool__(self) -> bool:
        return bool(self._rest or self._query)

    def answer(
        self, environ: dict[str, Any], signing_service: str | None, start_response: StartResponse
    ) -> Iterable[bytes] | None:
        """The answer to ``environ`` if it calls an emulated operation, else None (moto answers)."""
        method = str(environ.get("REQUEST_METHOD") or "GET")
        path = str(environ.get("PATH_INFO") or "/")
        values: MultiDict[str, str] = MultiDict(parse_qsl(str(environ.get("QUERY_STRING") or "")))
        body = b""
        operation: _Operation | None = None
        url_params: dict[str, str] = {}
        for route_method, pattern, entry in self._rest:
            found = pattern.match(path) if route_method == method else None
            if found is not None:
                operation, url_params = entry, found.groupdict()
                body = _read_body(environ)
                break
        if operation is None and method == "POST" and self._query:
            form = _form(environ)
            action = form.get("Action")
            operation = self._query.get((signing_service or "", action or ""))
            if operation is None:
                return None
            body = _read_body(environ)
            values.update(form)
        if operation is None:
            return None
        request: RequestDict = {
            "method": method,
            "values": values,
            "headers": EnvironHeaders(environ),
            "body": body,
            "url_path": path,
            "url_params": url_params,
        }
        return self._respond(operation, request, _signing_region(environ), start_response)

    @staticmethod
    def _respond(
        operation: _Operation, request: RequestDict, region: str | None, start_response: StartResponse
    ) -> list[bytes]:
        parser = PROTOCOL_PARSERS[operation.model.service_model.protocol](operation.model)
        params = parser.parse(request)
        context = {"client_region": region}
        try:
            result = operation.responder(dict(params), context)
        except hooks.EmulatedError as error:
            return _error(start_response, error)
        serializer = get_serializer_class(operation.service, operation.model.service_model.protocol)
        response = serializer(operation.model).serialize(result)
        payload = response["body"]
        data = payload.encode() if isinstance(payload, str) else bytes(payload or b"")
        status = int(response["status_code"])
        headers = [(name, str(value)) for name, value in response["headers"].items()]
        headers += [("x-amzn-RequestId", str(uuid.uuid4())), ("Content-Length", str(len(data)))]
        start_response(f"{status} {_REASONS.get(status, 'OK')}", headers)
        return [data]


def _error(start_response: StartResponse, error: hooks.EmulatedError) -> list[bytes]:
    """AWS's XML error document; botocore's rest-xml and query parsers both read it."""
    request_id = str(uuid.uuid4())
    kind = "Sender" if error.status_code < 500 else "Receiver"
    data = (
        f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    start_response(
        f"{error.status_code} {_REASONS.get(error.status_code, 'Error')}",
        [("Content-Type", "text/xml"), ("Content-Length", str(len(data))), ("x-amzn-RequestId", request_id)],
    )
    return [data]


def _signing_region(environ: dict[str, Any]) -> str | None:
    authorization = str(environ.get("HTTP_AUTHORIZATION") or "")
    if "Credential=" not in authorization:
        return None
    parts = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return parts[2] if len(parts) >= 5 else None


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again when the request is not ours
    return bytes(body)


def _form(environ: dict[str, Any]) -> dict[str, str]:
    if "form-urlencoded" not in str(environ.get("CONTENT_TYPE") or ""):
        return {}
    return dict(parse_qsl(_read_body(environ).decode("utf-8", "replace"), keep_blank_values=True))
