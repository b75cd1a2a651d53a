"""`replimend classify`: its JSON Lines contract, error lines and exit statuses (in-process and as a command)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from replimend.events import MAX_DOCUMENT_CHARS
from replimend_cli import main
from tests.conftest import EVENTS_DIR

REPLIMEND = Path(sys.executable).with_name("replimend")
CONTRACT_FIELDS = {
    "event_type",
    "action",
    "failure_reason",
    "category",
    "source_bucket",
    "key",
    "version_id",
    "destination_bucket",
    "destination_bucket_arn",
    "rule_id",
    "fix",
    "cli",
}


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]], str]:
    try:
        status = main(["classify", *args])
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    return status, lines, captured.err


def run_command(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(REPLIMEND), "classify", *args], check=False, input=stdin, capture_output=True, timeout=60
    )


def test_sqs_event_prints_one_line_per_record_with_the_contract_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a Lambda SQS event with three failures
    path = EVENTS_DIR / "sqs-failed-replication.json"

    # When it is classified
    status, lines, _ = run_main([str(path)], capsys)

    # Then every record has a line with every contract field, in input order, keys decoded
    assert status == 0
    assert len(lines) == 3
    for line in lines:
        assert set(line) >= CONTRACT_FIELDS
    first, second, third = lines
    assert first["key"] == "reports/2024/Q1 summary(final).csv"
    assert first["action"] == "retry_after_fix"
    assert first["failure_reason"] == "DstBucketUnversioned"
    assert first["category"] == "versioning"
    assert first["destination_bucket"] == "amzn-s3-demo-bucket2"
    assert first["destination_bucket_arn"] == "arn:aws:s3:::amzn-s3-demo-bucket2"
    assert first["rule_id"] == "notification-test-replication-rule"
    assert first["source_bucket"] == "amzn-s3-demo-bucket1"
    assert first["version_id"] == "Fl7QL5hmS2Bdc7HN.l7J0u8aKA4bZVq1"
    assert "put-bucket-versioning" in first["cli"]
    assert second["key"] == "photos/été/café crème.jpg"
    assert third["action"] == "close_obsolete"


def test_absent_fields_are_null(capsys: pytest.CaptureFixture[str]) -> None:
    status, [line], _ = run_main([str(EVENTS_DIR / "s3-missing-version.json")], capsys)
    assert status == 0
    assert line["version_id"] is None

    status, [test_line], _ = run_main([str(EVENTS_DIR / "sqs-test-event.json")], capsys)
    assert status == 0
    assert test_line["event_type"] == "s3:TestEvent"
    assert test_line["action"] == "ignore"
    assert test_line["failure_reason"] is None
    assert test_line["key"] is None


def test_malformed_message_prints_an_error_line_in_place_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an SQS batch with a malformed body between two good ones
    path = EVENTS_DIR / "sqs-mixed-with-malformed.json"
    message_id = json.loads(path.read_text())["Records"][1]["messageId"]

    # When it is classified
    status, lines, _ = run_main([str(path)], capsys)

    # Then the good records are classified around an error line naming the message
    assert status == 1
    assert [("error" in line) for line in lines] == [False, True, False]
    assert lines[1]["error"].startswith("body is not valid JSON")
    assert lines[1]["source"] == f"Records[1] messageId={message_id}"
    assert lines[0]["key"] == "data/part-0001.parquet"
    assert lines[2]["key"] == "data/part-0002.parquet"


def test_unknown_reason_is_printed_as_escalate_not_known(capsys: pytest.CaptureFixture[str]) -> None:
    status, [line], _ = run_main([str(EVENTS_DIR / "s3-unknown-reason.json")], capsys)
    assert status == 0
    assert (line["action"], line["known"], line["failure_reason"]) == (
        "escalate",
        False,
        "DstReplicaQuotaExceeded",
    )


def test_stdin_is_read_when_no_file_is_given(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document = (EVENTS_DIR / "s3-threshold-events.json").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(document)))
    status, lines, _ = run_main([], capsys)
    assert status == 0
    assert [line["action"] for line in lines] == ["observe"] * 3


def test_content_that_is_not_json_is_an_error_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "garbage.json"
    path.write_text("this is not json")
    status, [line], _ = run_main([str(path)], capsys)
    assert status == 1
    assert line == {
        "error": "document is not valid JSON: Expecting value (line 1, column 1)",
        "source": "document",
    }


def test_missing_file_is_a_usage_error_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, err = run_main([str(tmp_path / "nope.json")], capsys)
    assert status == 2
    assert lines == []
    assert "nope.json: no such file" in err


def test_directory_is_a_usage_error_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_main([str(tmp_path)], capsys)
    assert status == 2
    assert "is a directory" in err


def test_oversized_input_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (MAX_DOCUMENT_CHARS + 1))
    status, _, err = run_main([str(path)], capsys)
    assert status == 2
    assert "larger than" in err


# ---------------------------------------------------------------- as a real command


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("s3-failed-replication.json", 1),
        ("sqs-sns-envelope.json", 1),
        ("sqs-raw-sns.json", 1),
        ("sns-lambda.json", 1),
        ("s3-object-created.json", 1),
    ],
)
def test_command_classifies_each_sample_event(name: str, count: int) -> None:
    result = run_command(str(EVENTS_DIR / name))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(lines) == count
    assert all(set(line) >= CONTRACT_FIELDS for line in lines)


def test_command_reads_stdin_and_exits_1_on_a_broken_record() -> None:
    # Given a document on stdin whose second record has no bucket name
    document = json.loads((EVENTS_DIR / "s3-failed-replication.json").read_text())
    broken = json.loads(json.dumps(document["Records"][0]))
    del broken["s3"]["bucket"]["name"]
    document["Records"].append(broken)

    # When the command reads it from stdin
    result = run_command("-", stdin=json.dumps(document).encode())

    # Then the first record is classified, the second is an error line, and the status is 1
    assert result.returncode == 1
    first, second = (json.loads(line) for line in result.stdout.decode().splitlines())
    assert first["action"] == "retry_after_fix"
    assert second == {"error": "Records[1]: s3.bucket.name missing", "source": "Records[1]"}


def test_command_missing_file_exits_2_with_a_message_on_stderr(tmp_path: Path) -> None:
    result = run_command(str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"missing.json: no such file" in result.stderr


def test_command_non_utf8_input_is_an_error_line() -> None:
    result = run_command("-", stdin=b"\xff\xfe{}")
    assert result.returncode == 1
    [line] = [json.loads(text) for text in result.stdout.decode().splitlines()]
    assert line["error"].startswith("document is not UTF-8 text")


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ('"size": 520080', '"size": ' + "9" * 5000, "document is not valid JSON: a number has more than"),
        (
            '"size": 520080',
            '"size": 100000000000000000000000000000000000000000',
            "Records[0]: s3.object.size: ",
        ),
        ('"size": 520080', '"size": -5', "Records[0]: s3.object.size: -5 is negative"),
        ('"replication-object-put-test.png"', '"euro-%E2%82.png"', "Records[0]: s3.object.key: "),
        ('"replication-object-put-test.png"', '"100%ZZ.png"', "Records[0]: s3.object.key: "),
    ],
)
def test_command_prints_one_error_line_for_hostile_values_never_a_traceback(
    replace: str, by: str, expected: str
) -> None:
    # Given AWS's example event with one hostile value written into its JSON text
    text = (EVENTS_DIR / "s3-failed-replication.json").read_text()
    assert replace in text
    hostile = text.replace(replace, by)

    # When the command reads it
    result = run_command("-", stdin=hostile.encode())

    # Then it prints exactly one error line and exits 1, with nothing on stderr
    assert result.returncode == 1, result.stderr
    [line] = [json.loads(text) for text in result.stdout.decode().splitlines()]
    assert line["error"].startswith(expected), line
    assert result.stderr == b""
