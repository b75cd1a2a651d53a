"""HTTP serving: the template's HttpApi/Api routes on 127.0.0.1 as API Gateway proxy events."""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from replimend_local.sam.core import RuntimeCore
from replimend_local.sam.errors import TemplateError

log = logging.getLogger("replimend_local.sam")


@dataclass
class HttpRoute:
    function_id: str
    method: str
    path: str
    payload_version: str  # "2.0" for HttpApi, "1.0" for Api
    iam_auth: bool = False  # the route's authorizer is AWS_IAM: requests must be SigV4-signed
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.escape(self.path)
        regex = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", regex)
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        self.pattern = re.compile(f"^{regex}$")


class HttpServing(RuntimeCore):
    """Serves HttpApi/Api events on a local port."""

    # ---------------------------------------------------------------- HTTP

    def serve_http(self, port: int = 0) -> str:
        """Serve the template's HttpApi/Api routes on 127.0.0.1; returns the base URL."""
        if not self.http_routes:
            raise TemplateError("the template declares no HttpApi or Api events")
        if self._http_server is None:
            runtime = self

            class Handler(BaseHTTPRequestHandler):
                def do_request(self) -> None:
                    runtime._handle_http(self)

                do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_request

                def log_message(self, format: str, *args: Any) -> None:
                    log.debug(format, *args)

            self._http_server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            threading.Thread(target=self._http_server.serve_forever, daemon=True).start()
        host, bound_port = self._http_server.server_address[:2]
        return f"http://{host!s}:{bound_port}"

    def _handle_http(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        method = request.command
        for route in self.http_routes:
            match = route.pattern.match(url.path)
            if match and route.method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD", method):
                break
        else:
            self._http_reply(
                request, 404, {"content-type": "application/json"}, json.dumps({"message": "Not Found"})
            )
            return
        identity = sigv4_identity(dict(request.headers)) if route.iam_auth else None
        if route.iam_auth and identity is None:
            # An IAM-authorized route answers an unsigned request 403 without invoking anything
            # (https://repost.aws/knowledge-center/api-gateway-troubleshoot-403-forbidden).
            self._http_reply(request, 403, {"content-type": "application/json"}, '{"message":"Forbidden"}')
            return
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length).decode("utf-8", "replace") if length else None
        event = self._http_event(
            route,
            method=method,
            path=url.path,
            query=url.query,
            headers=dict(request.headers),
            body=body,
            path_parameters=match.groupdict(),
            identity=identity,
        )
        invocation = self._invoke(route.function_id, event, trigger="http", summary=f"{method} {url.path}")
        if not invocation.ok:
            self._http_reply(
                request, 502, {"content-type": "application/json"}, '{"message":"Internal Server Error"}'
            )
            return
        result = invocation.result
        if not isinstance(result, dict) or "statusCode" not in result:
            self._http_reply(request, 200, {"content-type": "application/json"}, json.dumps(result))
            return
        headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        payload = result.get("body") or ""
        if result.get("isBase64Encoded"):
            import base64

            self._http_reply(request, int(result["statusCode"]), headers, base64.b64decode(payload))
        else:
            self._http_reply(request, int(result["statusCode"]), headers, str(payload))

    @staticmethod
    def _http_reply(
        request: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], body: str | bytes
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        request.send_response(status)
        for name, value in headers.items():
            if name != "content-length":
                request.send_header(name, value)
        request.send_header("content-length", str(len(data)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(data)

    def _http_event(
        self,
        route: HttpRoute,
        *,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: str | None,
        path_parameters: dict[str, str],
        identity: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        now = self.clock.now()
        pairs = parse_qsl(query, keep_blank_values=True)
        lowered = {name.lower(): value for name, value in headers.items()}
        request_id = str(uuid.uuid4())
        if route.payload_version == "2.0":
            query_parameters: dict[str, str] = {}
            for name, value in pairs:
                query_parameters[name] = (
                    f"{query_parameters[name]},{value}" if name in query_parameters else value
                )
            return {
                "version": "2.0",
                "routeKey": f"{route.method if route.method != 'ANY' else 'ANY'} {route.path}",
                "rawPath": path,
                "rawQueryString": query,
                "headers": lowered,
                "queryStringParameters": query_parameters or None,
                "pathParameters": path_parameters or None,
                "requestContext": {
                    "accountId": self.account_id,
                    "apiId": "local",
                    "domainName": lowered.get("host", "127.0.0.1"),
                    "domainPrefix": "local",
                    "http": {
                        "method": method,
                        "path": path,
                        "protocol": "HTTP/1.1",
                        "sourceIp": "127.0.0.1",
                        "userAgent": lowered.get("user-agent", ""),
                    },
                    "requestId": request_id,
                    **({"authorizer": {"iam": identity}} if identity else {}),
                    "routeKey": f"{route.method} {route.path}",
                    "stage": "$default",
                    "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                    "timeEpoch": int(now.timestamp() * 1000),
                },
                "body": body,
                "isBase64Encoded": False,
            }
        multi: dict[str, list[str]] = {}
        for name, value in pairs:
            multi.setdefault(name, []).append(value)
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": {name: values[-1] for name, values in multi.items()} or None,
            "multiValueQueryStringParameters": multi or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": self.account_id,
                "apiId": "local",
                "httpMethod": method,
                "path": path,
                "requestId": request_id,
                "resourcePath": route.path,
                "stage": "local",
                "identity": {"sourceIp": "127.0.0.1"},
                "requestTimeEpoch": int(now.timestamp() * 1000),
            },
            "body": body,
            "isBase64Encoded": False,
        }


_SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


def sigv4_identity(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The caller of a SigV4-signed execute-api request, or None when it is not one.

    The embedded AWS takes any credentials, so only the signature's form is checked: an
    Authorization header for service execute-api signing host and x-amz-date, and that date.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    match = _SIGV4.match(lowered.get("authorization", "").strip())
    if match is None or match["service"] != "execute-api" or not lowered.get("x-amz-date"):
        return None
    signed = match["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return None
    return {"accessKey": match["key"], "region": match["region"], "callerId": match["key"]}
