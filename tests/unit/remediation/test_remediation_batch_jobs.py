"""The s3control adapter sends exactly the CreateJob/DescribeJob requests the service model accepts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from replimend.aws.s3control import BatchJobs
from replimend.errors import AwsCallError, NotFoundError
from replimend.ports import ReplicationJobRequest

ACCOUNT = "111122223333"


@pytest.fixture
def s3control() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("s3control", region_name="eu-west-1", endpoint_url="https://s3-control.example")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def request(**overrides: Any) -> ReplicationJobRequest:
    values: dict[str, Any] = {
        "account_id": ACCOUNT,
        "region": "eu-west-1",
        "source_bucket": "src",
        "destinations": ["dst"],
        "manifest_bucket": "manifests",
        "manifest_key": "manifests/src/dst/abc.csv",
        "manifest_etag": "60e460c9d1046e73f7dde5043ac3ae85",
        "object_count": 3,
        "report_bucket": "reports",
        "report_prefix": "reports/src/dst",
        "role_arn": f"arn:aws:iam::{ACCOUNT}:role/batch",
        "priority": 10,
        "token": "a" * 64,
        "description": "replimend: re-drive 3 objects src -> dst",
    }
    values.update(overrides)
    return ReplicationJobRequest(**values)


def test_create_job_sends_the_documented_replication_request(s3control: tuple[Any, Stubber]) -> None:
    client, stubber = s3control
    # Given the exact request S3 Batch Replication with a CSV manifest needs
    stubber.add_response(
        "create_job",
        {"JobId": "job-123"},
        expected_params={
            "AccountId": ACCOUNT,
            "ConfirmationRequired": False,
            "Operation": {"S3ReplicateObject": {}},
            "Manifest": {
                "Spec": {
                    "Format": "S3BatchOperations_CSV_20180820",
                    "Fields": ["Bucket", "Key", "VersionId"],
                },
                "Location": {
                    "ObjectArn": "arn:aws:s3:::manifests/manifests/src/dst/abc.csv",
                    "ETag": "60e460c9d1046e73f7dde5043ac3ae85",
                },
            },
            "Report": {
                "Enabled": True,
                "Bucket": "arn:aws:s3:::reports",
                "Prefix": "reports/src/dst",
                "Format": "Report_CSV_20180820",
                "ReportScope": "AllTasks",
            },
            "Priority": 10,
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/batch",
            "ClientRequestToken": "a" * 64,
            "Description": "replimend: re-drive 3 objects src -> dst",
        },
    )
    # When the adapter creates the job / Then it returns the JobId (and Stubber validated the shape)
    assert BatchJobs(lambda region: client, ACCOUNT).create_replication_job(request()) == "job-123"


def test_create_job_errors_become_aws_call_errors(s3control: tuple[Any, Stubber]) -> None:
    client, stubber = s3control
    stubber.add_client_error("create_job", "IdempotencyException", "token reused", 409)
    with pytest.raises(AwsCallError) as error:
        BatchJobs(lambda region: client, ACCOUNT).create_replication_job(request())
    assert error.value.code == "IdempotencyException"


def test_the_job_is_created_in_the_source_buckets_region() -> None:
    regions: list[str] = []
    client = boto3.client("s3control", region_name="ap-south-1", endpoint_url="https://s3-control.example")
    with Stubber(client) as stubber:
        stubber.add_response("create_job", {"JobId": "job-9"})

        def factory(region: str) -> Any:
            regions.append(region)
            return client

        BatchJobs(factory, ACCOUNT).create_replication_job(request(region="ap-south-1"))
    assert regions == ["ap-south-1"]


def test_describe_job_reads_status_progress_reasons_and_report(s3control: tuple[Any, Stubber]) -> None:
    client, stubber = s3control
    created = datetime(2024, 9, 5, 10, 0, tzinfo=UTC)
    stubber.add_response(
        "describe_job",
        {
            "Job": {
                "JobId": "job-123",
                "Status": "Complete",
                "ProgressSummary": {
                    "TotalNumberOfTasks": 3,
                    "NumberOfTasksSucceeded": 2,
                    "NumberOfTasksFailed": 1,
                },
                "FailureReasons": [{"FailureCode": "SomeCode", "FailureReason": "why"}],
                "Report": {
                    "Enabled": True,
                    "Bucket": "arn:aws:s3:::reports",
                    "Prefix": "reports/src/dst",
                    "Format": "Report_CSV_20180820",
                    "ReportScope": "AllTasks",
                },
                "CreationTime": created,
                "TerminationDate": created,
            }
        },
        expected_params={"AccountId": ACCOUNT, "JobId": "job-123"},
    )
    description = BatchJobs(lambda region: client, ACCOUNT).describe_job("job-123", "eu-west-1")
    assert description.status == "Complete"
    assert (description.total_tasks, description.tasks_succeeded, description.tasks_failed) == (3, 2, 1)
    assert description.failure_reasons == ["SomeCode: why"]
    assert (description.report_bucket, description.report_prefix) == ("reports", "reports/src/dst")
    assert description.terminated_at == created


@pytest.mark.parametrize("code", ["NotFoundException", "NoSuchJobException", "NoSuchJob"])
def test_describe_of_a_missing_job_is_not_found(s3control: tuple[Any, Stubber], code: str) -> None:
    # Given DescribeJob answers with the model's, the troubleshooting page's or the old not-found code
    client, stubber = s3control
    stubber.add_client_error("describe_job", code, "gone", 404)
    # When the adapter describes the job / Then it is NotFoundError, naming the job and the Region
    with pytest.raises(NotFoundError, match="job-x not found in eu-west-1"):
        BatchJobs(lambda region: client, ACCOUNT).describe_job("job-x", "eu-west-1")


def test_other_describe_errors_stay_aws_call_errors(s3control: tuple[Any, Stubber]) -> None:
    client, stubber = s3control
    stubber.add_client_error("describe_job", "TooManyRequestsException", "slow down", 429)
    with pytest.raises(AwsCallError) as error:
        BatchJobs(lambda region: client, ACCOUNT).describe_job("job-x", "eu-west-1")
    assert (error.value.operation, error.value.code) == ("DescribeJob", "TooManyRequestsException")


def test_the_stored_request_round_trips_unchanged() -> None:
    original = request()
    assert ReplicationJobRequest.from_json(original.to_json()) == original


def test_a_job_is_found_by_the_tag_in_its_description_across_list_jobs_pages(
    s3control: tuple[Any, Stubber],
) -> None:
    client, stubber = s3control
    page = {"AccountId": ACCOUNT, "MaxResults": 1000}
    stubber.add_response(
        "list_jobs",
        {"Jobs": [{"JobId": "other-1", "Description": "someone else"}], "NextToken": "t"},
        expected_params=page,
    )
    stubber.add_response(
        "list_jobs",
        {"Jobs": [{"JobId": "ours-1", "Description": "replimend:abc re-drive 3 versions"}]},
        expected_params={**page, "NextToken": "t"},
    )
    assert BatchJobs(lambda region: client, ACCOUNT).find_job("eu-west-1", "replimend:abc") == "ours-1"
    stubber.add_response("list_jobs", {"Jobs": []}, expected_params=page)
    assert BatchJobs(lambda region: client, ACCOUNT).find_job("eu-west-1", "replimend:abc") is None
