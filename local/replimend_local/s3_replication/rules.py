"""Which rules apply to a version, whether a notification wants the failure event, and how a
stored configuration relates to moto's view of it."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from replimend_local.iam import Evaluation, SourcedPolicy
from replimend_local.s3_replication.models import (
    _REPLICATION_EVENT_WILDCARDS,
    FAILED_REPLICATION_EVENT,
    ApplicableRule,
    SourceVersion,
)
from replimend_local.s3_rules import bucket_name, rule_filter_matches

logger = logging.getLogger(__name__)


def _destinations(configuration: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        (str(r.get("Status")), str(r.get("Destination", {}).get("Bucket")))
        for r in configuration.get("Rules", [])
    ]


def _same_configuration(stored: Mapping[str, Any], moto_view: Mapping[str, Any]) -> bool:
    """Whether the stored configuration is still the one moto holds (moto's view keeps the role,
    the rules' order, status and destinations)."""
    return stored.get("Role") == moto_view.get("Role") and _destinations(stored) == _destinations(moto_view)


def _with_moto_ids(stored: Mapping[str, Any], moto_view: Mapping[str, Any]) -> dict[str, Any]:
    """The stored configuration with the rule ids S3 (moto) assigned where the caller gave none."""
    configuration = json.loads(json.dumps(stored))
    for rule, moto_rule in zip(configuration.get("Rules", []), moto_view.get("Rules", []), strict=False):
        if not rule.get("ID") and moto_rule.get("ID"):
            rule["ID"] = moto_rule["ID"]
    return dict(configuration)


def _eligible_rules(
    configuration: Mapping[str, Any], key: str, version: SourceVersion
) -> list[ApplicableRule]:
    best: dict[str, ApplicableRule] = {}
    order: list[str] = []
    for rule in configuration.get("Rules", []):
        if rule.get("Status") != "Enabled" or not rule_filter_matches(rule, key, lambda: version.tags):
            continue
        if version.is_kms_encrypted:
            criteria = (rule.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects") or {}
            if criteria.get("Status") != "Enabled":
                continue  # SSE-KMS objects replicate only for rules that opt in
        if version.head.get("SSECustomerAlgorithm"):
            continue  # SSE-C objects replicate only with Batch Replication opt-in; not emulated
        destination_arn = str(rule.get("Destination", {}).get("Bucket", ""))
        candidate = ApplicableRule(
            rule_id=rule.get("ID"),
            priority=int(rule.get("Priority") or 0),
            destination_bucket=bucket_name(destination_arn),
            destination_arn=destination_arn,
            rule=rule,
        )
        current = best.get(destination_arn)
        if current is None:
            order.append(destination_arn)
            best[destination_arn] = candidate
        elif candidate.priority > current.priority:
            best[destination_arn] = candidate
    return [best[arn] for arn in order]


def _wants_failure_event(config: Mapping[str, Any], key: str) -> bool:
    events = config.get("Events", [])
    if FAILED_REPLICATION_EVENT not in events and not any(e in events for e in _REPLICATION_EVENT_WILDCARDS):
        return False
    rules = ((config.get("Filter") or {}).get("Key") or {}).get("FilterRules", [])
    for filter_rule in rules:
        name, value = str(filter_rule.get("Name", "")).lower(), str(filter_rule.get("Value", ""))
        if name == "prefix" and not key.startswith(value):
            return False
        if name == "suffix" and not key.endswith(value):
            return False
    return True


def _names_principal_directly(policy: SourcedPolicy, decision: Evaluation, principal_arn: str) -> bool:
    """Whether an allowing statement names the principal itself (or everyone), not just its account."""
    statements = policy.statements()
    for match in decision.matched_statements:
        element = statements[match.index].get("Principal")
        if element == "*":
            return True
        if isinstance(element, Mapping):
            values = element.get("AWS", [])
            values = values if isinstance(values, list) else [values]
            if principal_arn in values or "*" in values:
                return True
    return False
