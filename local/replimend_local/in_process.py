"""This process's requests to the embedded AWS reach moto's WSGI app directly, not through a socket.

moto's server runs in a thread of this process, so an HTTP round trip to it costs a socket, a server
thread and HTTP parsing on both sides for nothing: measured here, a DynamoDB PutItem took 3.6 ms over
HTTP and 1.6 ms handed to the same WSGI app in process, an S3 PutObject 4.8 ms and 2.6 ms. What the
app receives is what werkzeug's server would have built (the environ of
``werkzeug.serving.WSGIRequestHandler.make_environ`` plus moto's ``MotoRequestHandler``, which keeps
the spelling of ``x-amz-meta-`` headers with underscores), so moto, the gateway and the emulators
answer exactly as on the wire.

The switch is below botocore's ``before-send`` event (``URLLib3Session.send``, the call that would
open the socket), so handlers that answer or fail a request before it is sent - moto's ``mock_aws``,
fault injection in tests - still win. Other processes (the AWS CLI, ``replimend local up`` users)
keep using the server.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse, HTTPHeaders
from botocore.httpsession import URLLib3Session

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]
Send = Callable[[URLLib3Session, AWSRequest | AWSPreparedRequest], AWSResponse]

# moto.moto_server.werkzeug_app.PRESERVED_HEADER_NAMES_ENVIRON_KEY
_PRESERVED_NAMES_KEY = "moto.preserved_header_names"


class _Routes:
    """The endpoints routed in process, and botocore's own send while any is."""

    def __init__(self) -> None:
        self.apps: dict[str, WsgiApp] = {}
        self.lock = threading.Lock()
        self.original_send: Send | None = None


_ROUTES = _Routes()


class _Body(io.BytesIO):
    """A response body botocore reads as it reads urllib3's (``stream()`` or ``read(amt)``)."""

    def stream(self, amt: int = 2**16, decode_content: bool | None = None) -> Iterator[bytes]:
        while chunk := self.read(amt):
            yield chunk


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def route(endpoint_url: str, app: WsgiApp) -> Callable[[], None]:
    """Send this process's requests for ``endpoint_url`` to ``app``; returns the undo."""
    origin = _origin(endpoint_url)
    with _ROUTES.lock:
        _ROUTES.apps[origin] = app
        if _ROUTES.original_send is None:
            _ROUTES.original_send = URLLib3Session.send
            URLLib3Session.send = _send  # type: ignore[method-assign,assignment]

    def undo() -> None:
        with _ROUTES.lock:
            if _ROUTES.apps.get(origin) is app:
                del _ROUTES.apps[origin]
            if not _ROUTES.apps and _ROUTES.original_send is not None:
                URLLib3Session.send = _ROUTES.original_send  # type: ignore[method-assign,assignment]
                _ROUTES.original_send = None

    return undo


def _send(session: URLLib3Session, request: AWSRequest | AWSPreparedRequest) -> AWSResponse:
    app = _ROUTES.apps.get(_origin(str(request.url)))
    if app is None:
        assert _ROUTES.original_send is not None
        return _ROUTES.original_send(session, request)
    return call(app, request)


def call(app: WsgiApp, request: AWSRequest | AWSPreparedRequest) -> AWSResponse:
    """Answer ``request`` with ``app`` as werkzeug's server would have."""
    environ = _environ(request)
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer["status"] = int(status.split(" ", 1)[0])
        answer["headers"] = headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    headers = HTTPHeaders()
    for name, value in answer["headers"]:
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return AWSResponse(str(request.url), answer["status"], headers, _Body(body))


def _request_body(request: AWSRequest | AWSPreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(part.encode("utf-8") if isinstance(part, str) else bytes(part) for part in body)


def _latin1(text: str) -> str:
    """PEP 3333: environ strings carry the request's bytes as latin-1 (werkzeug's encoding dance)."""
    return text.encode("utf-8").decode("latin-1")


def _environ(request: AWSRequest | AWSPreparedRequest) -> dict[str, Any]:
    url = urlsplit(str(request.url))
    body = _request_body(request)
    target = url.path + (f"?{url.query}" if url.query else "")
    host, _, port = url.netloc.partition(":")
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": _latin1(unquote(url.path)),
        "QUERY_STRING": _latin1(url.query),
        "REQUEST_URI": _latin1(target),
        "RAW_URI": _latin1(target),
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": 0,
        "SERVER_NAME": host,
        "SERVER_PORT": port or ("443" if url.scheme == "https" else "80"),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": url.netloc,
    }
    headers = [
        (str(name), value.decode("latin-1") if isinstance(value, bytes) else str(value))
        for name, value in request.headers.items()
    ]
    dashed = {_environ_key(name) for name, _ in headers if "_" not in name}
    preserved: dict[str, str] = {}
    for name, raw_value in headers:
        key = _environ_key(name)
        value = raw_value.replace("\r\n", "")
        if "_" in name:
            # werkzeug drops underscored headers; moto keeps S3 metadata ones under their own spelling
            if not name.lower().startswith("x-amz-meta-") or key in dashed:
                continue
            preserved.setdefault(key, name)
        elif key in ("HTTP_TRANSFER_ENCODING", "CONTENT_LENGTH"):
            continue  # the whole body is here: its length is known
        elif key == "HTTP_HOST":
            environ[key] = value  # as urllib3 sends it: the header, else the URL's
            continue
        if key in environ and key.startswith("HTTP_"):
            value = f"{environ[key]},{value}"
        environ[key] = value
    environ[_PRESERVED_NAMES_KEY] = preserved
    if body or request.method in ("POST", "PUT", "PATCH"):
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def _environ_key(name: str) -> str:
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"
