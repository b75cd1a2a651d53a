"""The local runtime's IAM authorization of HttpApi routes: only a SigV4 execute-api signature passes."""

from __future__ import annotations

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from replimend_local.sam.http import sigv4_identity


def signed_headers(service: str) -> dict[str, str]:
    request = AWSRequest(method="GET", url="http://127.0.0.1:8080/failures?limit=1")
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), service, "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_a_sigv4_execute_api_request_names_its_caller() -> None:
    identity = sigv4_identity(signed_headers("execute-api"))
    assert identity is not None and identity["accessKey"] == "AKIDEXAMPLE"


def test_unsigned_other_service_or_unsigned_date_requests_are_refused() -> None:
    assert sigv4_identity({}) is None
    assert sigv4_identity({"Authorization": "Bearer token"}) is None
    assert sigv4_identity(signed_headers("s3")) is None
    without_date = {k: v for k, v in signed_headers("execute-api").items() if k.lower() != "x-amz-date"}
    assert sigv4_identity(without_date) is None
