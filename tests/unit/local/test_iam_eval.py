"""The embedded IAM evaluator: policy logic, roles read from the (moto) account, and
iam.simulate_principal_policy answered through botocore's hooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from replimend_local import hooks
from replimend_local.iam import (
    IamEvaluator,
    Principal,
    SourcedPolicy,
    action_matches,
    evaluate,
    resource_matches,
    role_name_from_arn,
    simulation_hooks,
)

ACCOUNT = "123456789012"
S3_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def policy(*statements: dict[str, Any], policy_id: str = "p", policy_type: str = "role") -> SourcedPolicy:
    return SourcedPolicy(policy_id, policy_type, {"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


# --- pure policy logic ---------------------------------------------------------------------------


def test_allow_statement_allows_matching_action_and_resource() -> None:
    # Given a policy allowing ReplicateObject on the destination's objects
    policies = [policy(allow("s3:ReplicateObject", "arn:aws:s3:::dst/*"))]
    # When / Then
    assert evaluate(policies, "s3:ReplicateObject", "arn:aws:s3:::dst/k").decision == "allowed"
    assert evaluate(policies, "s3:ReplicateObject", "arn:aws:s3:::other/k").decision == "implicitDeny"
    assert evaluate(policies, "s3:ReplicateDelete", "arn:aws:s3:::dst/k").decision == "implicitDeny"


def test_explicit_deny_wins_over_allow_in_another_policy() -> None:
    # Given an allow-all policy and a second policy denying one action
    policies = [
        policy(allow("s3:*"), policy_id="allow-all"),
        policy(deny("s3:ReplicateObject", "arn:aws:s3:::dst/*"), policy_id="guard"),
    ]
    # When
    result = evaluate(policies, "s3:ReplicateObject", "arn:aws:s3:::dst/a/b")
    # Then the deny decides and is the matched statement
    assert result.decision == "explicitDeny"
    assert [m.policy_id for m in result.matched_statements] == ["guard"]
    assert evaluate(policies, "s3:GetObject", "arn:aws:s3:::dst/a").decision == "allowed"


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("s3:*", "s3:GetObjectVersionForReplication", True),
        ("s3:Get*", "s3:GetObjectVersionAcl", True),
        ("s3:get*", "s3:GetObject", True),  # actions are case-insensitive
        ("s3:GetObject?ersion", "s3:GetObjectVersion", True),
        ("s3:Get*", "s3:PutObject", False),
        ("*", "kms:Decrypt", True),
        ("kms:*", "s3:GetObject", False),
    ],
)
def test_action_wildcards(pattern: str, action: str, expected: bool) -> None:
    assert action_matches(pattern, action) is expected


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("arn:aws:s3:::src/*", "arn:aws:s3:::src/dir/key.txt", True),
        ("arn:aws:s3:::src/*", "arn:aws:s3:::src", False),
        ("arn:aws:s3:::SRC/*", "arn:aws:s3:::src/key", False),  # resources are case-sensitive
        ("arn:aws:s3:::src-?/*", "arn:aws:s3:::src-1/k", True),
        ("arn:aws:s3:::src.b/*", "arn:aws:s3:::srcXb/k", False),  # '.' is literal
        ("*", "arn:aws:kms:us-east-1:123456789012:key/abc", True),
    ],
)
def test_resource_wildcards(pattern: str, resource: str, expected: bool) -> None:
    assert resource_matches(pattern, resource) is expected


def test_not_action_and_not_resource() -> None:
    # Given a deny of everything except reads, and an allow outside one bucket
    policies = [
        policy(
            {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"},
            {"Effect": "Deny", "NotAction": ["s3:Get*", "s3:List*"], "Resource": "arn:aws:s3:::ro/*"},
        )
    ]
    # Then
    assert evaluate(policies, "s3:GetObject", "arn:aws:s3:::secret/k").decision == "implicitDeny"
    assert evaluate(policies, "s3:GetObject", "arn:aws:s3:::open/k").decision == "allowed"
    assert evaluate(policies, "s3:PutObject", "arn:aws:s3:::ro/k").decision == "explicitDeny"
    assert evaluate(policies, "s3:GetObject", "arn:aws:s3:::ro/k").decision == "allowed"


def test_deny_with_not_resource_does_not_turn_into_allow() -> None:
    # Given only a Deny with NotResource (moto's evaluator would call this PERMITTED)
    policies = [policy({"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::ok/*"})]
    # Then it denies elsewhere and is neutral on the excepted resource
    assert evaluate(policies, "s3:PutObject", "arn:aws:s3:::other/k").decision == "explicitDeny"
    assert evaluate(policies, "s3:PutObject", "arn:aws:s3:::ok/k").decision == "implicitDeny"


def test_conditions_with_context_and_missing_keys() -> None:
    # Given an allow conditioned on the source account, and a deny conditioned on TLS
    policies = [
        policy(
            allow("s3:ReplicateObject", Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
            deny("s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}}),
        )
    ]
    # When the context satisfies the allow and not the deny
    ok = evaluate(
        policies,
        "s3:ReplicateObject",
        "arn:aws:s3:::d/k",
        context={"aws:SourceAccount": [ACCOUNT], "aws:SecureTransport": ["true"]},
    )
    # Then allowed; with another account implicitly denied; without keys they are reported missing
    assert ok.decision == "allowed"
    other = evaluate(
        policies, "s3:ReplicateObject", "arn:aws:s3:::d/k", context={"aws:SourceAccount": ["999"]}
    )
    assert other.decision == "implicitDeny"
    blind = evaluate(policies, "s3:ReplicateObject", "arn:aws:s3:::d/k")
    assert blind.decision == "implicitDeny"
    assert set(blind.missing_context_values) == {"aws:SourceAccount", "aws:SecureTransport"}
    insecure = evaluate(
        policies, "s3:GetObject", "arn:aws:s3:::d/k", context={"aws:SecureTransport": ["false"]}
    )
    assert insecure.decision == "explicitDeny"


def test_condition_operators_negation_if_exists_and_null() -> None:
    statement = allow(
        "kms:Decrypt",
        Condition={
            "StringNotEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"},
            "StringLikeIfExists": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::src/*"},
            "Null": {"aws:SourceArn": "false"},
        },
    )
    policies = [policy(statement)]
    assert evaluate(policies, "kms:Decrypt", context={"aws:SourceArn": ["arn:aws:s3:::src"]}).allowed
    assert not evaluate(policies, "kms:Decrypt").allowed  # Null false requires the key
    assert not evaluate(
        policies,
        "kms:Decrypt",
        context={"aws:SourceArn": ["x"], "kms:EncryptionContext:aws:s3:arn": ["arn:aws:s3:::other/k"]},
    ).allowed
    assert not evaluate(
        policies,
        "kms:Decrypt",
        context={"aws:SourceArn": ["x"], "kms:ViaService": ["ec2.us-east-1.amazonaws.com"]},
    ).allowed


def test_unsupported_condition_operator_is_not_evaluated() -> None:
    policies = [policy(allow("s3:*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))]
    result = evaluate(policies, "s3:GetObject", context={"aws:SourceIp": ["10.1.2.3"]})
    assert result.decision == "implicitDeny"


def test_trust_policy_principal_matching() -> None:
    trust = SourcedPolicy("trust", "role", S3_TRUST)
    assert evaluate([trust], "sts:AssumeRole", principal=Principal.service("s3.amazonaws.com")).allowed
    assert not evaluate([trust], "sts:AssumeRole", principal=Principal.service("ec2.amazonaws.com")).allowed
    account_trust = policy(
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}, policy_id="t"
    )
    role_principal = Principal.aws(f"arn:aws:iam::{ACCOUNT}:role/ops")
    assert evaluate([account_trust], "sts:AssumeRole", principal=role_principal).allowed
    assert not evaluate(
        [account_trust], "sts:AssumeRole", principal=Principal.aws("arn:aws:iam::999999999999:role/x")
    ).allowed


def test_role_name_from_arn_with_path() -> None:
    assert role_name_from_arn("arn:aws:iam::123456789012:role/service-role/replication") == "replication"
    assert role_name_from_arn("replication") == "replication"
    with pytest.raises(ValueError, match="not an IAM role"):
        role_name_from_arn("arn:aws:iam::123456789012:user/alice")


# --- the emulated account -------------------------------------------------------------------------


@pytest.fixture
def iam() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


def make_role(iam: Any, name: str, trust: dict[str, Any] = S3_TRUST, path: str = "/") -> str:
    return str(
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )


def put_inline(iam: Any, role: str, name: str, *statements: dict[str, Any]) -> None:
    iam.put_role_policy(
        RoleName=role,
        PolicyName=name,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
    )


def attach_managed(iam: Any, role: str, name: str, *statements: dict[str, Any]) -> str:
    arn = iam.create_policy(
        PolicyName=name, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    return str(arn)


def test_role_policies_combine_inline_and_managed(iam: Any) -> None:
    # Given a role allowed reads inline and writes by a managed policy, with a managed deny
    make_role(iam, "replication", path="/service-role/")
    put_inline(iam, "replication", "read-source", allow("s3:GetObjectVersion*", "arn:aws:s3:::src/*"))
    attach_managed(iam, "replication", "write-dest", allow("s3:Replicate*", "arn:aws:s3:::dst/*"))
    attach_managed(iam, "replication", "no-deletes", deny("s3:ReplicateDelete"))
    evaluator = IamEvaluator(iam)
    arn = f"arn:aws:iam::{ACCOUNT}:role/service-role/replication"
    # Then each policy contributes
    assert evaluator.role_allows(arn, "s3:GetObjectVersionForReplication", "arn:aws:s3:::src/k").allowed
    assert evaluator.role_allows(arn, "s3:ReplicateObject", "arn:aws:s3:::dst/k").allowed
    denied = evaluator.role_allows(arn, "s3:ReplicateDelete", "arn:aws:s3:::dst/k")
    assert denied.decision == "explicitDeny"
    assert denied.matched_statements[0].policy_type == "user-managed"
    assert not evaluator.role_allows(arn, "s3:ReplicateObject", "arn:aws:s3:::src/k").allowed


def test_permissions_boundary_limits_the_role(iam: Any) -> None:
    make_role(iam, "bounded")
    put_inline(iam, "bounded", "all", allow("s3:*"))
    boundary = iam.create_policy(
        PolicyName="boundary",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:Get*")]}),
    )["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName="bounded", PermissionsBoundary=boundary)
    evaluator = IamEvaluator(iam)
    assert evaluator.role_allows("bounded", "s3:GetObject", "arn:aws:s3:::b/k").allowed
    assert (
        evaluator.role_allows("bounded", "s3:ReplicateObject", "arn:aws:s3:::b/k").decision == "implicitDeny"
    )


def test_role_trusts_service_principals(iam: Any) -> None:
    # Given one role trusting S3 and one trusting only EC2
    make_role(iam, "for-s3")
    ec2_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": "sts:AssumeRole"}
        ],
    }
    make_role(iam, "for-ec2", trust=ec2_trust)
    evaluator = IamEvaluator(iam)
    # Then
    assert evaluator.role_trusts("for-s3", "s3.amazonaws.com")
    assert not evaluator.role_trusts("for-s3", "batchoperations.s3.amazonaws.com")
    assert not evaluator.role_trusts(f"arn:aws:iam::{ACCOUNT}:role/for-ec2", "s3.amazonaws.com")
    assert not evaluator.role_trusts("missing", "s3.amazonaws.com")


def test_trust_with_confused_deputy_condition(iam: Any) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ],
    }
    make_role(iam, "guarded", trust=trust)
    evaluator = IamEvaluator(iam)
    assert evaluator.role_trusts("guarded", "s3.amazonaws.com", context={"aws:SourceAccount": [ACCOUNT]})
    assert not evaluator.role_trusts("guarded", "s3.amazonaws.com", context={"aws:SourceAccount": ["1"]})


# --- simulate_principal_policy through botocore ---------------------------------------------------


@pytest.fixture
def hooked_iam(iam: Any) -> Iterator[Any]:
    """A boto3 iam client whose SimulatePrincipalPolicy is answered by the evaluator (installed
    on the client's session through hooks.install, exactly as the embedded AWS does)."""
    session = boto3.Session(region_name="us-east-1")
    installed = simulation_hooks(IamEvaluator(iam))
    hooks.install(session, installed)
    yield session.client("iam")
    hooks.uninstall(session, installed)


def test_simulate_principal_policy_response_parsed_by_botocore(iam: Any, hooked_iam: Any) -> None:
    # Given a replication role with an inline allow and a managed deny
    arn = make_role(iam, "replication")
    put_inline(
        iam,
        "replication",
        "replicate",
        allow(["s3:ReplicateObject", "s3:ReplicateTags"], "arn:aws:s3:::dst/*"),
    )
    attach_managed(iam, "replication", "deny-tags", deny("s3:ReplicateTags"))
    # When production-style code asks IAM to simulate it
    response = hooked_iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["s3:ReplicateObject", "s3:ReplicateTags", "s3:ReplicateDelete"],
        ResourceArns=["arn:aws:s3:::dst/key"],
    )
    # Then the results have the API's shape and IAM's decisions
    results = {r["EvalActionName"]: r for r in response["EvaluationResults"]}
    assert response["IsTruncated"] is False
    assert results["s3:ReplicateObject"]["EvalDecision"] == "allowed"
    assert results["s3:ReplicateObject"]["EvalResourceName"] == "arn:aws:s3:::dst/key"
    assert results["s3:ReplicateObject"]["MatchedStatements"] == [
        {"SourcePolicyId": "replicate", "SourcePolicyType": "role"}
    ]
    assert results["s3:ReplicateTags"]["EvalDecision"] == "explicitDeny"
    assert results["s3:ReplicateTags"]["MatchedStatements"][0]["SourcePolicyType"] == "user-managed"
    assert results["s3:ReplicateDelete"]["EvalDecision"] == "implicitDeny"
    assert results["s3:ReplicateDelete"]["MatchedStatements"] == []
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_simulate_principal_policy_context_entries_and_missing_values(iam: Any, hooked_iam: Any) -> None:
    arn = make_role(iam, "conditional")
    put_inline(
        iam,
        "conditional",
        "kms",
        allow("kms:Decrypt", Condition={"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}),
    )
    without = hooked_iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["kms:Decrypt"])
    assert without["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    assert without["EvaluationResults"][0]["MissingContextValues"] == ["kms:ViaService"]
    assert without["EvaluationResults"][0]["EvalResourceName"] == "*"
    with_context = hooked_iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["kms:Decrypt"],
        ContextEntries=[
            {
                "ContextKeyName": "kms:ViaService",
                "ContextKeyValues": ["s3.us-east-1.amazonaws.com"],
                "ContextKeyType": "string",
            }
        ],
    )
    assert with_context["EvaluationResults"][0]["EvalDecision"] == "allowed"


def test_simulate_principal_policy_one_result_per_action_and_resource_with_paging(
    iam: Any, hooked_iam: Any
) -> None:
    arn = make_role(iam, "pager")
    put_inline(iam, "pager", "p", allow("s3:GetObject", "arn:aws:s3:::a/*"))
    first = hooked_iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::a/k", "arn:aws:s3:::b/k"],
        MaxItems=3,
    )
    assert first["IsTruncated"] is True
    rest = hooked_iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::a/k", "arn:aws:s3:::b/k"],
        Marker=first["Marker"],
    )
    decisions = [
        (r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"])
        for r in first["EvaluationResults"] + rest["EvaluationResults"]
    ]
    assert decisions == [
        ("s3:GetObject", "arn:aws:s3:::a/k", "allowed"),
        ("s3:GetObject", "arn:aws:s3:::b/k", "implicitDeny"),
        ("s3:PutObject", "arn:aws:s3:::a/k", "implicitDeny"),
        ("s3:PutObject", "arn:aws:s3:::b/k", "implicitDeny"),
    ]


def test_simulate_principal_policy_errors_like_iam(iam: Any, hooked_iam: Any) -> None:
    # A missing role is NoSuchEntity, a broken input policy MalformedPolicyDocument
    with pytest.raises(hooked_iam.exceptions.NoSuchEntityException):
        hooked_iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/ghost", ActionNames=["s3:GetObject"]
        )
    arn = make_role(iam, "exists")
    with pytest.raises(ClientError) as raised:
        hooked_iam.simulate_principal_policy(
            PolicySourceArn=arn, ActionNames=["s3:GetObject"], PolicyInputList=["{not json"]
        )
    assert raised.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_simulate_principal_policy_with_permissions_boundary_detail(iam: Any, hooked_iam: Any) -> None:
    arn = make_role(iam, "b")
    put_inline(iam, "b", "all", allow("s3:*"))
    boundary = json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:Get*")]})
    response = hooked_iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["s3:GetObject", "s3:PutObject"],
        PermissionsBoundaryPolicyInputList=[boundary],
    )
    get_result, put_result = response["EvaluationResults"]
    assert get_result["EvalDecision"] == "allowed"
    assert get_result["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    assert put_result["EvalDecision"] == "implicitDeny"
    assert put_result["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}


def test_unhooked_client_still_hits_moto(iam: Any) -> None:
    # Without the hooks, moto itself cannot simulate: the emulator is what makes it work
    arn = make_role(iam, "plain")
    with pytest.raises(NotImplementedError):
        iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject"])
