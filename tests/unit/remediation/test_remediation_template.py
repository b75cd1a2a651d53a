"""template.yaml's remediation resources: least privilege and the wiring the functions expect."""

from __future__ import annotations

from typing import Any

import pytest

from replimend.settings import RemediationSettings
from replimend_local.sam_template import load_template
from tests.deployed_template import deployed


def resources() -> dict[str, Any]:
    return load_template()["Resources"]


def statements(function: str, **parameters: str) -> list[dict[str, Any]]:
    properties = deployed(load_template(), **parameters)["Resources"][function]["Properties"]
    return [s for policy in properties["Policies"] for s in policy["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


@pytest.mark.parametrize("strict", ["false", "true"])
def test_pass_role_is_limited_to_the_batch_role(strict: str) -> None:
    (pass_role,) = [
        s
        for s in statements("RemediateFunction", StrictIamConditions=strict)
        if "iam:PassRole" in _actions(s)
    ]
    assert pass_role["Resource"] == {"Fn::GetAtt": ["BatchOperationsRole", "Arn"]}
    # AWS's Batch Operations examples pass the role without a condition; the hardening is opt-in
    expected = {"StringEquals": {"iam:PassedToService": "batchoperations.s3.amazonaws.com"}}
    assert pass_role.get("Condition") == (expected if strict == "true" else None)


def test_the_batch_role_is_trusted_by_batch_operations_only() -> None:
    trust = resources()["BatchOperationsRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "batchoperations.s3.amazonaws.com"}]


def test_artifact_buckets_are_sse_s3_private_and_expire() -> None:
    for name in ("ManifestBucket", "ReportBucket"):
        props = resources()[name]["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert all(props["PublicAccessBlockConfiguration"].values())
        assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"]
        policy = resources()[f"{name}Policy"]["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy
        )


def test_functions_get_every_setting_remediation_requires() -> None:
    required = {
        field.alias
        for field in RemediationSettings.model_fields.values()
        if field.is_required() and field.alias != "LEDGER_TABLE"  # LEDGER_TABLE comes from Globals
    }
    for function in ("RemediateFunction", "TrackJobsFunction"):
        variables = resources()[function]["Properties"]["Environment"]["Variables"]
        assert required <= set(variables), function


def test_track_jobs_listens_for_batch_operations_job_events() -> None:
    events = resources()["TrackJobsFunction"]["Properties"]["Events"]
    assert events["JobStatusEvents"]["Properties"]["Pattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {"eventSource": ["s3.amazonaws.com"], "eventName": ["JobCreated", "JobStatusChanged"]},
    }
    assert events["Reconciliation"]["Type"] == "ScheduleV2"


#: The IAM action of each API operation a diagnosis check reads (service authorization reference).
_IAM_ACTION = {
    "s3:GetBucketReplication": "s3:GetReplicationConfiguration",
    "s3:GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListBucketInventoryConfigurations": "s3:GetInventoryConfiguration",
}


def test_the_remediate_function_may_make_every_read_of_the_gates_checks_and_no_more() -> None:
    from replimend.diagnose import REGISTRY

    # Given the checks the gate runs (those that need no object key: the gate diagnoses pairs)
    needed = {
        _IAM_ACTION.get(read, read)
        for check in REGISTRY.values()
        if not check.needs_key
        for read in check.reads
    }
    needed.discard("s3:ListBucket")  # HeadBucket is only the fallback for another account's bucket
    granted = {
        action
        for statement in statements("RemediateFunction")
        if str(statement.get("Sid", "")).startswith("Diagnose")
        or statement.get("Sid") == "SourceBucketRegion"
        for action in _actions(statement)
    }
    # Then each is granted, and the Diagnose statements grant only reads
    assert needed <= granted, needed - granted
    assert all(a.split(":")[1].startswith(("Get", "Describe", "Simulate")) for a in granted)
    alerts = [s for s in statements("RemediateFunction") if s.get("Sid") == "PublishIncidentAlerts"]
    assert (
        alerts and _actions(alerts[0]) == ["sns:Publish"] and alerts[0]["Resource"] == {"Ref": "AlertTopic"}
    )
