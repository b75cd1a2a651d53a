"""The embedded AWS for callers outside this process: a WSGI layer in front of moto's server.

In this process the emulators see every call through botocore hooks (:mod:`replimend_local.hooks`).
The AWS CLI, or boto3 in another process (``replimend local up``), reaches moto over HTTP without
them, so the gateway does on the wire what the hooks do in process, for S3 replication:

* a PutObject, CopyObject or CompleteMultipartUpload that made a version triggers live replication
  (and its failure events);
* HeadObject and GetObject answers carry ``x-amz-replication-status``;
* PutBucketReplication bodies are kept and GetBucketReplication answers with them (moto's own
  rendering drops filters and SourceSelectionCriteria);
* PutBucketNotificationConfiguration is refused, as S3 refuses it, when a destination does not exist
  or does not admit the bucket (:mod:`replimend_local.s3_notifications`).

Requests from this process carry a marker header (added by a botocore ``before-send`` handler every
session of the process gets, see :func:`mark_in_process_requests`) and pass through untouched: their
hooks already ran. The gateway also serves the local control API under ``/_replimend/`` (the clock).

The operations moto lacks (S3 Batch Operations' s3control job operations, IAM
SimulatePrincipalPolicy) are answered on the wire by the emulators' responders
(:mod:`replimend_local.wire`), before moto sees the request.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

import botocore.handlers
import botocore.session
from botocore.parsers import RestXMLParser
from botocore.serialize import RestXMLSerializer

from replimend_local.config_reads import ConfigurationVersions
from replimend_local.wire import EmulatedOperations

log = logging.getLogger("replimend_local.gateway")

MARKER_HEADER = "x-replimend-in-process"
_MARKER_TOKEN = secrets.token_hex(8)
CONTROL_PREFIX = "/_replimend/"
# S3 sub-resources whose requests are not object writes or reads
_OBJECT_SUBRESOURCES = {"tagging", "acl", "retention", "legal-hold", "uploads", "attributes", "torrent"}

_REPLICATION_OPERATIONS = {
    "PUT": "PutBucketReplication",
    "DELETE": "DeleteBucketReplication",
    "GET": "GetBucketReplication",
}

StartResponse = Callable[..., Any]


def _mark(request: Any, **_: Any) -> None:
    request.headers[MARKER_HEADER] = _MARKER_TOKEN


_MARKER_HANDLER = ("before-send", _mark)


def mark_in_process_requests() -> Callable[[], None]:
    """Every botocore session created from now on marks its requests as this process's; the undo."""
    if _MARKER_HANDLER not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(_MARKER_HANDLER)

    def undo() -> None:
        while _MARKER_HANDLER in botocore.handlers.BUILTIN_HANDLERS:
            botocore.handlers.BUILTIN_HANDLERS.remove(_MARKER_HANDLER)

    return undo


class Control(Protocol):
    """What the control API drives: the running stack's clock."""

    def now_iso(self) -> str: ...

    def advance_clock(self, seconds: float) -> int: ...


class ReplicationWire(Protocol):
    """The replication engine as the gateway uses it."""

    def replicate_version(self, source_bucket: str, key: str, version_id: str) -> Any: ...

    def replication_status(self, bucket: str, key: str, version_id: str) -> str | None: ...

    def record_configuration(self, bucket: str, configuration: dict[str, Any]) -> None: ...

    def forget_configuration(self, bucket: str) -> None: ...

    def faithful_configuration(self, bucket: str, moto_view: dict[str, Any]) -> dict[str, Any]: ...


class NotificationWire(Protocol):
    """The notification-destination check as the gateway uses it."""

    def check_request(self, params: dict[str, Any]) -> list[Any]: ...


class _S3Shapes:
    """The XML wire shapes of the S3 operations the gateway reads and writes (botocore's models)."""

    def __init__(self) -> None:
        model = botocore.session.get_session().get_service_model("s3")
        self.put_replication = model.operation_model("PutBucketReplication")
        self.get_replication = model.operation_model("GetBucketReplication")
        self.put_notification = model.operation_model("PutBucketNotificationConfiguration")
        self._parser: Any = RestXMLParser()  # botocore has no public parser of a body alone

    def _parse(self, body: bytes, shape: Any) -> dict[str, Any]:
        root = self._parser._parse_xml_string_to_dom(body)
        return dict(self._parser._parse_shape(shape, root))

    def replication_request(self, body: bytes) -> dict[str, Any]:
        shape: Any = self.put_replication.input_shape
        return self._parse(body, shape.members["ReplicationConfiguration"])

    def replication_answer(self, body: bytes) -> dict[str, Any]:
        shape: Any = self.get_replication.output_shape
        return self._parse(body, shape.members["ReplicationConfiguration"])

    def notification_request(self, body: bytes) -> dict[str, Any]:
        shape: Any = self.put_notification.input_shape
        return self._parse(body, shape.members["NotificationConfiguration"]) if body.strip() else {}

    def replication_body(self, configuration: dict[str, Any]) -> bytes:
        request = RestXMLSerializer().serialize_to_request(
            {"Bucket": "b", "ReplicationConfiguration": configuration}, self.put_replication
        )
        return bytes(request["body"])


class Gateway:
    """``Gateway(app)`` wraps moto's WSGI app; ``replication`` and ``control`` are set once they exist."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.replication: ReplicationWire | None = None
        self.notifications: NotificationWire | None = None
        self.control: Control | None = None
        self.emulated: EmulatedOperations | None = None
        self.versions: ConfigurationVersions | None = None
        self._shapes: _S3Shapes | None = None

    @property
    def shapes(self) -> _S3Shapes:
        if self._shapes is None:
            self._shapes = _S3Shapes()
        return self._shapes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        changes = (
            self.versions.changes(environ, _signing_service(environ), lambda: _read_body(environ))
            if self.versions is not None
            else ()
        )
        if not changes:
            return self._handle(environ, start_response)
        # Counted once moto's app has returned (it has done its work then): a read made before or
        # during the change is not current any more.
        assert self.versions is not None
        try:
            return self._handle(environ, start_response)
        finally:
            self.versions.changed(changes)

    def _handle(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, path[len(CONTROL_PREFIX) :], start_response)
        if self.emulated:
            answered = self.emulated.answer(environ, _signing_service(environ), start_response)
            if answered is not None:
                return answered
        in_process = environ.get("HTTP_" + MARKER_HEADER.upper().replace("-", "_")) == _MARKER_TOKEN
        if in_process or self.replication is None or _signing_service(environ) != "s3":
            return self.app(environ, start_response)
        operation = _s3_operation(environ)
        if operation is None:
            return self.app(environ, start_response)
        request_body = b""
        if operation in ("PutBucketReplication", "PutBucketNotificationConfiguration"):
            request_body = _read_body(environ)
        if operation == "PutBucketNotificationConfiguration":
            refusal = self._refused_notification(environ, request_body)
            if refusal is not None:
                return _xml_error(start_response, refusal)
            return self.app(environ, start_response)
        status, headers, body = _call(self.app, environ)
        if int(status.split(" ", 1)[0]) < 300:
            try:
                headers, body = self._after(operation, environ, request_body, headers, body)
            except Exception:
                log.exception("the gateway failed after %s %s", operation, path)
        start_response(status, headers)
        return [body]

    def _after(
        self,
        operation: str,
        environ: dict[str, Any],
        request_body: bytes,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> tuple[list[tuple[str, str]], bytes]:
        assert self.replication is not None
        bucket, key = _bucket_and_key(environ)
        version_id = _header(headers, "x-amz-version-id")
        if operation == "WriteObject" and version_id and version_id != "null":
            self.replication.replicate_version(bucket, key, version_id)
        elif operation == "ReadObject" and version_id:
            status = self.replication.replication_status(bucket, key, version_id)
            if status is not None:
                headers = [*headers, ("x-amz-replication-status", status)]
        elif operation == "PutBucketReplication":
            self.replication.record_configuration(bucket, self.shapes.replication_request(request_body))
        elif operation == "DeleteBucketReplication":
            self.replication.forget_configuration(bucket)
        elif operation == "GetBucketReplication":
            moto_view = self.shapes.replication_answer(body)
            faithful = self.replication.faithful_configuration(bucket, moto_view)
            if faithful != moto_view:
                body = self.shapes.replication_body(faithful)
                headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
                headers.append(("Content-Length", str(len(body))))
        return headers, body

    def _refused_notification(self, environ: dict[str, Any], body: bytes) -> dict[str, str] | None:
        """S3's error for a notification configuration whose destinations do not validate, else None."""
        if self.notifications is None:
            return None
        from replimend_local.s3_notifications import error_document

        skip = str(environ.get("HTTP_X_AMZ_SKIP_DESTINATION_VALIDATION") or "").lower() == "true"
        bucket, _ = _bucket_and_key(environ)
        params = {
            "Bucket": bucket,
            "NotificationConfiguration": self.shapes.notification_request(body),
            "SkipDestinationValidation": skip,
        }
        found = self.notifications.check_request(params)
        return error_document(found) if found else None

    # -- the control API ---------------------------------------------------------------------------

    def _control(self, environ: dict[str, Any], route: str, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if self.control is None:
            return _json(start_response, 503, {"message": "the stack is not deployed yet"})
        try:
            if route == "clock" and method == "GET":
                return _json(start_response, 200, {"now": self.control.now_iso()})
            if route == "clock/advance" and method == "POST":
                request = json.loads(_read_body(environ) or b"{}")
                seconds = float(request.get("seconds", 0))
                if seconds < 0:
                    return _json(start_response, 400, {"message": "the clock never goes back"})
                invocations = self.control.advance_clock(seconds)
                return _json(start_response, 200, {"now": self.control.now_iso(), "invocations": invocations})
        except (ValueError, TypeError, AttributeError) as error:
            return _json(start_response, 400, {"message": f"bad request: {error}"})
        return _json(start_response, 404, {"message": f"no control route {method} {CONTROL_PREFIX}{route}"})


def _json(start_response: StartResponse, status: int, document: dict[str, Any]) -> list[bytes]:
    body = json.dumps(document).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 503: "Service Unavailable"}[status]
    start_response(
        f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _xml_error(start_response: StartResponse, error: dict[str, str]) -> list[bytes]:
    """An S3 REST error document (400), as S3 answers a refused request."""
    from xml.sax.saxutils import escape

    fields = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in error.items() if name != "Type")
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{fields}'
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    ).encode()
    start_response(
        "400 Bad Request", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _signing_service(environ: dict[str, Any]) -> str | None:
    """The service a SigV4 request was signed for (header or presigned query), as moto routes it."""
    authorization = str(environ.get("HTTP_AUTHORIZATION") or "")
    credential = ""
    if "Credential=" in authorization:
        credential = authorization.split("Credential=", 1)[1].split(",", 1)[0]
    else:
        credential = (parse_qs(str(environ.get("QUERY_STRING") or "")).get("X-Amz-Credential") or [""])[0]
    parts = credential.split("/")
    return parts[3] if len(parts) >= 5 else None


def _bucket_and_key(environ: dict[str, Any]) -> tuple[str, str]:
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "").split("?", 1)[0]
    path = unquote(raw) if raw else str(environ.get("PATH_INFO") or "")
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


def _s3_operation(environ: dict[str, Any]) -> str | None:
    """The S3 operation of a path-style request the gateway cares about, else None."""
    method = str(environ.get("REQUEST_METHOD") or "")
    query = parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True)
    bucket, key = _bucket_and_key(environ)
    if not bucket or bucket.startswith("v2018"):
        return None
    if not key:
        if "notification" in query and method == "PUT":
            return "PutBucketNotificationConfiguration"
        if "replication" not in query:
            return None
        return {
            "PUT": "PutBucketReplication",
            "DELETE": "DeleteBucketReplication",
            "GET": "GetBucketReplication",
        }.get(method)
    if _OBJECT_SUBRESOURCES & set(query):
        return None
    if method == "PUT" and "uploadId" not in query:
        return "WriteObject"  # PutObject, CopyObject
    if method == "POST" and "uploadId" in query:
        return "WriteObject"  # CompleteMultipartUpload
    if method in ("GET", "HEAD") and "uploadId" not in query:
        return "ReadObject"
    return None


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
    return bytes(body)


def _call(app: Callable[..., Any], environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    captured: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        captured["status"], captured["headers"] = status, list(headers)
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if callable(close):
            close()
    return captured["status"], captured["headers"], b"".join(chunks)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for header, value in headers:
        if header.lower() == name:
            return value
    return None
