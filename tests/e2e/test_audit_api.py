"""The audit API end to end: template.yaml's HttpApi served by the local runtime's HTTP server, IAM
authorization (unsigned: 403; SigV4-signed: answered by the audit_api function from the ledger the
pipeline wrote), and the CLI's `audit --endpoint`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from replimend.audit.api import object_path
from replimend_cli import main
from replimend_cli.api_cmd import ApiError, AuditApiClient
from tests.e2e.e2e_stack import Stack

pytestmark = pytest.mark.e2e

KEY = "incoming/Été 2024/rapport + annexe #1.pdf"


def test_the_audit_api_answers_signed_requests_through_the_local_http_server(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a failure the pipeline recorded (destination versioning suspended)
    source, destination, _ = stack.replicated_bucket_pair("e2e-audit", destination_versioning="Suspended")
    version = stack.client("s3").put_object(Bucket=source, Key=KEY, Body=b"x")["VersionId"]
    stack.runtime.drain()
    base = stack.runtime.serve_http()

    # When a request is not signed, Then API Gateway's IAM authorization refuses it (403)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/failures")
    assert refused.value.code == 403

    # When it is signed with SigV4, Then the function answers from the ledger
    client = AuditApiClient(base, region="us-east-1")
    page = client.get("/failures", {"source": source})
    assert [(f["key"], f["version_id"], f["destination_bucket"]) for f in page["items"]] == [
        (KEY, version, destination)
    ]
    assert page["items"][0]["failure_reason"] == "DstBucketUnversioned"
    history = client.get(object_path(source, KEY))
    assert history["key"] == KEY and history["history"][0]["kind"] == "event"
    incidents = client.get("/incidents", {"status": "open"})
    assert [i["failure_reason"] for i in incidents["items"]] == ["DstBucketUnversioned"]
    assert client.get("/summary")["by_reason"] == {"DstBucketUnversioned": 1}
    with pytest.raises(ApiError, match="404"):
        client.get(object_path(source, "no/such key"))
    with pytest.raises(ApiError, match=r"400 .*limit"):
        client.get("/failures", {"limit": 0})

    # And the CLI's audit --endpoint prints the same failure, signed the same way
    assert main(["audit", "--bucket", source, "--endpoint", base, "--region", "us-east-1", "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["key"] == KEY
