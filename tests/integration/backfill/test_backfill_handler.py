"""functions/backfill/app.py: settings from the environment, moto's DynamoDB and S3, the real
s3control adapter (Stubber: moto has no Batch Operations) and the gate over a fake reader (moto has
no IAM policy simulation)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from replimend.aws.s3control import ACTIVE_JOB_STATUSES, BatchJobs
from replimend.remediate.gate import DiagnosisGate
from tests.fakes import FakeConfigReader
from tests.integration.backfill.conftest import ACCOUNT, DEST, MANIFESTS, REPORTS, SOURCE, World
from tests.integration.remediation.test_remediation_handlers import Context, load_app


@pytest.fixture
def app(world: World, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "LEDGER_TABLE": world.settings.ledger_table,
        "LEDGER_INDEX_SHARDS": "4",
        "ACCOUNT_ID": ACCOUNT,
        "MANIFEST_BUCKET": MANIFESTS,
        "REPORT_BUCKET": REPORTS,
        "BATCH_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/replimend-batch",
        "SOURCE_BUCKET_ARNS": f"arn:aws:s3:::{SOURCE}",
        "BACKFILL_STATUSES": "FAILED,NONE",
    }.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_replication(
        Bucket=SOURCE,
        ReplicationConfiguration={
            "Role": f"arn:aws:iam::{ACCOUNT}:role/replication",
            "Rules": [
                {
                    "ID": "all",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{DEST}"},
                }
            ],
        },
    )
    module = load_app("backfill")
    module.backfill.ledger = world.ledger
    module.backfill.gate = DiagnosisGate(world.ledger, FakeConfigReader(SOURCE, DEST))
    return module


def test_the_scheduled_run_starts_one_job_per_enrolled_source_from_the_environment(app: Any) -> None:
    s3control = boto3.client("s3control", region_name="us-east-1", endpoint_url="https://s3-control.test")
    app.backfill.jobs = BatchJobs(lambda region: s3control, ACCOUNT)
    with Stubber(s3control) as stubber:
        # ListJobs pages are followed (no paginator in botocore)
        stubber.add_response(
            "list_jobs",
            {"Jobs": [], "NextToken": "page-2"},
            {"AccountId": ACCOUNT, "MaxResults": 1000, "JobStatuses": ACTIVE_JOB_STATUSES},
        )
        stubber.add_response(
            "list_jobs",
            {"Jobs": [{"JobId": "other-job", "Description": "not ours", "Status": "Active"}]},
            {
                "AccountId": ACCOUNT,
                "MaxResults": 1000,
                "JobStatuses": ACTIVE_JOB_STATUSES,
                "NextToken": "page-2",
            },
        )
        stubber.add_response("list_jobs", {"Jobs": []}, None)  # find_job: no job of this token ended
        stubber.add_response(
            "create_job",
            {"JobId": "bf-job"},
            {
                "AccountId": ACCOUNT,
                "ConfirmationRequired": False,
                "Operation": {"S3ReplicateObject": {}},
                "ManifestGenerator": {
                    "S3JobManifestGenerator": {
                        "ExpectedBucketOwner": ACCOUNT,
                        "SourceBucket": f"arn:aws:s3:::{SOURCE}",
                        "EnableManifestOutput": True,
                        "ManifestOutputLocation": {
                            "ExpectedManifestBucketOwner": ACCOUNT,
                            "Bucket": f"arn:aws:s3:::{MANIFESTS}",
                            "ManifestPrefix": f"generated/{SOURCE}",
                            "ManifestFormat": "S3InventoryReport_CSV_20211130",
                        },
                        "Filter": {
                            "EligibleForReplication": True,
                            "ObjectReplicationStatuses": ["FAILED", "NONE"],
                        },
                    }
                },
                "Report": {
                    "Enabled": True,
                    "Bucket": f"arn:aws:s3:::{REPORTS}",
                    "Prefix": f"backfill-reports/{SOURCE}",
                    "Format": "Report_CSV_20180820",
                    "ReportScope": "AllTasks",
                },
                "Priority": 10,
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/replimend-batch",
                "ClientRequestToken": ANY,
                "Description": ANY,
            },
        )
        result = app.lambda_handler({"source": "schedule"}, Context(function_name="backfill"))
        stubber.assert_no_pending_responses()
    assert result["jobs"] == ["bf-job"]
    [source] = result["sources"]
    assert source["outcome"] == "started" and source["destinations"] == [DEST]
    assert source["pending"]["note"] == "no inventory configuration"
    [job] = app.backfill.ledger.active_jobs(SOURCE)
    assert job.kind == "backfill"


def test_an_on_demand_dry_run_starts_nothing(app: Any) -> None:
    s3control = boto3.client("s3control", region_name="us-east-1", endpoint_url="https://s3-control.test")
    app.backfill.jobs = BatchJobs(lambda region: s3control, ACCOUNT)
    with Stubber(s3control) as stubber:
        stubber.add_response("list_jobs", {"Jobs": []}, None)
        result = app.lambda_handler(
            {"bucket": SOURCE, "statuses": "NONE", "prefix": "old/", "dry_run": True},
            Context(function_name="backfill"),
        )
    [source] = result["sources"]
    assert result["dry_run"] and source["outcome"] == "dry_run" and result["jobs"] == []
    assert source["filter"]["KeyNameConstraint"] == {"MatchAnyPrefix": ["old/"]}
    assert source["cost"]["estimated_objects"] is None  # no inventory: not known cheaply


def test_a_bad_request_fails_the_invocation_with_the_reason(app: Any) -> None:
    with pytest.raises(ValueError, match="unknown replication status"):
        app.lambda_handler({"statuses": "PENDING"}, Context(function_name="backfill"))
