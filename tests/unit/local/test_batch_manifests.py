"""Pure parts of the Batch Operations emulator: manifest parsing and validation, report rows, rule
filters, and the conversion of responses into the shapes botocore's parser produces."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import botocore.session
import pytest
from dateutil.tz import tzutc

from replimend_local.batch_operations import conform
from replimend_local.batch_operations.manifests import (
    ManifestEntry,
    ManifestError,
    TaskResult,
    encode_key,
    is_valid_bucket_name,
    parse_csv_manifest,
    report_row,
    validate_entries,
)
from replimend_local.s3_rules import bucket_from_arn, object_from_arn, rule_filter_matches

FIELDS = ["Bucket", "Key", "VersionId"]


def test_csv_manifest_rows_decode_url_encoded_keys() -> None:
    # Given rows whose keys are URL-encoded (space as %20 or +, comma as %2C)
    text = "src,dir/a%20b%2Cc.txt,v1\nsrc,dir/x+y.txt,v2\r\n\n"
    # When parsed
    entries = parse_csv_manifest(text, FIELDS)
    # Then keys are decoded and blank lines skipped
    assert entries == [ManifestEntry("src", "dir/a b,c.txt", "v1"), ManifestEntry("src", "dir/x y.txt", "v2")]


def test_csv_manifest_honours_ignore_columns_and_rows_without_versions() -> None:
    assert parse_csv_manifest("junk,src,k\n", ["Ignore", "Bucket", "Key"]) == [
        ManifestEntry("src", "k", None)
    ]
    assert parse_csv_manifest("src,k\n", FIELDS) == [ManifestEntry("src", "k", None)]


def test_csv_manifest_rejects_rows_with_too_many_columns_or_specs_without_key() -> None:
    with pytest.raises(ManifestError, match="row 1 has 4 columns"):
        parse_csv_manifest("src,k,v,extra\n", FIELDS)
    with pytest.raises(ManifestError):
        parse_csv_manifest("src,k\n", ["Bucket", "VersionId"])


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "lists no objects"),
        ([ManifestEntry("Bucket", "Key", "VersionId"), ManifestEntry("src", "k", "v")], "no header row"),
        ([ManifestEntry("bucket", "key", "versionid"), ManifestEntry("src", "k", "v")], "one source bucket"),
        ([ManifestEntry("src", "a", "v"), ManifestEntry("src", "b", None)], "every row has a version ID"),
    ],
)
def test_validate_entries_applies_aws_manifest_rules(entries: list[ManifestEntry], message: str) -> None:
    with pytest.raises(ManifestError, match=message) as error:
        validate_entries(entries)
    assert error.value.code == "InvalidManifest"


def test_validate_entries_accepts_a_consistent_manifest() -> None:
    entries = [ManifestEntry("src", "a", None), ManifestEntry("src", "b", None)]
    assert validate_entries(entries) == entries


def test_report_rows_put_the_http_status_before_the_error_code() -> None:
    entry = ManifestEntry("src", "dir/a b,c.txt", "v1")
    ok = report_row(TaskResult(entry, True, 200, "", "Successful"))
    failed = report_row(TaskResult(entry, False, 400, "DstBucketUnversioned", 'Replication to "dst" failed'))
    assert ok == "src,dir/a%20b%2Cc.txt,v1,succeeded,200,,Successful"
    assert (
        failed == 'src,dir/a%20b%2Cc.txt,v1,failed,400,DstBucketUnversioned,"Replication to ""dst"" failed"'
    )
    assert next(csv.reader(io.StringIO(failed)))[6] == 'Replication to "dst" failed'


def test_keys_round_trip_through_manifest_encoding() -> None:
    key = "a+b/c d,e%f.txt"
    assert parse_csv_manifest(f"src,{encode_key(key)},v\n", FIELDS)[0].key == key


def test_arn_helpers_and_bucket_names() -> None:
    assert bucket_from_arn("arn:aws:s3:::reports") == "reports"
    assert object_from_arn("arn:aws:s3:::m/dir/run.csv") == ("m", "dir/run.csv")
    for bad in ("reports", "arn:aws:s3:::", "arn:aws:s3:::b/k"):
        with pytest.raises(ValueError, match="not an S3 bucket ARN"):
            bucket_from_arn(bad)
    with pytest.raises(ValueError, match="not an S3 object ARN"):
        object_from_arn("arn:aws:s3:::bucket-only")
    assert is_valid_bucket_name("my-bucket.logs")
    assert not is_valid_bucket_name("Bucket")
    assert not is_valid_bucket_name("a..b")


def test_rule_filters_v1_prefix_tag_and_conjunction() -> None:
    def no_tags() -> dict[str, str]:
        return {}

    def tagged() -> dict[str, str]:
        return {"team": "data", "tier": "gold"}

    assert rule_filter_matches({"Prefix": "logs/"}, "logs/a", no_tags)
    assert not rule_filter_matches({"Prefix": "logs/"}, "data/a", no_tags)
    assert rule_filter_matches({"Filter": {}}, "anything", no_tags)
    assert rule_filter_matches({"Filter": {"Tag": {"Key": "team", "Value": "data"}}}, "k", tagged)
    assert not rule_filter_matches({"Filter": {"Tag": {"Key": "team", "Value": "data"}}}, "k", no_tags)
    conjunction = {"Filter": {"And": {"Prefix": "d/", "Tags": [{"Key": "tier", "Value": "gold"}]}}}
    assert rule_filter_matches(conjunction, "d/x", tagged)
    assert not rule_filter_matches(conjunction, "e/x", tagged)


def test_conform_gives_the_types_botocore_would_parse() -> None:
    # Given the DescribeJob output shape
    model = botocore.session.get_session().get_service_model("s3control")
    shape = model.operation_model("DescribeJob").output_shape
    assert shape is not None
    # When a response body is conformed to it
    body = conform(
        {
            "Job": {
                "JobId": "id-1",
                "Priority": "7",
                "CreationTime": datetime(2024, 9, 5, 21, 4, 32, tzinfo=UTC),
                "TerminationDate": "2024-09-05T21:05:00Z",
                "Description": None,
                "ProgressSummary": {"TotalNumberOfTasks": 3, "Timers": {"ElapsedTimeInActiveSeconds": 1.9}},
            }
        },
        shape,
    )
    # Then timestamps are UTC datetimes, integers ints, None members gone
    job = body["Job"]
    assert job["Priority"] == 7
    assert job["CreationTime"].tzinfo == tzutc()
    assert job["TerminationDate"] == datetime(2024, 9, 5, 21, 5, tzinfo=tzutc())
    assert "Description" not in job
    assert job["ProgressSummary"]["Timers"]["ElapsedTimeInActiveSeconds"] == 1
    # And a member the API does not have is a bug, not a silent extra
    with pytest.raises(KeyError, match="Tags"):
        conform({"Job": {"Tags": []}}, shape)
