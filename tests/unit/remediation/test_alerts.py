"""Incident alerts: one message per incident event (new, resolved, broken again) and per pair whose
objects need a person, with the failing checks and their fixes; nothing when nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from replimend.alerts import checks_pass_but_job_failed_alert, incident_alert, pair_alert, reminder_alert
from replimend.aws.sns import SnsNotifier
from replimend.errors import ReplimendError
from replimend.models import Incident
from replimend.ports import GateDecision

FAIL = {"name": "destination_versioning", "status": "FAIL", "evidence": "Suspended",
        "fix": "aws s3api put-bucket-versioning --bucket dst --versioning-configuration Status=Enabled"}  # fmt: skip
PASS = {**FAIL, "status": "PASS", "fix": None}
HELD = GateDecision(False, "diagnosis: destination_versioning FAIL", (FAIL,))
OPEN = GateDecision(True, "diagnosis passes: 1 PASS", (PASS,), "diagnosis")


def incident(checks: list[dict[str, object]] | None = None, diagnosed: bool = True) -> Incident:
    return Incident(
        "src", "dst", "DstBucketUnversioned", datetime(2026, 11, 1, tzinfo=UTC), object_count=7,
        last_diagnosis="earlier" if diagnosed else None, last_checks=checks or [],
    )  # fmt: skip


def test_a_new_incident_says_what_broke_how_many_since_when_and_the_fix() -> None:
    alert = incident_alert(incident(diagnosed=False), HELD, "src", "dst", "DstBucketUnversioned")
    assert alert is not None and alert.subject == "replimend: new incident: DstBucketUnversioned (src)"
    assert "7 object(s)" in alert.message and "2026-11-01" in alert.message
    assert "- destination_versioning: Suspended" in alert.message
    assert "    aws s3api put-bucket-versioning --bucket dst" in alert.message


def test_state_changes_alert_once_and_nothing_else_does() -> None:
    held = incident([FAIL])
    passed = incident([PASS])
    assert incident_alert(held, HELD, "src", "dst", "R") is None  # still broken
    resolved = incident_alert(held, OPEN, "src", "dst", "R")
    assert resolved is not None and "resolved by diagnosis" in resolved.subject
    assert incident_alert(passed, OPEN, "src", "dst", "R") is None  # still fine
    again = incident_alert(passed, HELD, "src", "dst", "R")
    assert again is not None and again.subject.startswith("replimend: broken again")
    override = GateDecision(True, "operator override", resolved_by="operator")
    assert incident_alert(held, override, "src", "dst", "R") is None
    unverified = GateDecision(False, "could not verify", ({**FAIL, "status": "WARN"},))
    assert incident_alert(incident(diagnosed=False), unverified, "src", "dst", "R") is None


def test_objects_given_up_or_escalated_make_one_message_per_pair() -> None:
    assert pair_alert("src", "dst", gave_up=0, escalated=0) is None
    alert = pair_alert("src", "dst", gave_up=3, escalated=1)
    assert (
        alert is not None
        and "3 object(s) given up" in alert.message
        and "1 object(s) escalated" in alert.message
    )
    assert len(pair_alert("s" * 200, "d", gave_up=1, escalated=0).subject) <= 100  # type: ignore[union-attr]


def test_the_sns_notifier_publishes_to_the_topic() -> None:
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        SnsNotifier(sns, topic).publish("subject", "message")
        with pytest.raises(ReplimendError):
            SnsNotifier(sns, topic + "-gone").publish("subject", "message")


def test_a_reminder_says_how_long_it_has_been_open_and_the_fix() -> None:
    alert = reminder_alert(incident([FAIL]), datetime(2026, 11, 3, 1, tzinfo=UTC))
    assert alert.subject == "replimend: still open after 49h: DstBucketUnversioned (src)"
    assert "7 object(s)" in alert.message and "since 2026-11-01" in alert.message
    assert "    aws s3api put-bucket-versioning --bucket dst" in alert.message


def test_a_job_failing_an_incident_whose_checks_pass_names_a_cause_diagnosis_cannot_see() -> None:
    alert = checks_pass_but_job_failed_alert(incident([PASS]), "job-1", 3)
    assert alert is not None and "though its checks pass" in alert.subject
    assert "job-1 failed 3 object(s)" in alert.message and "service control policy" in alert.message
    # a failing check is the incident's own news, not this one
    assert checks_pass_but_job_failed_alert(incident([FAIL]), "job-1", 3) is None


def test_escalations_name_their_reason() -> None:
    alert = pair_alert("src", "dst", gave_up=0, escalated=2, reason="SomethingNew")
    assert alert is not None and "2 object(s) escalated (SomethingNew)" in alert.message
