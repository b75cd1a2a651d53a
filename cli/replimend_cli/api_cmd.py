"""`replimend api openapi`, and the SigV4 client `replimend audit --endpoint URL` calls the audit API with.

  api openapi        print the audit API's OpenAPI 3 document (from the resolver the function serves)

The API uses IAM authorization: every request is signed with Signature Version 4 for the service
``execute-api`` with the caller's credentials (the profile and Region of --profile/--region)
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-access-control-iam.html).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from replimend.errors import ReplimendError
from replimend_cli import UsageError
from replimend_cli.output import Column, emit

#: The Region in an execute-api host name: <api-id>.execute-api.<region>.amazonaws.com[.cn]
_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


class ApiError(ReplimendError):
    """The audit API answered with an error, or could not be reached."""


def register(subparsers: Any) -> None:
    api = subparsers.add_parser("api", help="the audit HTTP API", description="The audit HTTP API.")
    commands = api.add_subparsers(dest="api_command", metavar="SUBCOMMAND", required=True)
    openapi = commands.add_parser(
        "openapi",
        help="print the audit API's OpenAPI 3 document",
        description="Print the OpenAPI 3 document of the audit API (the routes, parameters and responses "
        "the audit_api function serves) as JSON.",
    )
    openapi.set_defaults(func=run_openapi, needs_aws=False)


def run_openapi(args: argparse.Namespace) -> int:
    from replimend.audit.api import build_api, openapi_document

    def no_ledger() -> Any:  # the document describes the routes; it never runs a query
        raise ApiError("the OpenAPI document needs no ledger")

    sys.stdout.write(json.dumps(openapi_document(build_api(no_ledger)), indent=2) + "\n")
    return 0


class AuditApiClient:
    """GET requests to the audit API, signed with SigV4 (service execute-api)."""

    def __init__(self, endpoint: str, *, region: str | None = None, timeout: float = 30) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"--endpoint: not an http(s) URL: {endpoint!r}")
        import boto3
        from botocore.exceptions import NoCredentialsError, NoRegionError

        session = boto3.DEFAULT_SESSION or boto3.Session()
        credentials = session.get_credentials()
        if credentials is None:
            raise NoCredentialsError()
        host_region = _API_HOST.match(parts.hostname or "")
        found = region or session.region_name or (host_region["region"] if host_region else None)
        if not found:
            raise NoRegionError()
        self.region: str = found
        self._credentials = credentials
        self._endpoint = endpoint.rstrip("/")
        self._timeout = timeout

    def get(self, path: str, query: Mapping[str, Any] | None = None) -> Any:
        """The JSON body of a 200 answer; ApiError (one line: status and the API's message) otherwise."""
        import urllib.error
        import urllib.request

        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        params = {name: str(value) for name, value in (query or {}).items() if value is not None}
        url = self._endpoint + path + (f"?{urlencode(sorted(params.items()))}" if params else "")
        request = AWSRequest(method="GET", url=url, headers={"accept": "application/json"})
        SigV4Auth(self._credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(request)
        prepared = request.prepare()
        headers = dict(prepared.headers.items())
        outgoing = urllib.request.Request(prepared.url, headers=headers, method="GET")  # noqa: S310 (http(s) checked)
        try:
            with urllib.request.urlopen(outgoing, timeout=self._timeout) as response:  # noqa: S310 (http(s) checked)
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ApiError(f"{exc.code} from GET {path}: {_message(exc.read())}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(f"cannot reach {self._endpoint}: {reason}") from None

    def failures(self, query: Mapping[str, Any], *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every failure of a /failures query, page after page (at most ``limit``)."""
        produced = 0
        cursor = None
        while True:
            page_size = min(1000, limit - produced) if limit else 1000
            page = self.get("/failures", {**query, "limit": page_size, "cursor": cursor})
            for item in page["items"]:
                yield item
                produced += 1
                if limit is not None and produced >= limit:
                    return
            cursor = page.get("next_cursor")
            if not cursor:
                return


def _message(body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return " ".join(body.decode("utf-8", "replace").split())[:200] or "no message"
    message = document.get("message") if isinstance(document, dict) else None
    return str(message or document)


def run_audit_via_api(args: argparse.Namespace) -> int:
    """`replimend audit … --endpoint URL`: the failures of a source bucket, reason or state from the
    deployed API (first seen inside --since/--until), printed as the table commands print them."""
    client = AuditApiClient(args.endpoint, region=args.region)
    query = {
        "source": args.bucket,
        "reason": args.reason,
        "state": args.state,
        "since": args.since.isoformat() if args.since else None,
        "until": args.until.isoformat() if args.until else None,
    }
    rows = client.failures(query, limit=args.limit)
    columns = (
        "source_bucket",
        "key",
        "version_id",
        "destination_bucket",
        "state",
        "failure_reason",
        "first_seen",
    )
    emit(
        rows,
        args.output,
        columns=[Column(column.replace("_", " "), column) for column in columns],
        title=f"Failures from {args.endpoint}",
        empty="no failures match",
    )
    return 0
