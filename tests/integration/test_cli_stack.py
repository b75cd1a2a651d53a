"""--stack against moto's CloudFormation and Lambda, and index shards checked against what the ledger's
writers recorded: a reader never silently gets fewer rows."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest

from replimend.ledger import Ledger
from replimend_cli import main
from replimend_cli.stack_config import load_stack
from tests.integration.ledger_helpers import RETRY, failure_event

WRITER_SHARDS = 8
SOURCES = [f"src-{n}" for n in range(12)]  # enough buckets that some land past shard 4


@pytest.fixture
def written(ledger_table: Any, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """A ledger written by functions using 8 index shards: failures spread over every shard."""
    for name in ("LEDGER_TABLE", "LEDGER_INDEX_SHARDS"):
        monkeypatch.delenv(name, raising=False)
    ledger = Ledger(ledger_table, index_shards=WRITER_SHARDS)
    for source in SOURCES:
        for n in range(6):
            ledger.record_event(failure_event(key=f"k{n}", source=source, reason="X"), RETRY)
    return ledger


def deploy_stack(table: str, shards: int) -> None:
    """A stack with replimend's outputs and a remediate function whose environment names the table."""
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName="remediate",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    boto3.client("lambda").create_function(
        FunctionName="replimend-Remediate",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": {"LEDGER_TABLE": table, "LEDGER_INDEX_SHARDS": str(shards)}},
    )
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "LedgerTableName": {"Value": table},
            "RemediateFunctionName": {"Value": "replimend-Remediate"},
        },
    }
    boto3.client("cloudformation").create_stack(StackName="replimend", TemplateBody=json.dumps(template))


def open_failures(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    status = main(["audit", "--state", "FAILED", "--output", "json", *argv])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_stack_gives_the_table_and_the_functions_shard_count(
    written: Ledger, ledger_table_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the deployed stack whose functions use 8 shards
    deploy_stack(ledger_table_name, WRITER_SHARDS)
    # When an operator names only the stack
    status, rows, _ = open_failures(capsys, "--stack", "replimend")
    # Then every open failure is read, with the table and shard count the stack's function uses
    assert status == 0 and len(rows) == len(SOURCES) * 6
    environment = load_stack("replimend", boto3.client).environment
    assert (environment["LEDGER_TABLE"], environment["LEDGER_INDEX_SHARDS"]) == (ledger_table_name, "8")


def test_fewer_index_shards_than_the_writers_is_refused(
    written: Ledger, ledger_table_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert written.recorded_index_shards() == WRITER_SHARDS
    # When a reader passes fewer shards than the functions wrote with
    status, rows, err = open_failures(capsys, "--table", ledger_table_name, "--index-shards", "4")
    # Then it refuses in one line, naming the right count, rather than print some of the rows
    assert status == 2 and rows == [] and err.count("\n") == 1
    assert "--index-shards 8" in err


def test_as_many_or_more_index_shards_read_every_row(
    written: Ledger, ledger_table_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for shards in ("8", "16"):
        status, rows, _ = open_failures(capsys, "--table", ledger_table_name, "--index-shards", shards)
        assert status == 0 and len(rows) == len(SOURCES) * 6


def test_a_shard_count_from_the_environment_is_checked_too(
    written: Ledger,
    ledger_table_name: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_TABLE", ledger_table_name)
    monkeypatch.setenv("LEDGER_INDEX_SHARDS", "2")
    status, _, err = open_failures(capsys)
    assert status == 2 and "8" in err


def test_the_ledger_remembers_every_shard_count_writers_used(written: Ledger, ledger_table: Any) -> None:
    # Given the shard count raised to 16 while containers with 8 still write (a deploy in progress)
    raised = Ledger(ledger_table, index_shards=16)
    raised.record_event(failure_event(key="new", source=SOURCES[0], reason="X"), RETRY)
    # Then the ledger reports the largest, whichever container wrote last
    written.record_event(failure_event(key="later", source="src-new", reason="X"), RETRY)
    assert written.recorded_index_shards() == 16


def test_a_ledger_no_writer_touched_records_no_shard_count(ledger_table: Any) -> None:
    assert Ledger(ledger_table).recorded_index_shards() is None
