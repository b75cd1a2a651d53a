"""`replimend api openapi` and the errors of `replimend audit --endpoint`: one line, documented status."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from replimend_cli import main


def test_api_openapi_prints_the_valid_document_of_the_function(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api", "openapi"]) == 0
    document = json.loads(capsys.readouterr().out)
    validate(document)
    assert "/objects/{bucket}/{key}" in document["paths"]
    assert document["paths"]["/failures"]["get"]["responses"]["400"]


def test_audit_endpoint_that_is_no_url_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse's own exit for bad usage
        main(["audit", "--state", "FAILED", "--endpoint", "ftp://example"])
    assert exited.value.code == 2
    assert "not an http(s) URL" in capsys.readouterr().err.strip().splitlines()[-1]


def test_audit_endpoint_that_does_not_answer_is_one_line_and_status_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["audit", "--state", "FAILED", "--endpoint", "http://127.0.0.1:9", "--region", "us-east-1"])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and line.startswith("replimend: error: ApiError: cannot reach http://127.0.0.1:9")


def test_audit_endpoint_without_credentials_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_CONFIG_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = main(["audit", "--state", "FAILED", "--endpoint", "http://127.0.0.1:9"])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "credentials" in line.lower()
