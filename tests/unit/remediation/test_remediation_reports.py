"""Completion report parsing: both column orders, quoted messages, encoded keys."""

from __future__ import annotations

import json

import pytest

from replimend.errors import MalformedEventError
from replimend.track.reports import parse_report_manifest, parse_report_rows, report_manifest_key


def test_schema_order_and_example_order_both_give_code_and_http_status() -> None:
    # Given one row in ReportSchema order (code, http) and one in AWS's example order (http, code)
    lines = [
        "src,a%2Cb,v1,failed,DstPutObjectNotPermitted,403,Access denied\n",
        'src,k%20two,v2,failed,200,PermanentFailure,"Replication failed: DstKmsKeyNotFound, key gone"\n',
    ]
    # When parsed
    schema, example = list(parse_report_rows(lines))
    # Then the all-digit column is the HTTP status either way, keys are decoded
    assert not isinstance(schema, str) and not isinstance(example, str)
    assert (schema.key, schema.error_code, schema.http_status) == ("a,b", "DstPutObjectNotPermitted", 403)
    assert (example.key, example.error_code, example.http_status) == ("k two", "PermanentFailure", 200)
    # And the quoted message with a comma stays one field; the documented reason inside it wins
    assert example.message == "Replication failed: DstKmsKeyNotFound, key gone"
    assert example.failure_reason == "DstKmsKeyNotFound"
    assert schema.failure_reason == "DstPutObjectNotPermitted"


def test_succeeded_rows_and_missing_versions() -> None:
    rows = list(parse_report_rows(["src,key,,succeeded,200,,Successful\n"]))
    assert len(rows) == 1 and not isinstance(rows[0], str)
    assert rows[0].succeeded and rows[0].version_id is None and rows[0].failure_reason is None


def test_a_generic_error_code_is_the_failure_reason() -> None:
    (row,) = parse_report_rows(["src,key,v1,failed,500,InternalError,We encountered an internal error\n"])
    assert not isinstance(row, str)
    assert row.failure_reason == "InternalError"


def test_unquoted_commas_in_the_message_stay_in_the_message() -> None:
    (row,) = parse_report_rows(["src,key,v1,failed,403,AccessDenied,one, two, three\n"])
    assert not isinstance(row, str)
    assert row.message == "one,two,three"


def test_unreadable_rows_are_returned_as_text_not_dropped_silently() -> None:
    rows = list(parse_report_rows(["garbage\n", "src,key,v1,weird,200,,x\n", "\n"]))
    assert len(rows) == 2 and all(isinstance(r, str) for r in rows)


def test_report_manifest_lists_result_files() -> None:
    document = json.dumps(
        {
            "Format": "Report_CSV_20180820",
            "ReportCreationDate": "2024-01-01T00:00:00.000Z",
            "Results": [
                {
                    "TaskExecutionStatus": "succeeded",
                    "Bucket": "reports",
                    "MD5Checksum": "x",
                    "Key": "p/job-1/results/a.csv",
                },
                {
                    "TaskExecutionStatus": "failed",
                    "Bucket": "reports",
                    "MD5Checksum": "y",
                    "Key": "p/job-1/results/b.csv",
                },
            ],
            "ReportSchema": "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage",
        }
    )
    files = parse_report_manifest(document)
    assert [(f.key, f.task_status) for f in files] == [
        ("p/job-1/results/a.csv", "succeeded"),
        ("p/job-1/results/b.csv", "failed"),
    ]


@pytest.mark.parametrize("document", ["not json", "[]", '{"Results": 3}'])
def test_a_broken_report_manifest_is_a_clear_error(document: str) -> None:
    with pytest.raises(MalformedEventError):
        parse_report_manifest(document)


def test_report_manifest_key() -> None:
    assert report_manifest_key("reports/src/dst", "abc") == "reports/src/dst/job-abc/manifest.json"
    assert report_manifest_key("", "abc") == "job-abc/manifest.json"
