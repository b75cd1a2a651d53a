"""Every command of the real parser, run with no Region, no credentials, an unknown profile, a missing
table and a missing stack: exactly one line on stderr, no traceback, nothing on stdout, the documented
exit status. The commands come from build_parser(), so a new command is covered (or fails) by itself."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import boto3
import pytest

from replimend_cli import _leaf_parsers, build_parser, main

#: Values for required arguments whose generic value would not parse.
VALUES = {"url": "s3://src-bucket/some/key", "duration": "15m", "html": "/tmp/replimend-cli-test-report.html"}
#: What the functions' settings need besides the table, so the error is the one under test.
SETTINGS = {
    "ACCOUNT_ID": "123456789012",
    "MANIFEST_BUCKET": "manifests",
    "REPORT_BUCKET": "reports",
    "BATCH_ROLE_ARN": "arn:aws:iam::123456789012:role/batch",
    "FAILURE_QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:replimend-failures",
}
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN")


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def _command(parser: argparse.ArgumentParser) -> list[str]:
    return parser.prog.split()[1:]


def _required_arguments(parser: argparse.ArgumentParser) -> list[str]:
    """A valid value for every required argument (the first of a required exclusive group)."""
    argv: list[str] = []
    chosen = {group._group_actions[0].dest for group in parser._mutually_exclusive_groups if group.required}
    for action in parser._actions:
        if not (action.required or action.dest in chosen) or isinstance(action, argparse._HelpAction):
            continue
        first_choice = next(iter(action.choices), None) if action.choices else None
        value = VALUES.get(action.dest) or (str(first_choice) if first_choice else "bucket-x")
        if not action.option_strings:
            argv.append(value)
        elif action.nargs == 0:
            argv.append(action.option_strings[0])
        else:
            argv += [action.option_strings[-1], value]
    return argv


LEAVES = _leaf_parsers(build_parser())
#: commands that write one document (a file) rather than rows: no --output
DOCUMENTS = {"report"}
AWS_COMMANDS = [leaf for leaf in LEAVES if leaf.get_default("needs_aws") is not False]
LEDGER_COMMANDS = [leaf for leaf in AWS_COMMANDS if "--table" in _options(leaf)]


def _id(parser: argparse.ArgumentParser) -> str:
    return " ".join(_command(parser))


def test_every_command_that_reads_aws_takes_stack() -> None:
    # A command reads AWS unless it says needs_aws=False; each of those has one way to find replimend
    assert {_id(leaf) for leaf in AWS_COMMANDS} >= {"history", "incidents", "audit", "remediate", "jobs",
                                                    "incident fixed", "diagnose"}  # fmt: skip
    for leaf in AWS_COMMANDS:
        wanted = {"--stack", "--profile", "--region"} | (
            {"--output"} if _id(leaf) not in DOCUMENTS else set()
        )
        assert wanted <= _options(leaf), leaf.prog


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No AWS configuration at all: no files, no profile, no instance metadata, no Region."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "LEDGER_TABLE", "LEDGER_INDEX_SHARDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    yield monkeypatch


def run(leaf: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    status = main([*_command(leaf), *_required_arguments(leaf), *extra])
    captured = capsys.readouterr()
    assert captured.out == "", "stdout must stay clean on an error"
    assert "Traceback" not in captured.err
    assert captured.err.count("\n") == 1 and captured.err.endswith("\n"), captured.err
    return status, captured.err


def _table_flag(leaf: argparse.ArgumentParser) -> list[str]:
    return ["--table", "ledger"] if "--table" in _options(leaf) else []


@pytest.mark.parametrize("leaf", AWS_COMMANDS, ids=_id)
def test_no_region_is_one_line_and_status_2(
    leaf: argparse.ArgumentParser, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = run(leaf, capsys, *_table_flag(leaf))
    assert status == 2 and "region" in err.lower()


@pytest.mark.parametrize("leaf", AWS_COMMANDS, ids=_id)
def test_no_credentials_is_one_line_and_status_2(
    leaf: argparse.ArgumentParser, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in CREDENTIALS:
        clean_env.delenv(name, raising=False)
    status, err = run(leaf, capsys, *_table_flag(leaf), "--region", "eu-west-1")
    assert status == 2 and "credentials" in err.lower()


@pytest.mark.parametrize("leaf", AWS_COMMANDS, ids=_id)
def test_an_unknown_profile_is_one_line_and_status_2(
    leaf: argparse.ArgumentParser, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = run(leaf, capsys, *_table_flag(leaf), "--profile", "no-such-profile")
    assert status == 2 and "no-such-profile" in err


@pytest.mark.parametrize("leaf", LEDGER_COMMANDS, ids=_id)
def test_a_missing_table_is_one_line_naming_it_and_status_1(
    leaf: argparse.ArgumentParser, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from moto import mock_aws

    clean_env.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        status, err = run(leaf, capsys, "--table", "no-such-table")
    assert status == 1 and "no-such-table" in err and "ResourceNotFoundException" in err


@pytest.mark.parametrize("leaf", AWS_COMMANDS, ids=_id)
def test_a_missing_stack_is_one_line_naming_it_and_status_2(
    leaf: argparse.ArgumentParser, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from moto import mock_aws

    clean_env.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        status, err = run(leaf, capsys, "--stack", "no-such-stack")
    assert status == 2 and "'no-such-stack' does not exist" in err


def test_a_bad_argument_value_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["history", "not-an-s3-url", "--table", "t"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1 and "s3://BUCKET/KEY" in err


@pytest.mark.parametrize("leaf", [leaf for leaf in LEAVES if _id(leaf) == "classify"], ids=_id)
def test_a_command_that_reads_no_aws_needs_no_region_or_credentials(
    leaf: argparse.ArgumentParser, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import EVENTS_DIR

    for name in CREDENTIALS:
        clean_env.delenv(name, raising=False)
    assert main([*_command(leaf), str(EVENTS_DIR / "s3-failed-replication.json")]) == 0
    assert capsys.readouterr().err == ""
