"""The backfill planner: generator filters as botocore's s3control model defines them, request
identity, and which jobs overlap a source (pure, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

import botocore.session
import pytest
from botocore.validate import ParamValidator

from replimend.aws.s3control import backfill_job_kwargs
from replimend.backfill.planner import (
    FILTER_STATUSES,
    CostEstimate,
    FilterError,
    GeneratorFilter,
    job_description,
    job_tag,
    names_source,
    overlap,
    parse_statuses,
    request_token,
    window_of,
)
from replimend.models import JobRecord
from replimend.ports import BackfillJobRequest, ListedJob

MODEL = botocore.session.get_session().get_service_model("s3control")


def test_the_filter_statuses_are_exactly_the_models_enum() -> None:
    assert set(FILTER_STATUSES) == set(MODEL.shape_for("ReplicationStatus").enum)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FAILED", ("FAILED",)),
        ("failed, none", ("FAILED", "NONE")),
        ("NONE,NONE,REPLICA", ("NONE", "REPLICA")),
    ],
)
def test_statuses_are_parsed_case_insensitively_once_each(text: str, expected: tuple[str, ...]) -> None:
    assert parse_statuses(text) == expected


@pytest.mark.parametrize("text", ["", " , ", "FAILD", "COMPLETE"])
def test_unknown_or_missing_statuses_are_refused(text: str) -> None:
    with pytest.raises(FilterError):
        parse_statuses(text)


def test_pending_is_refused_with_the_reason() -> None:
    with pytest.raises(FilterError, match="resumes PENDING"):
        parse_statuses("FAILED,PENDING")


def request_for(job_filter: GeneratorFilter) -> BackfillJobRequest:
    return BackfillJobRequest(
        account_id="111122223333",
        region="us-east-1",
        source_bucket="src",
        destinations=["dst"],
        manifest_bucket="manifests",
        manifest_prefix="generated/src",
        report_bucket="reports",
        report_prefix="backfill-reports/src",
        role_arn="arn:aws:iam::111122223333:role/batch",
        priority=10,
        token="bf-" + "a" * 61,
        description=job_description("bf-" + "a" * 61, "src", job_filter),
        filter=job_filter.to_api(),
    )


def test_a_full_filter_is_a_valid_create_job_request_with_the_generator() -> None:
    # Given every member a backfill sets
    job_filter = GeneratorFilter(
        statuses=("FAILED", "NONE"), created_after=datetime(2026, 11, 1, tzinfo=UTC), prefixes=("data/",)
    )
    # When the adapter builds CreateJob's parameters
    kwargs = backfill_job_kwargs(request_for(job_filter))
    # Then botocore's model accepts them
    report = ParamValidator().validate(kwargs, MODEL.operation_model("CreateJob").input_shape)
    assert not report.has_errors(), report.generate_report()
    generator = kwargs["ManifestGenerator"]["S3JobManifestGenerator"]
    assert "Manifest" not in kwargs and kwargs["Operation"] == {"S3ReplicateObject": {}}
    assert (
        generator["SourceBucket"] == "arn:aws:s3:::src" and generator["ExpectedBucketOwner"] == "111122223333"
    )
    assert generator["EnableManifestOutput"] is True
    assert generator["ManifestOutputLocation"] == {
        "ExpectedManifestBucketOwner": "111122223333",
        "Bucket": "arn:aws:s3:::manifests",
        "ManifestPrefix": "generated/src",
        "ManifestFormat": "S3InventoryReport_CSV_20211130",
    }
    assert generator["Filter"] == {
        "EligibleForReplication": True,
        "ObjectReplicationStatuses": ["FAILED", "NONE"],
        "CreatedAfter": datetime(2026, 11, 1, tzinfo=UTC),
        "KeyNameConstraint": {"MatchAnyPrefix": ["data/"]},
    }
    assert (
        kwargs["Report"]["Bucket"] == "arn:aws:s3:::reports" and kwargs["Report"]["ReportScope"] == "AllTasks"
    )


def test_the_default_filter_is_failed_eligible_objects_only() -> None:
    assert GeneratorFilter().to_api() == {
        "EligibleForReplication": True,
        "ObjectReplicationStatuses": ["FAILED"],
    }


def test_an_empty_prefix_or_a_naive_time_is_handled() -> None:
    with pytest.raises(FilterError):
        GeneratorFilter(prefixes=("",))
    assert GeneratorFilter(created_after=datetime(2026, 1, 1)).created_after == datetime(
        2026, 1, 1, tzinfo=UTC
    )


def test_the_token_is_one_per_source_filter_and_hour() -> None:
    at = datetime(2026, 11, 29, 10, 5, tzinfo=UTC)
    same_hour = datetime(2026, 11, 29, 10, 55, tzinfo=UTC)
    failed, none = GeneratorFilter(), GeneratorFilter(statuses=("NONE",))
    token = request_token("src", failed, window_of(at))
    assert token == request_token("src", failed, window_of(same_hour))
    assert token != request_token("src", failed, window_of(datetime(2026, 11, 29, 11, 0, tzinfo=UTC)))
    assert token != request_token("src", none, window_of(at))
    assert token != request_token("src2", failed, window_of(at))
    assert 1 <= len(token) <= 64  # ClientRequestToken


def test_the_description_fits_and_carries_the_tag() -> None:
    token = request_token("b" * 63, GeneratorFilter(statuses=FILTER_STATUSES), "2026-11-29T10")
    description = job_description(token, "b" * 63, GeneratorFilter(statuses=FILTER_STATUSES))
    assert len(description) <= 256 and job_tag(token) in description


@pytest.mark.parametrize(
    ("description", "names"),
    [
        ("replimend:abc re-drive 3 versions of logs to 1 destination(s)", True),
        ("replimend-backfill:abc backfill logs FAILED", True),
        ("replimend-backfill:abc backfill logs-eu FAILED", False),
        ("replimend:abc re-drive 3 versions of my.logs to 1 destination(s)", False),
        ("someone else's job over logs", False),
    ],
)
def test_a_description_names_a_source_as_a_whole_bucket_name(description: str, names: bool) -> None:
    assert names_source(description, "logs") is names


def test_overlap_counts_the_ledgers_and_listed_jobs_of_the_source_only() -> None:
    mine = JobRecord("j1", "logs", None, "Active", "t", 0)
    other = JobRecord("j2", "other", None, "Active", "t", 0)
    listed = [ListedJob("j3", "Active", "replimend:x re-drive 1 versions of logs to 1 destination(s)")]
    result = overlap("logs", [mine, other], listed)
    assert result.blocked and result.ledger_jobs == ("j1",) and result.listed_jobs == ("j3",)
    assert not overlap("logs", [other], []).blocked


def test_the_cost_estimate_is_the_job_fee_plus_the_per_object_fee() -> None:
    assert CostEstimate(2_000_000).to_dict()["estimated_total_usd"] == 2.25
    assert CostEstimate(None).to_dict()["estimated_total_usd"] is None
