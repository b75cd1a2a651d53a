"""The emulated operations over HTTP (wire.py): a client without the emulators' hooks, as in another
process, gets what botocore parses from AWS for IAM SimulatePrincipalPolicy and the s3control jobs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from replimend_local import hooks
from replimend_local.embedded import EmbeddedAws

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws() as embedded:
        yield embedded


def over_the_wire(aws: EmbeddedAws, service: str) -> Any:
    """A client of a session carrying none of the emulators' hooks: every call goes over HTTP."""
    session = hooks.plain_session("us-east-1")
    # s3control's host prefix ({AccountId}.127.0.0.1) resolves nowhere: the server is the proxy
    config = Config(proxies={"http": aws.endpoint_url}) if service == "s3control" else None
    return session.client(service, endpoint_url=aws.endpoint_url, config=config)  # type: ignore[call-overload]


def test_simulate_principal_policy_answers_from_the_account_s_policies(aws: EmbeddedAws) -> None:
    # Given a role allowed to read one bucket's objects
    iam = over_the_wire(aws, "iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    role_arn = iam.create_role(RoleName="wire-reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::wire-bucket/*"}]}  # fmt: skip
    iam.put_role_policy(RoleName="wire-reader", PolicyName="read", PolicyDocument=json.dumps(policy))
    # When its permissions are simulated over HTTP
    results = iam.simulate_principal_policy(
        PolicySourceArn=role_arn,
        ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::wire-bucket/k"],
    )["EvaluationResults"]
    # Then IAM's decision per action comes back, with the statement that allowed it
    decisions = {result["EvalActionName"]: result["EvalDecision"] for result in results}
    assert decisions == {"s3:GetObject": "allowed", "s3:PutObject": "implicitDeny"}
    (allowed,) = [result for result in results if result["EvalDecision"] == "allowed"]
    assert allowed["MatchedStatements"][0]["SourcePolicyId"] == "read"


def test_s3control_jobs_are_created_listed_and_described_over_http(aws: EmbeddedAws) -> None:
    # Given a manifest in a bucket
    s3 = over_the_wire(aws, "s3")
    s3.create_bucket(Bucket="wire-manifests")
    etag = s3.put_object(Bucket="wire-manifests", Key="m.csv", Body=b"wire-src,k,v1\n")["ETag"].strip('"')
    s3control = over_the_wire(aws, "s3control")
    request = {
        "AccountId": ACCOUNT,
        "ConfirmationRequired": False,
        "Operation": {"S3ReplicateObject": {}},
        "Report": {"Enabled": False},
        "ClientRequestToken": "wire-token-1",
        "Manifest": {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key", "VersionId"]},
            "Location": {"ObjectArn": "arn:aws:s3:::wire-manifests/m.csv", "ETag": etag},
        },
        "Priority": 10,
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/wire-batch",
    }
    # When a job is created, listed and described over HTTP
    job_id = s3control.create_job(**request)["JobId"]
    listed = s3control.list_jobs(AccountId=ACCOUNT)["Jobs"]
    job = s3control.describe_job(AccountId=ACCOUNT, JobId=job_id)["Job"]
    # Then the emulator's job comes back in the model's shapes (nested structures, timestamps)
    assert [entry["JobId"] for entry in listed] == [job_id]
    assert job["Operation"] == {"S3ReplicateObject": {}} and job["Priority"] == 10
    assert job["Manifest"]["Location"] == {"ObjectArn": "arn:aws:s3:::wire-manifests/m.csv", "ETag": etag}
    assert job["CreationTime"].tzinfo is not None
    # And the same token with the same parameters is the same job
    assert s3control.create_job(**request)["JobId"] == job_id


def test_s3control_errors_come_back_as_the_modelled_exceptions(aws: EmbeddedAws) -> None:
    s3control = over_the_wire(aws, "s3control")
    with pytest.raises(s3control.exceptions.NotFoundException):
        s3control.describe_job(AccountId=ACCOUNT, JobId="00000000-0000-0000-0000-000000000000")
    with pytest.raises(ClientError) as error:
        s3control.update_job_priority(
            AccountId=ACCOUNT, JobId="00000000-0000-0000-0000-000000000000", Priority=1
        )
    assert error.value.response["Error"]["Code"] == "NotFoundException"
