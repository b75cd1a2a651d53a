"""The diagnosis reads (aws/config.py) against botocore's Stubber: the requests are the models' shapes,
"not configured" error codes are values, a missing thing is NotFoundError, other errors AwsCallError."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from replimend.aws.config import AwsConfigReader
from replimend.errors import AwsCallError, NotFoundError
from replimend.ports import SimulationRequest

ROLE = "arn:aws:iam::111122223333:role/replication"


@pytest.fixture
def stubbed() -> Iterator[tuple[AwsConfigReader, dict[str, Stubber]]]:
    clients = {name: boto3.client(name, region_name="us-east-1") for name in ("s3", "iam", "kms")}
    stubbers = {name: Stubber(client) for name, client in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    yield AwsConfigReader(lambda service, _region: clients[service]), stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def test_not_configured_answers_are_values(stubbed: tuple[AwsConfigReader, dict[str, Stubber]]) -> None:
    reader, stubs = stubbed
    s3 = stubs["s3"]
    for operation, code in (
        ("get_bucket_replication", "ReplicationConfigurationNotFoundError"),
        ("get_object_lock_configuration", "ObjectLockConfigurationNotFoundError"),
        ("get_bucket_ownership_controls", "OwnershipControlsNotFoundError"),
        ("get_bucket_policy", "NoSuchBucketPolicy"),
    ):
        s3.add_client_error(
            operation, service_error_code=code, http_status_code=404, expected_params={"Bucket": "b"}
        )
    assert reader.replication_configuration("b") is None
    assert reader.object_lock_enabled("b") is False
    assert reader.object_ownership("b") is None
    assert reader.bucket_policy("b") is None


def test_a_missing_bucket_is_not_found_and_access_denied_is_an_aws_error(
    stubbed: tuple[AwsConfigReader, dict[str, Stubber]],
) -> None:
    reader, stubs = stubbed
    stubs["s3"].add_client_error(
        "get_bucket_versioning", service_error_code="NoSuchBucket", http_status_code=404
    )
    stubs["s3"].add_client_error("get_bucket_policy", service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(NotFoundError):
        reader.bucket_versioning("gone")
    with pytest.raises(AwsCallError, match="AccessDenied"):
        reader.bucket_policy("theirs")


def test_another_accounts_bucket_region_comes_from_head_bucket(
    stubbed: tuple[AwsConfigReader, dict[str, Stubber]],
) -> None:
    reader, stubs = stubbed
    stubs["s3"].add_client_error(
        "get_bucket_location", service_error_code="AccessDenied", http_status_code=403
    )
    stubs["s3"].add_response("head_bucket", {"BucketRegion": "eu-west-1"}, {"Bucket": "theirs"})
    assert reader.bucket_region("theirs") == "eu-west-1"


def test_simulation_with_a_resource_policy_names_the_role_as_caller_and_pages(
    stubbed: tuple[AwsConfigReader, dict[str, Stubber]],
) -> None:
    reader, stubs = stubbed
    base: dict[str, Any] = {
        "PolicySourceArn": ROLE,
        "ActionNames": ["s3:ReplicateObject", "s3:ReplicateDelete"],
        "ResourceArns": ["arn:aws:s3:::dst/*"],
        "ResourcePolicy": '{"Statement":[]}',
        "CallerArn": ROLE,
        "ResourceOwner": "arn:aws:iam::444455556666:root",
    }
    first = {"EvalActionName": "s3:ReplicateObject", "EvalDecision": "allowed", "EvalResourceName": "arn:aws:s3:::dst/*",
             "MatchedStatements": [{"SourcePolicyId": "ResourcePolicy", "SourcePolicyType": "resource"}]}  # fmt: skip
    second = {"EvalActionName": "s3:ReplicateDelete", "EvalDecision": "implicitDeny"}
    stubs["iam"].add_response(
        "simulate_principal_policy", {"EvaluationResults": [first], "IsTruncated": True, "Marker": "m"}, base
    )
    stubs["iam"].add_response(
        "simulate_principal_policy",
        {"EvaluationResults": [second], "IsTruncated": False},
        {**base, "Marker": "m"},
    )
    results = reader.simulate(
        SimulationRequest(
            ROLE,
            ("s3:ReplicateObject", "s3:ReplicateDelete"),
            ("arn:aws:s3:::dst/*",),
            resource_policy='{"Statement":[]}',
            resource_owner="444455556666",
        )
    )
    assert [(r.action, r.allowed, r.matched_resource_policy) for r in results] == [
        ("s3:ReplicateObject", True, True),
        ("s3:ReplicateDelete", False, False),
    ]


def test_keys_are_described_in_their_own_region(stubbed: tuple[AwsConfigReader, dict[str, Stubber]]) -> None:
    reader, stubs = stubbed
    arn = "arn:aws:kms:us-west-2:111122223333:key/k1"
    stubs["kms"].add_response(
        "describe_key", {"KeyMetadata": {"KeyId": "k1", "Arn": arn, "KeyState": "Disabled"}}, {"KeyId": arn}
    )
    stubs["kms"].add_client_error(
        "describe_key", service_error_code="NotFoundException", http_status_code=400
    )
    key = reader.describe_key(arn, "us-east-1")
    assert (key.state, key.region) == ("Disabled", "us-west-2")
    with pytest.raises(NotFoundError):
        reader.describe_key("alias/nope", "us-east-1")


def test_role_trust_policy_is_decoded(stubbed: tuple[AwsConfigReader, dict[str, Stubber]]) -> None:
    reader, stubs = stubbed
    role = {"RoleName": "replication", "Arn": ROLE, "Path": "/", "RoleId": "AROAEXAMPLEEXAMPLE1",
            "CreateDate": "2024-01-01T00:00:00Z",
            "AssumeRolePolicyDocument": "%7B%22Statement%22%3A%5B%5D%7D"}  # fmt: skip
    stubs["iam"].add_response("get_role", {"Role": role}, {"RoleName": "replication"})
    stubs["iam"].add_client_error("get_role", service_error_code="NoSuchEntity", http_status_code=404)
    assert reader.role(ROLE).trust_policy == {"Statement": []}
    with pytest.raises(NotFoundError):
        reader.role("arn:aws:iam::111122223333:role/gone")
