"""The diagnosis registry, walked whole (as test_reasons walks the reason registry), and the checks'
logic on an in-memory ConfigReader (no AWS)."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest

from replimend.diagnose import REGISTRY, Setup, Status, Target, checks_for_reason, diagnose, rules
from replimend.models import Action
from replimend.ports import KeyInfo
from replimend.reasons import CHECKS, REASONS
from tests.fakes import FAKE_ROLE
from tests.fakes import FakeConfigReader as FakeReader

_SESSION = botocore.session.get_session()


# ---- the registry --------------------------------------------------------------------------------


def test_every_check_the_reasons_name_is_registered_once_and_nothing_else() -> None:
    assert list(REGISTRY) == [name for name in CHECKS if name in REGISTRY]
    assert set(REGISTRY) == set(CHECKS)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_check_reads_real_operations_cites_a_source_and_explains_a_reason(name: str) -> None:
    check = REGISTRY[name]
    assert check.reads and check.doc
    assert check.doc.startswith("https://docs.aws.amazon.com/") or check.doc.startswith("botocore ")
    for read in check.reads:
        service, operation = read.split(":")
        assert operation in _SESSION.get_service_model(service).operation_names, read
    assert check.explains, f"{name} explains no failure reason"
    assert 0 <= check.group <= 9


def test_every_reason_held_for_a_fix_names_checks_the_gate_can_run() -> None:
    for entry in REASONS.values():
        if entry.action is Action.RETRY_AFTER_FIX:
            assert entry.checks and set(entry.checks) <= set(REGISTRY), entry.code
            assert checks_for_reason(entry.code) == entry.checks


def test_the_nine_groups_of_issue_8_all_have_checks() -> None:
    assert {check.group for check in REGISTRY.values()} >= set(range(1, 10))


# ---- the logic on fakes --------------------------------------------------------------------------

ROLE = FAKE_ROLE


def _run(
    reader: FakeReader, *checks: str, key: str | None = None, setup: Setup | None = None
) -> dict[str, Any]:
    result = diagnose(reader, Target("src", "dst", key=key), setup, checks=checks or None)
    return {r.name: r for r in result.results}


def test_a_healthy_pair_passes_and_opens_the_gate() -> None:
    reader = FakeReader()
    reader.buckets["src"]["notifications"] = {
        "QueueConfigurations": [{"QueueArn": "arn:q", "Events": ["s3:Replication:*"]}]
    }
    result = diagnose(reader, Target("src", "dst"))
    assert not result.failed and result.passes
    by_name = {r.name: r for r in result.results}
    assert by_name["rule_filter"].status is Status.SKIP  # no key
    assert "cross-Region: CRR" in by_name["destination_bucket_region"].evidence


def test_same_region_is_srr_not_an_error() -> None:
    reader = FakeReader()
    reader.buckets["dst"]["region"] = "us-east-1"
    result = _run(reader, "destination_bucket_region")["destination_bucket_region"]
    assert result.status is Status.PASS and "SRR" in result.evidence


def test_an_unreadable_configuration_warns_and_does_not_fail() -> None:
    reader = FakeReader()
    reader.denied_reads.add("GetBucketVersioning")
    result = diagnose(reader, Target("src", "dst"), checks=["destination_versioning", "replication_rule"])
    statuses = {r.name: r.status for r in result.results}
    assert statuses == {"destination_versioning": Status.WARN, "replication_rule": Status.PASS}
    assert result.passes  # a WARN does not hold the gate


def test_a_missing_destination_fails_there_and_skips_what_cannot_be_read() -> None:
    reader = FakeReader()
    del reader.buckets["dst"]
    results = _run(reader, "destination_bucket_exists", "destination_versioning")
    assert results["destination_bucket_exists"].status is Status.FAIL
    assert "aws s3api create-bucket --bucket dst" in (results["destination_bucket_exists"].fix or "")
    assert results["destination_versioning"].status is Status.SKIP


def test_a_disabled_rule_fails_with_the_whole_configuration_to_put_back() -> None:
    reader = FakeReader()
    assert reader.config is not None
    reader.config["Rules"][0]["Status"] = "Disabled"
    result = _run(reader, "replication_rule")["replication_rule"]
    assert result.status is Status.FAIL
    assert result.fix is not None and result.fix.startswith("aws s3api put-bucket-replication --bucket src")
    assert '"Status":"Enabled"' in result.fix and ROLE in result.fix


def test_no_replication_configuration_fails_the_rule_and_skips_the_role() -> None:
    reader = FakeReader()
    reader.config = None
    results = _run(reader, "replication_rule", "replication_role_trust")
    assert results["replication_rule"].status is Status.FAIL
    assert results["replication_role_trust"].status is Status.SKIP


def test_a_role_without_replicate_object_fails_with_a_policy_granting_it() -> None:
    reader = FakeReader()
    reader.allowed = {"s3:GetReplicationConfiguration", "s3:ListBucket", "s3:ReplicateDelete"}
    result = _run(reader, "replication_role_destination_permissions")[
        "replication_role_destination_permissions"
    ]
    assert result.status is Status.FAIL and "s3:ReplicateObject: implicitDeny" in result.evidence
    assert result.fix is not None and "aws iam put-role-policy --role-name replication" in result.fix
    assert "arn:aws:s3:::dst/*" in result.fix


def test_the_destination_bucket_policy_is_the_simulations_resource_policy() -> None:
    reader = FakeReader()
    policy = json.dumps({"Statement": []})
    reader.buckets["dst"]["policy"] = policy
    _run(reader, "replication_role_destination_permissions")
    (request,) = [r for r in reader.simulations if "s3:ReplicateObject" in r.actions]
    assert request.resource_policy == policy and request.resource_owner == "111122223333"


def test_delete_marker_replication_and_owner_override_add_the_actions_they_need() -> None:
    reader = FakeReader()
    assert reader.config is not None
    rule = reader.config["Rules"][0]
    rule["DeleteMarkerReplication"] = {"Status": "Enabled"}
    rule["Destination"].update(Account="444455556666", AccessControlTranslation={"Owner": "Destination"})
    _run(reader, "replication_role_destination_permissions")
    assert set(reader.simulations[0].actions) == {
        "s3:ReplicateObject",
        "s3:ReplicateDelete",
        "s3:ObjectOwnerOverrideToBucketOwner",
    }


def test_cross_account_without_a_bucket_policy_or_ownership_fails() -> None:
    reader = FakeReader()
    assert reader.config is not None
    reader.config["Rules"][0]["Destination"]["Account"] = "444455556666"
    results = _run(reader, "destination_bucket_policy", "ownership_controls")
    assert results["destination_bucket_policy"].status is Status.FAIL
    assert results["ownership_controls"].status is Status.FAIL
    assert "BucketOwnerEnforced" in (results["ownership_controls"].fix or "")
    reader.buckets["dst"]["ownership"] = "BucketOwnerEnforced"
    assert _run(reader, "ownership_controls")["ownership_controls"].status is Status.PASS


def _kms_reader(state: str = "Enabled", policy: dict[str, Any] | None = None) -> FakeReader:
    reader = FakeReader()
    assert reader.config is not None
    arn = "arn:aws:kms:us-west-2:111122223333:key/k1"
    rule = reader.config["Rules"][0]
    rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    rule["Destination"]["EncryptionConfiguration"] = {"ReplicaKmsKeyID": arn}
    reader.keys[arn] = KeyInfo("k1", arn, state, "us-west-2")
    root = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*",
            "Resource": "*"}  # fmt: skip
    reader.key_policies[arn] = policy or {"Statement": [root]}
    return reader


def test_a_disabled_replica_key_fails_with_enable_key() -> None:
    result = _run(_kms_reader("Disabled"), "kms_destination_key")["kms_destination_key"]
    assert result.status is Status.FAIL and "Disabled" in result.evidence
    assert result.fix == "aws kms enable-key --region us-west-2 --key-id k1"
    pending = _run(_kms_reader("PendingDeletion"), "kms_destination_key")["kms_destination_key"]
    assert (pending.fix or "").startswith("aws kms cancel-key-deletion --region us-west-2 --key-id k1\n")


def test_kms_key_policy_deferring_to_iam_makes_iam_the_cause() -> None:
    reader = _kms_reader()
    reader.allowed = {"kms:Decrypt"}
    result = _run(reader, "kms_destination_key")["kms_destination_key"]
    assert result.status is Status.FAIL and "IAM policies" in result.evidence
    assert (result.fix or "").startswith("aws iam put-role-policy")


def test_kms_key_policy_not_granting_the_role_makes_the_key_the_cause() -> None:
    reader = _kms_reader(policy={"Statement": []})
    result = _run(reader, "kms_destination_key")["kms_destination_key"]
    assert result.status is Status.FAIL and "key policy" in result.evidence
    assert (result.fix or "").startswith("aws kms put-key-policy --region us-west-2 --key-id k1")


def test_a_rule_without_sse_kms_selection_skips_the_key_checks() -> None:
    assert _run(FakeReader(), "kms_destination_key")["kms_destination_key"].status is Status.SKIP


def test_object_checks_skip_without_a_key_and_judge_archived_objects() -> None:
    reader = FakeReader()
    assert _run(reader, "source_storage_class")["source_storage_class"].status is Status.SKIP
    reader.buckets["src"]["objects"] = {"cold.bin": {"head": {"StorageClass": "DEEP_ARCHIVE"}}}
    result = _run(reader, "source_storage_class", key="cold.bin")["source_storage_class"]
    assert result.status is Status.FAIL and (result.fix or "").startswith(
        "aws s3api restore-object --bucket src"
    )


def test_the_batch_role_and_replimends_buckets() -> None:
    reader = FakeReader()
    reader.trust["Statement"][0]["Principal"]["Service"] = "batchoperations.s3.amazonaws.com"
    setup = Setup(batch_role_arn=ROLE, manifest_bucket="src", report_bucket="dst")
    assert _run(reader, "batch_role")["batch_role"].status is Status.SKIP
    assert _run(reader, "batch_role", setup=setup)["batch_role"].status is Status.PASS
    reader.allowed = {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"}
    denied = _run(reader, "batch_role", setup=setup)["batch_role"]
    assert denied.status is Status.FAIL and "s3:InitiateReplication" in denied.evidence


def test_rule_filters_and_priority() -> None:
    legacy = {"Prefix": "a/"}
    both = {"Filter": {"And": {"Prefix": "b/", "Tags": [{"Key": "k", "Value": "v"}]}}}
    assert rules.matches(legacy, "a/x", {}, kms=False) is None
    assert rules.matches(both, "b/x", {"k": "v"}, kms=False) is None
    assert rules.matches(both, "b/x", {}, kms=False) == "object lacks tag(s) k=v"
    assert "SseKmsEncryptedObjects" in (rules.matches({"Filter": {}}, "x", {}, kms=True) or "")
    config = {"Rules": [{"ID": "low", "Priority": 1, "Destination": {"Bucket": "arn:aws:s3:::d"}},
                        {"ID": "high", "Priority": 5, "Destination": {"Bucket": "arn:aws:s3:::d"}}]}  # fmt: skip
    assert [r["ID"] for r in rules.rules_for(config, "arn:aws:s3:::d")] == ["high", "low"]


def test_key_policy_grants() -> None:
    role = ROLE
    direct = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": [role]}, "Action": ["kms:Encrypt"]}]}
    assert rules.key_policy_grants(direct, role, "kms:Encrypt") == "role"
    assert rules.key_policy_grants(direct, role, "kms:Decrypt") is None
    account = {"Statement": {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*"}}
    assert rules.key_policy_grants(account, role, "kms:GenerateDataKey") == "account"


def test_a_bucket_without_replication_is_told_the_role_and_rule_to_create_by_name() -> None:
    # Given a source with no replication configuration, in an account replimend knows (its batch role)
    reader = FakeReader()
    reader.config = None
    setup = Setup(batch_role_arn="arn:aws:iam::111122223333:role/replimend-batch")
    # When the rule is diagnosed, Then the fix creates a named role and a rule using it, no placeholder
    (result,) = diagnose(reader, Target("src", "dst"), setup, checks=["replication_rule"]).results
    assert result.status is Status.FAIL
    assert "aws iam create-role --role-name src-replication" in (result.fix or "")
    assert "arn:aws:iam::111122223333:role/src-replication" in (result.fix or "")
    assert "<" not in (result.fix or "")
