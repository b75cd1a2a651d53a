"""Diagnosis against the embedded AWS (moto + the replication engine + the IAM simulation emulator),
on the demo's real broken setups: each scenario's cause is named by exactly the checks that see it,
with a fix naming the real resources; once the scenario's own fix is applied, nothing FAILs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from replimend.aws.config import AwsConfigReader
from replimend.diagnose import Setup, Status, Target, checks_for_reason, destinations, diagnose
from replimend.enrollment import admit_statement
from replimend_local.demo.scenarios import (
    DESTINATION_REGION,
    SCENARIOS,
    SOURCE_REGION,
    Account,
    ScenarioNames,
    create_destination,
    create_role,
    create_source,
    enroll,
    put_replication,
)
from replimend_local.embedded import EmbeddedAws

#: scenario → the checks that must FAIL for it (and no other)
EXPECTED_FAILURES = {
    "healthy": set(),
    "unversioned": {"destination_versioning"},
    "no-replicate": {"replication_role_destination_permissions"},
    "untrusted": {"replication_role_trust"},
    "kms-no-key": {"kms_destination_key"},
    "kms-disabled": {"kms_destination_key"},
    "no-destination": {"destination_bucket_exists"},
    "object-lock": {"object_lock"},
}


@dataclass
class World:
    aws: EmbeddedAws
    account: Account
    reader: AwsConfigReader
    setup: Setup

    def names(self, slug: str) -> ScenarioNames:
        return ScenarioNames(slug, self.account.account_id)

    def run(self, slug: str, **target: Any) -> dict[str, Any]:
        names = self.names(slug)
        result = diagnose(
            self.reader, Target(names.source_bucket, names.destination_bucket, **target), self.setup
        )
        return {r.name: r for r in result.results}


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with EmbeddedAws() as aws:
        sqs = aws.client("sqs")
        url = sqs.create_queue(QueueName="replimend-failures")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        # S3 refuses a notification the queue does not admit: the template's queue policy, for the demo
        admit = {
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::replimend-demo-*-src"}},
        }
        policy = json.dumps({"Version": "2012-10-17", "Statement": [admit]})
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
        account = Account(aws.account_id, queue_arn, aws.client)
        # the stack's queue policy admits the demo's sources (one scenario is enrolled with `enroll`)
        admit = admit_statement(queue_arn, "replimend-demo-*-src", aws.account_id)
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [admit]})}
        )
        for scenario in SCENARIOS:
            if scenario.slug in EXPECTED_FAILURES:
                scenario.setup(account, ScenarioNames(scenario.slug, aws.account_id))
        reader = AwsConfigReader(lambda service, region: aws.client(service, region or SOURCE_REGION))
        yield World(aws, account, reader, Setup(region=SOURCE_REGION, failure_queue_arn=queue_arn))


@pytest.mark.parametrize("slug", sorted(EXPECTED_FAILURES))
def test_each_scenario_is_diagnosed_to_its_cause_and_passes_once_fixed(world: World, slug: str) -> None:
    # Given a demo scenario's account, broken the way the field breaks it
    (scenario,) = [s for s in SCENARIOS if s.slug == slug]
    names = world.names(slug)
    # When it is diagnosed
    results = world.run(slug)
    # Then exactly the checks that see its cause FAIL, each with a fix naming the real resources
    failed = {name for name, r in results.items() if r.status is Status.FAIL}
    assert failed == EXPECTED_FAILURES[slug], {n: results[n].evidence for n in failed}
    for name in failed:
        fix = results[name].fix or ""
        assert names.destination_bucket in fix or names.role_name in fix or "kms" in fix, fix
        assert "<destination-bucket>" not in fix and "<replication-role>" not in fix
    # And the reason S3 reports for it names a failing check (the gate would hold its objects)
    if scenario.expected_reason:
        assert failed & set(checks_for_reason(scenario.expected_reason))
    # When the operator applies the scenario's fix, Then nothing FAILs any more
    if scenario.fix is not None:
        scenario.fix(world.account, names)
        after = world.run(slug)
        assert not [r for r in after.values() if r.status is Status.FAIL], [
            r.to_dict() for r in after.values() if r.status is Status.FAIL
        ]


def test_the_fix_commands_are_the_ones_the_registry_names(world: World) -> None:
    results = world.run("unversioned")
    if results["destination_versioning"].status is Status.FAIL:  # not yet fixed by the test above
        assert results["destination_versioning"].fix == (
            f"aws s3api put-bucket-versioning --bucket {world.names('unversioned').destination_bucket} "
            f"--region {DESTINATION_REGION} --versioning-configuration Status=Enabled"
        )


def _bare_pair(world: World, slug: str, *, metrics: bool = True, notify: bool = True) -> ScenarioNames:
    names = world.names(slug)
    create_role(world.account, names)
    create_destination(world.account, names)
    create_source(world.account, names)
    put_replication(world.account, names)
    if not metrics:
        config = world.account.s3().get_bucket_replication(Bucket=names.source_bucket)[
            "ReplicationConfiguration"
        ]
        for rule in config["Rules"]:
            rule["Destination"].pop("Metrics", None)
        world.account.s3().put_bucket_replication(Bucket=names.source_bucket, ReplicationConfiguration=config)
    if notify:
        enroll(world.account, names)
    return names


def test_metrics_off_and_no_notification_are_reported_loudly(world: World) -> None:
    # Given a pair that replicates, but with metrics off and no s3:Replication:* notification
    names = _bare_pair(world, "silent", metrics=False, notify=False)
    # When it is diagnosed
    results = world.run("silent")
    # Then both FAIL, saying S3 sends no failure events, with the full configuration to put back
    assert results["replication_metrics"].status is Status.FAIL
    assert "NO failure events" in results["replication_metrics"].evidence
    fix = results["replication_metrics"].fix or ""
    assert fix.startswith(f"aws s3api put-bucket-replication --bucket {names.source_bucket}")
    assert '"Metrics":{"Status":"Enabled"}' in fix and names.role_arn in fix
    assert results["failure_notification"].status is Status.FAIL
    assert world.setup.failure_queue_arn in (results["failure_notification"].fix or "")
    assert {n for n, r in results.items() if r.status is Status.FAIL} == {
        "replication_metrics",
        "failure_notification",
    }


def test_a_key_policy_is_diagnosed_to_the_key_not_to_iam(world: World) -> None:
    # Given SSE-KMS replication whose replica key exists and is Enabled, and whose role policy allows
    # kms:Encrypt, but the key policy grants neither the role nor the account
    names = world.names("kms-policy")
    kms = world.account.kms(DESTINATION_REGION)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AdminsOnly",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{world.account.account_id}:role/key-admin"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    key = kms.create_key(
        Description="replicas", Policy=json.dumps(policy), BypassPolicyLockoutSafetyCheck=True
    )
    create_role(world.account, names, kms=True)
    create_destination(world.account, names)
    create_source(world.account, names)
    put_replication(world.account, names, replica_kms_key=key["KeyMetadata"]["Arn"])
    enroll(world.account, names)
    # When it is diagnosed
    results = world.run("kms-policy")
    # Then the key is named as the cause, not the role's IAM permissions
    assert results["replication_role_destination_permissions"].status is Status.PASS
    kms_result = results["kms_destination_key"]
    assert kms_result.status is Status.FAIL, kms_result
    assert "key policy" in kms_result.evidence
    assert (kms_result.fix or "").startswith("aws kms put-key-policy")
    assert names.role_arn in (kms_result.fix or "")
    # And DstPutObjectNotPermitted, the reason S3 reports for it, names that check
    assert "kms_destination_key" in checks_for_reason("DstPutObjectNotPermitted")


def test_an_object_is_matched_against_the_rules_filters_and_priority(world: World) -> None:
    # Given two rules to the same destination: logs/ (priority 2) and objects tagged replicate=yes (1)
    names = _bare_pair(world, "filtered")
    s3 = world.account.s3()
    config = s3.get_bucket_replication(Bucket=names.source_bucket)["ReplicationConfiguration"]
    base = config["Rules"][0]
    logs = {**base, "ID": "logs", "Priority": 2, "Filter": {"Prefix": "logs/"}}
    tagged = {**base, "ID": "tagged", "Priority": 1, "Filter": {"Tag": {"Key": "replicate", "Value": "yes"}}}
    s3.put_bucket_replication(
        Bucket=names.source_bucket, ReplicationConfiguration={"Role": config["Role"], "Rules": [tagged, logs]}
    )
    s3.put_object(Bucket=names.source_bucket, Key="logs/a.txt", Body=b"a", Tagging="replicate=yes")
    s3.put_object(Bucket=names.source_bucket, Key="data/b.txt", Body=b"b")
    # When each object is diagnosed, Then the winning rule (or why none applies) is named
    logs_result = world.run("filtered", key="logs/a.txt")["rule_filter"]
    assert (
        logs_result.status is Status.PASS
        and "rule logs (priority 2) matches and wins" in logs_result.evidence
    )
    assert "also matching: tagged" in logs_result.evidence
    untagged = world.run("filtered", key="data/b.txt")["rule_filter"]
    assert untagged.status is Status.FAIL
    assert "logs: key does not start with 'logs/'" in untagged.evidence
    assert "tagged: object lacks tag(s) replicate=yes" in untagged.evidence
    assert world.run("filtered", key="data/b.txt")["source_object_exists"].status is Status.PASS
    missing = world.run("filtered", key="gone.txt")["source_object_exists"]
    assert missing.status is Status.FAIL and "not found" in missing.evidence


def test_destinations_are_read_from_the_rules(world: World) -> None:
    names = world.names("healthy")
    assert destinations(world.reader, names.source_bucket) == [names.destination_bucket]


# ---- replimend diagnose, against the embedded AWS ---------------------------------------------------


def test_the_command_names_the_cause_with_its_fix_and_exits_1(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    from replimend_cli import main

    # Given a pair whose destination versioning was suspended
    names = _bare_pair(world, "cli")
    world.account.s3(DESTINATION_REGION).put_bucket_versioning(
        Bucket=names.destination_bucket, VersioningConfiguration={"Status": "Suspended"}
    )
    # When the operator diagnoses the source bucket
    status = main(["diagnose", "--bucket", names.source_bucket, "--region", SOURCE_REGION])
    out = capsys.readouterr().out
    # Then the failing check, its evidence and the command that fixes it are printed; exit status 1
    assert status == 1
    assert "destination_versioning" in out and "Suspended" in out
    assert (
        f"    aws s3api put-bucket-versioning --bucket {names.destination_bucket} --region {DESTINATION_REGION} "
        "--versioning-configuration Status=Enabled\n" in out
    )
    # And as JSON Lines, one diagnosis per destination
    assert main(["diagnose", "--bucket", names.source_bucket, "--json", "--key", "nothing-here"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    document = json.loads(line)
    assert document["destination"] == names.destination_bucket and document["passes"] is False
    by_name = {c["name"]: c for c in document["checks"]}
    assert by_name["destination_versioning"]["status"] == "FAIL" and by_name["destination_versioning"]["fix"]
    assert by_name["source_object_exists"]["status"] == "FAIL"
    # When the fix is applied, Then the same command exits 0
    world.account.s3(DESTINATION_REGION).put_bucket_versioning(
        Bucket=names.destination_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    assert main(["diagnose", "--bucket", names.source_bucket, "--reason", "DstBucketUnversioned"]) == 0
    assert "nothing fails" in capsys.readouterr().out


def test_the_command_on_a_missing_bucket_fails_the_source_checks(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    from replimend_cli import main

    assert main(["diagnose", "--bucket", "replimend-no-such-bucket", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    by_name = {c["name"]: c["status"] for c in document["checks"]}
    assert by_name["source_bucket_exists"] == "FAIL"


def test_the_command_reports_errors_in_one_line(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    from replimend_cli import main

    assert main(["diagnose", "--bucket", "b", "--profile", "replimend-no-such-profile"]) == 2
    captured = capsys.readouterr()
    assert (
        captured.err.startswith("replimend: error: ")
        and "replimend-no-such-profile" in captured.err
        and captured.err.count("\n") == 1
    )
    assert "Traceback" not in captured.err
    with pytest.raises(SystemExit) as usage:
        main(["diagnose", "--bucket", "b", "--version-id", "v"])
    assert usage.value.code == 2
    with pytest.raises(SystemExit):
        main(["diagnose", "--bucket", "b", "--reason", "NotAReason"])


@pytest.mark.parametrize("slug", sorted(EXPECTED_FAILURES))
def test_every_fix_names_real_resources_no_placeholders(world: World, slug: str) -> None:
    # Given a scenario's broken account, When it is diagnosed, Then each fix is a command to run as is
    for result in world.run(slug).values():
        assert not re.search(r"<[a-z][a-z -]*>", result.fix or ""), (result.name, result.fix)
