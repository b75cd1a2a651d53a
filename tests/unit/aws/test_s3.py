"""aws/s3.py: what HeadObject's answers mean for a failed source version, and storage errors."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from replimend.aws.s3 import S3Objects, S3Storage
from replimend.errors import AwsCallError, NotFoundError
from replimend.manifest_csv import ManifestRow, parse_manifest
from replimend.ports import SourceVersionStatus
from replimend.track.reports import TaskResult, parse_report_rows

HEAD = {"Bucket": "src", "Key": "k", "VersionId": "v1"}


@pytest.fixture
def s3() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("replication_status", "expected"),
    [
        ("COMPLETED", SourceVersionStatus.REPLICATED),
        ("COMPLETE", SourceVersionStatus.REPLICATED),
        ("PENDING", SourceVersionStatus.NEEDS_REPLICATION),
        ("FAILED", SourceVersionStatus.NEEDS_REPLICATION),
        (None, SourceVersionStatus.NEEDS_REPLICATION),
    ],
)
def test_a_present_version_is_replicated_only_when_the_source_says_completed(
    s3: tuple[Any, Stubber], replication_status: str | None, expected: SourceVersionStatus
) -> None:
    client, stubber = s3
    response = {"ReplicationStatus": replication_status} if replication_status else {}
    stubber.add_response("head_object", response, expected_params=HEAD)
    assert S3Objects(client).source_version_status("src", "k", "v1") is expected


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("404", 404, SourceVersionStatus.GONE),  # HEAD has no body: the status is the code
        ("NoSuchKey", 404, SourceVersionStatus.GONE),
        ("NoSuchVersion", 404, SourceVersionStatus.GONE),
        ("405", 405, SourceVersionStatus.NEEDS_REPLICATION),  # a delete marker: Batch Replication can
        ("403", 403, SourceVersionStatus.UNVERIFIED),  # 403 for a missing key without s3:ListBucket
        ("500", 500, SourceVersionStatus.UNVERIFIED),
    ],
)
def test_head_errors_never_raise_and_mean(
    s3: tuple[Any, Stubber], code: str, status: int, expected: SourceVersionStatus
) -> None:
    client, stubber = s3
    stubber.add_client_error("head_object", code, "", status, expected_params=HEAD)
    assert S3Objects(client).source_version_status("src", "k", "v1") is expected


def test_the_null_version_is_asked_for_as_null(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    stubber.add_response("head_object", {}, expected_params={**HEAD, "VersionId": "null"})
    S3Objects(client).source_version_status("src", "k", None)


def test_a_missing_object_to_read_is_not_found_and_a_denied_one_an_aws_call_error(
    s3: tuple[Any, Stubber],
) -> None:
    client, stubber = s3
    stubber.add_client_error("get_object", "NoSuchKey", "gone", 404)
    stubber.add_client_error("get_object", "AccessDenied", "denied", 403)
    storage = S3Storage(client)
    with pytest.raises(NotFoundError):
        storage.get_bytes("reports", "r/job-1/manifest.json")
    with pytest.raises(AwsCallError) as error:
        storage.get_bytes("reports", "r/job-1/manifest.json")
    assert (error.value.operation, error.value.code) == ("GetObject", "AccessDenied")


def _object(data: bytes) -> dict[str, Any]:
    return {"Body": StreamingBody(io.BytesIO(data), len(data))}


def test_a_line_that_is_not_utf8_is_one_unreadable_row_and_the_next_rows_still_read(
    s3: tuple[Any, Stubber],
) -> None:
    # Given a completion report and a manifest whose first row holds a byte that is not UTF-8
    # (atheris found that decoding such a line raised UnicodeDecodeError out of the tracker)
    client, stubber = s3
    stubber.add_response(
        "get_object", _object(b"src,k\xa6,v1,failed,403,AccessDenied,x\nsrc,k,v2,succeeded,200,,ok\n")
    )
    stubber.add_response("get_object", _object(b"src,k\xff\xfe,v1\r\nsrc,k2,v2\n"))
    storage = S3Storage(client)

    # When the tracker's readers go through them
    report = list(parse_report_rows(storage.iter_lines("reports", "p/job-1/results/a.csv")))
    manifest = list(parse_manifest(storage.iter_lines("manifests", "job.csv")))

    # Then the bad row is reported as text (its bytes escaped) and the next row is a task, not lost
    assert isinstance(report[0], str) and "not UTF-8" in report[0] and "\\udca6" in report[0]
    report[0].encode("utf-8")
    assert isinstance(report[1], TaskResult) and (report[1].key, report[1].version_id) == ("k", "v2")
    # And the manifest's unreadable row is skipped, the next one read
    assert manifest == [ManifestRow("src", "k2", "v2")]
