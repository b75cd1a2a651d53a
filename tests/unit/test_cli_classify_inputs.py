"""`replimend classify` inputs: several files, JSON Lines, `aws sqs receive-message` output, stdin; and
--output table|csv. Each unparseable record is one error line naming where it was; exit 1 then."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from replimend_cli import main
from tests.conftest import EVENTS_DIR, load_event

SQS_EVENT = "sqs-failed-replication.json"  # a Lambda SQS event: three messages, one failure each
S3_EVENT = "s3-failed-replication.json"  # one S3 record


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    status = main(["classify", *argv])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err


def receive_message_output(lambda_event: dict[str, Any]) -> dict[str, Any]:
    """What `aws sqs receive-message --queue-url DLQ --max-number-of-messages 10` prints for the same
    messages (Amazon SQS API Reference, ReceiveMessage / Message: MessageId, ReceiptHandle, MD5OfBody,
    Body, Attributes)."""
    return {
        "Messages": [
            {
                "MessageId": record["messageId"],
                "ReceiptHandle": record["receiptHandle"],
                "MD5OfBody": record["md5OfBody"],
                "Body": record["body"],
                "Attributes": {"ApproximateReceiveCount": "5"},
            }
            for record in lambda_event["Records"]
        ]
    }


def test_several_files_are_classified_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = run(capsys, str(EVENTS_DIR / S3_EVENT), str(EVENTS_DIR / SQS_EVENT))
    assert status == 0 and len(lines) == 4
    first, *rest = lines
    (alone,) = run(capsys, str(EVENTS_DIR / S3_EVENT))[1]
    assert first == alone and len(rest) == 3


def test_receive_message_output_is_classified_like_the_lambda_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the DLQ's messages as the AWS CLI prints them
    path = tmp_path / "dlq.json"
    path.write_text(json.dumps(receive_message_output(load_event(SQS_EVENT)), indent=2))
    # When they are classified / Then each record reads as it does from the Lambda event
    status, lines, _ = run(capsys, str(path))
    assert status == 0
    assert lines == run(capsys, str(EVENTS_DIR / SQS_EVENT))[1]


def test_a_broken_message_in_receive_message_output_names_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = receive_message_output(load_event(SQS_EVENT))
    document["Messages"][1]["Body"] = "{not json"
    del document["Messages"][2]["Body"]
    path = tmp_path / "dlq.json"
    path.write_text(json.dumps(document))
    status, lines, _ = run(capsys, str(path))
    assert status == 1 and len(lines) == 3 and "error" not in lines[0]
    message_id = document["Messages"][1]["MessageId"]
    assert (
        lines[1]["source"] == f"Messages[1] MessageId={message_id}" and "not valid JSON" in lines[1]["error"]
    )
    assert lines[2]["source"] == "Messages[2]" and "Body" in lines[2]["error"]


def test_json_lines_are_one_document_per_line_and_errors_name_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = [json.dumps(load_event(S3_EVENT)), "{broken", json.dumps(load_event(SQS_EVENT)), ""]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(documents))
    status, lines, _ = run(capsys, str(path))
    assert status == 1 and len(lines) == 5
    assert lines[1]["source"] == "line 2: document" and "not valid JSON" in lines[1]["error"]
    assert all("error" not in line for line in lines[:1] + lines[2:])


def test_with_several_inputs_an_error_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("[]")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((EVENTS_DIR / S3_EVENT).read_bytes())))
    status, lines, _ = run(capsys, "-", str(broken))
    assert status == 1 and "error" not in lines[0]
    assert lines[1]["source"] == f"{broken}: document" and "not a JSON object" in lines[1]["error"]


def test_an_unreadable_file_stops_before_anything_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["classify", str(EVENTS_DIR / S3_EVENT), str(tmp_path / "missing.json")])
    captured = capsys.readouterr()
    assert exited.value.code == 2 and captured.out == "" and "missing.json: no such file" in captured.err


def test_csv_and_table_outputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(json.dumps(load_event(S3_EVENT)) + "\n[]\n")
    assert main(["classify", "--output", "csv", str(mixed)]) == 1
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["action"] and rows[0]["error"] == ""
    assert rows[1]["error"] and rows[1]["source"] == "line 2: document" and rows[1]["action"] == ""
    assert main(["classify", "--output", "table", str(EVENTS_DIR / S3_EVENT)]) == 0
    out = capsys.readouterr().out
    (line,) = run(capsys, str(EVENTS_DIR / S3_EVENT))[1]
    assert line["key"] in out and line["failure_reason"] in out
