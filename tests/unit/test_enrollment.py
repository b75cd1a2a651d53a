"""Enrollment plans and the queue-policy check, pure: no AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from replimend.enrollment import (
    METRICS_TAG,
    NOTIFICATION_ID,
    REPLICATION_EVENTS,
    BucketSettings,
    EnrollmentError,
    admit_statement,
    plan_enroll,
    plan_unenroll,
    queue_admits,
    rule_digest,
)

QUEUE = "arn:aws:sqs:us-east-1:123456789012:replimend-failures"
ACCOUNT = "123456789012"


def rule(rule_id: str, **destination: Any) -> dict[str, Any]:
    return {
        "ID": rule_id,
        "Priority": 1,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {"Bucket": "arn:aws:s3:::dst", **destination},
    }


RTC = {
    "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
    "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
}
OTHER_NOTIFICATIONS: dict[str, Any] = {
    "TopicConfigurations": [
        {
            "Id": "uploads",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
            "Events": ["s3:ObjectCreated:*"],
        }
    ],
    "QueueConfigurations": [
        {
            "Id": "deletes",
            "QueueArn": "arn:aws:sqs:us-east-1:123456789012:q",
            "Events": ["s3:ObjectRemoved:*"],
        }
    ],
    "LambdaFunctionConfigurations": [
        {
            "Id": "thumbs",
            "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Events": ["s3:ObjectCreated:Put"],
            "Filter": {"Key": {"FilterRules": [{"Name": "Suffix", "Value": ".jpg"}]}},
        }
    ],
    "EventBridgeConfiguration": {},
}


def settings(
    *rules: dict[str, Any], notification: dict[str, Any] | None = None, tags: Any = None
) -> BucketSettings:
    return BucketSettings(
        "src",
        {"Role": "arn:aws:iam::123456789012:role/r", "Rules": list(rules)},
        json.loads(json.dumps(notification or {})),
        dict(tags or {}),
    )


def test_enroll_turns_metrics_on_keeping_every_other_setting_and_leaves_rtc_rules_alone() -> None:
    # Given a rule without metrics (with a KMS replica key) and one using RTC
    plain = rule("plain", EncryptionConfiguration={"ReplicaKmsKeyID": "arn:aws:kms:us-east-1:1:key/k"})
    timed = rule("timed", **RTC)
    # When enroll plans
    plan = plan_enroll(settings(plain, timed), QUEUE)
    # Then only the plain rule changes, and only its Metrics
    assert plan.replication is not None
    new_plain, new_timed = plan.replication["Rules"]
    assert new_plain["Destination"]["Metrics"] == {"Status": "Enabled"}
    assert {k: v for k, v in new_plain["Destination"].items() if k != "Metrics"} == plain["Destination"]
    assert {k: v for k, v in new_plain.items() if k != "Destination"} == {
        k: v for k, v in plain.items() if k != "Destination"
    }
    assert new_timed == timed
    # and the tag records the plain rule alone
    assert plan.tags == {METRICS_TAG: rule_digest("plain")}


def test_enroll_keeps_an_event_threshold_already_set() -> None:
    plan = plan_enroll(
        settings(rule("r", Metrics={"Status": "Disabled", "EventThreshold": {"Minutes": 15}})), QUEUE
    )
    assert plan.replication is not None
    assert plan.replication["Rules"][0]["Destination"]["Metrics"] == {
        "Status": "Enabled",
        "EventThreshold": {"Minutes": 15},
    }


def test_enroll_merges_the_queue_configuration_into_every_other_notification() -> None:
    plan = plan_enroll(settings(rule("r"), notification=OTHER_NOTIFICATIONS, tags={"team": "data"}), QUEUE)
    assert plan.notification is not None
    assert plan.notification["TopicConfigurations"] == OTHER_NOTIFICATIONS["TopicConfigurations"]
    assert (
        plan.notification["LambdaFunctionConfigurations"]
        == OTHER_NOTIFICATIONS["LambdaFunctionConfigurations"]
    )
    assert plan.notification["EventBridgeConfiguration"] == {}
    assert plan.notification["QueueConfigurations"] == [
        *OTHER_NOTIFICATIONS["QueueConfigurations"],
        {"Id": NOTIFICATION_ID, "QueueArn": QUEUE, "Events": list(REPLICATION_EVENTS)},
    ]
    assert plan.tags is not None and plan.tags["team"] == "data"


def test_enroll_of_an_enrolled_bucket_changes_nothing() -> None:
    # Given a bucket enroll has already changed
    first = plan_enroll(settings(rule("r"), notification=OTHER_NOTIFICATIONS), QUEUE)
    assert first.replication is not None and first.notification is not None and first.tags is not None
    enrolled = BucketSettings("src", first.replication, first.notification, first.tags)
    # When enroll plans again / Then there is nothing to do
    again = plan_enroll(enrolled, QUEUE)
    assert not again.changed and again.changes == []


def test_enroll_replaces_its_own_configuration_when_the_queue_changed() -> None:
    old = {
        "QueueConfigurations": [
            {"Id": NOTIFICATION_ID, "QueueArn": QUEUE + "-old", "Events": ["s3:Replication:*"]}
        ]
    }
    plan = plan_enroll(settings(rule("r", Metrics={"Status": "Enabled"}), notification=old), QUEUE)
    assert plan.notification is not None
    assert [c["QueueArn"] for c in plan.notification["QueueConfigurations"]] == [QUEUE]


def test_another_configuration_already_sending_to_the_queue_is_left_alone() -> None:
    mine = {"QueueConfigurations": [{"Id": "by-hand", "QueueArn": QUEUE, "Events": ["s3:Replication:*"]}]}
    plan = plan_enroll(settings(rule("r", Metrics={"Status": "Enabled"}), notification=mine), QUEUE)
    assert plan.notification is None and not plan.changed
    assert any("by-hand" in note for note in plan.notes)


@pytest.mark.parametrize(
    "kind,field", [("TopicConfigurations", "TopicArn"), ("QueueConfigurations", "QueueArn")]
)
def test_replication_events_sent_elsewhere_are_a_conflict_not_overwritten(kind: str, field: str) -> None:
    elsewhere = {kind: [{"Id": "ops", field: "arn:aws:sns:us-east-1:1:x", "Events": [REPLICATION_EVENTS[0]]}]}
    with pytest.raises(EnrollmentError, match="ops"):
        plan_enroll(settings(rule("r"), notification=elsewhere), QUEUE)


def test_enroll_needs_a_replication_configuration() -> None:
    with pytest.raises(EnrollmentError, match="no replication configuration"):
        plan_enroll(BucketSettings("src", None, {}, {}), QUEUE)


def test_an_earlier_schema_rule_is_not_converted() -> None:
    v1 = {"ID": "v1", "Prefix": "", "Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::dst"}}
    plan = plan_enroll(settings(v1), QUEUE)
    assert plan.replication is None and any("v1" in note for note in plan.notes)


def test_unenroll_undoes_exactly_what_enroll_did() -> None:
    # Given a bucket with metrics already on for one rule, off for another, and other notifications
    before = settings(
        rule("was-on", Metrics={"Status": "Enabled"}),
        rule("was-off"),
        notification=OTHER_NOTIFICATIONS,
        tags={"team": "data"},
    )
    plan = plan_enroll(before, QUEUE)
    assert plan.replication is not None and plan.notification is not None and plan.tags is not None
    enrolled = BucketSettings("src", plan.replication, plan.notification, plan.tags)
    # When unenroll plans
    undo = plan_unenroll(enrolled)
    # Then only was-off's metrics go off, only enroll's queue configuration goes, and only its tag
    assert undo.replication is not None
    assert [r["Destination"]["Metrics"]["Status"] for r in undo.replication["Rules"]] == [
        "Enabled",
        "Disabled",
    ]
    assert undo.notification == OTHER_NOTIFICATIONS
    assert undo.tags == {"team": "data"}
    # and unenrolling again changes nothing
    assert not plan_unenroll(BucketSettings("src", undo.replication, undo.notification, undo.tags)).changed


def test_unenroll_keeps_metrics_a_rule_now_needs_for_rtc() -> None:
    tags = {METRICS_TAG: rule_digest("r")}
    plan = plan_unenroll(settings(rule("r", **RTC), tags=tags))
    assert plan.replication is None and plan.tags == {}
    assert any("RTC" in note for note in plan.notes)


# ---- the queue policy ---------------------------------------------------------------------------


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_aws_example_statement_admits_the_bucket() -> None:
    assert queue_admits(policy(admit_statement(QUEUE, "src", ACCOUNT)), QUEUE, "src", ACCOUNT) is None


def test_the_stacks_policy_admits_listed_buckets_only() -> None:
    # template.yaml's FailureQueuePolicy, with its deny of insecure transport
    stack = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": QUEUE,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": ["arn:aws:s3:::src", "arn:aws:s3:::logs-*"]},
            },
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": QUEUE,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
    assert queue_admits(stack, QUEUE, "src", ACCOUNT) is None
    assert queue_admits(stack, QUEUE, "logs-eu", ACCOUNT) is None
    assert queue_admits(stack, QUEUE, "other", ACCOUNT) is not None
    assert queue_admits(stack, QUEUE, "src", "999999999999") is not None


@pytest.mark.parametrize(
    "statement",
    [
        {**admit_statement(QUEUE, "src", ACCOUNT), "Action": "sqs:ReceiveMessage"},
        {**admit_statement(QUEUE, "src", ACCOUNT), "Principal": {"Service": "sns.amazonaws.com"}},
        {**admit_statement(QUEUE, "src", ACCOUNT), "Resource": QUEUE + "-other"},
        {
            **admit_statement(QUEUE, "src", ACCOUNT),
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        },
    ],
)
def test_statements_that_do_not_admit(statement: dict[str, Any]) -> None:
    assert queue_admits(policy(statement), QUEUE, "src", ACCOUNT) is not None


def test_a_deny_wins_and_no_policy_admits_nothing() -> None:
    deny = {**admit_statement(QUEUE, "src", ACCOUNT), "Effect": "Deny", "Sid": "no"}
    assert "no" in str(
        queue_admits(policy(admit_statement(QUEUE, "src", ACCOUNT), deny), QUEUE, "src", ACCOUNT)
    )
    assert queue_admits(None, QUEUE, "src", ACCOUNT) is not None


def test_unenroll_for_one_queue_leaves_another_stacks_enrollment_alone() -> None:
    # Given a bucket enrolled to QUEUE
    plan = plan_enroll(settings(rule("r")), QUEUE)
    assert plan.replication is not None and plan.notification is not None and plan.tags is not None
    enrolled = BucketSettings("src", plan.replication, plan.notification, plan.tags)
    # When unenroll is scoped to another stack's queue, nothing changes and it says why
    other = QUEUE.replace(QUEUE.rsplit(":", 1)[1], "another-stacks-queue")
    scoped = plan_unenroll(enrolled, other)
    assert not scoped.changed
    assert any("another queue" in note for note in scoped.notes)
    # and scoped to its own queue, it undoes the enrollment
    assert plan_unenroll(enrolled, QUEUE).changed
