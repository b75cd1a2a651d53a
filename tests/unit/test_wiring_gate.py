"""The composition root gives remediate the diagnosis gate (replimend's Batch role and buckets in its
setup) and an alert notifier exactly when the settings name a topic."""

from __future__ import annotations

from replimend.remediate.gate import DiagnosisGate
from replimend.settings import RemediationSettings
from replimend.wiring import build_remediation

ENV = {
    "LEDGER_TABLE": "ledger",
    "ACCOUNT_ID": "111122223333",
    "MANIFEST_BUCKET": "manifests",
    "REPORT_BUCKET": "reports",
    "BATCH_ROLE_ARN": "arn:aws:iam::111122223333:role/batch",
}


def test_remediate_is_gated_by_diagnosis_and_alerts_only_with_a_topic() -> None:
    remediation = build_remediation(RemediationSettings.model_validate(ENV))
    assert isinstance(remediation.gate, DiagnosisGate) and remediation.notifier is None
    setup = remediation.gate._setup
    assert (setup.batch_role_arn, setup.manifest_bucket, setup.report_bucket) == (
        "arn:aws:iam::111122223333:role/batch",
        "manifests",
        "reports",
    )
    topic = "arn:aws:sns:us-east-1:111122223333:alerts"
    with_topic = build_remediation(RemediationSettings.model_validate({**ENV, "ALERT_TOPIC_ARN": topic}))
    assert with_topic.notifier is not None
