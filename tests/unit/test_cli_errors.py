"""The CLI's contract for every command: --version, --profile/--region everywhere, and every AWS,
credential or configuration error one line with a documented exit status — never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from replimend_cli import build_parser, main


def test_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "replimend_cli", "--version"], check=False, capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("replimend ")


def test_every_command_takes_profile_and_region() -> None:
    from replimend_cli import _leaf_parsers

    for command in _leaf_parsers(build_parser()):
        options = {option for action in command._actions for option in action.option_strings}
        assert {"--profile", "--region"} <= options, command.prog


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "LEDGER_TABLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    status = main(list(argv))
    return status, capsys.readouterr().err


def test_an_unknown_profile_is_one_line_and_status_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = run(monkeypatch, capsys, "incidents", "--table", "t", "--profile", "no-such-profile")
    assert status == 2 and err.count("\n") == 1 and "no-such-profile" in err and "Traceback" not in err


def test_a_missing_region_is_one_line_and_status_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = run(monkeypatch, capsys, "jobs", "--table", "t")
    assert status == 2 and err.count("\n") == 1 and "region" in err.lower() and "Traceback" not in err


def test_aws_region_from_the_environment_is_honoured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "LEDGER_TABLE"):
            monkeypatch.delenv(name, raising=False)
        import boto3

        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
        monkeypatch.setenv("AWS_REGION", "eu-west-1")
        status = main(["incidents", "--table", "missing-table"])
        err = capsys.readouterr().err
    # the table does not exist in eu-west-1: an AWS error, one line, status 1 — not a region error
    assert status == 1 and err.count("\n") == 1 and "region" not in err.lower()


def test_help_documents_every_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "Exit status:" in out
    for status in ("  0 ", "  1 ", "  2 ", "  130 "):
        assert status in out
    assert "--stack" in out and "--output" in out


@pytest.mark.parametrize("code", ["ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException"])
def test_refused_credentials_are_a_configuration_error(
    code: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from replimend.errors import AwsCallError
    from replimend_cli import ledger_cmds

    def refused(args: object) -> None:
        raise AwsCallError("Query on ledger", code, "The security token included in the request is expired")

    monkeypatch.setattr(ledger_cmds, "open_ledger", refused)
    assert main(["incidents", "--table", "t", "--region", "eu-west-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "credentials were refused" in err and code in err
