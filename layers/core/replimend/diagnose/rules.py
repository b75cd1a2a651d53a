"""Pure replication-configuration logic: which rule serves a destination, whether an object matches a
rule's filter, which rule wins, what a trust or key policy names. No AWS calls.

- Filter: a rule has the legacy top-level ``Prefix`` or a ``Filter`` with exactly one of ``Prefix``,
  ``Tag`` or ``And`` {``Prefix``, ``Tags``}; an object matches when its key starts with the prefix
  and it carries every tag (botocore s3 model: ``ReplicationRuleFilter``, ``ReplicationRuleAndOperator``;
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-add-config.html).
- Priority: of two or more rules for the same destination, S3 replicates by the one with the highest
  ``Priority`` (botocore s3 model: ``ReplicationRule.Priority``).
- SSE-KMS objects are replicated only by rules whose ``SourceSelectionCriteria.SseKmsEncryptedObjects``
  is Enabled (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any


def destination_arn(rule: Mapping[str, Any]) -> str:
    return str((rule.get("Destination") or {}).get("Bucket", ""))


def rules_for(config: Mapping[str, Any] | None, destination_arn_: str) -> list[dict[str, Any]]:
    """The rules whose destination is ``destination_arn_``, highest priority first."""
    rules = [dict(r) for r in (config or {}).get("Rules", []) if destination_arn(r) == destination_arn_]
    return sorted(rules, key=lambda r: -int(r.get("Priority", 0) or 0))


def destinations(config: Mapping[str, Any] | None) -> list[str]:
    """Destination bucket names of a configuration, in rule order, once each."""
    names = [destination_arn(r).removeprefix("arn:aws:s3:::") for r in (config or {}).get("Rules", [])]
    return list(dict.fromkeys(n for n in names if n))


def rule_selects_kms(rule: Mapping[str, Any]) -> bool:
    criteria = (rule.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects") or {}
    return criteria.get("Status") == "Enabled"


def rule_filter(rule: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The rule's (prefix, tags)."""
    if "Filter" not in rule:
        return str(rule.get("Prefix", "") or ""), {}
    filt = rule.get("Filter") or {}
    if "And" in filt:
        conjunction = filt["And"] or {}
        tags = {str(t["Key"]): str(t["Value"]) for t in conjunction.get("Tags", [])}
        return str(conjunction.get("Prefix", "") or ""), tags
    if "Tag" in filt:
        return "", {str(filt["Tag"]["Key"]): str(filt["Tag"]["Value"])}
    return str(filt.get("Prefix", "") or ""), {}


def describe_filter(rule: Mapping[str, Any]) -> str:
    prefix, tags = rule_filter(rule)
    parts = [f"prefix {prefix!r}" if prefix else "every key"]
    parts += [f"tag {k}={v}" for k, v in sorted(tags.items())]
    return " and ".join(parts)


def matches(rule: Mapping[str, Any], key: str, tags: Mapping[str, str], *, kms: bool) -> str | None:
    """None when the rule applies to the object, else why not."""
    prefix, wanted = rule_filter(rule)
    if not key.startswith(prefix):
        return f"key does not start with {prefix!r}"
    missing = {k: v for k, v in wanted.items() if tags.get(k) != v}
    if missing:
        return "object lacks tag(s) " + ", ".join(f"{k}={v}" for k, v in sorted(missing.items()))
    if kms and not rule_selects_kms(rule):
        return "object is SSE-KMS encrypted and the rule does not select SseKmsEncryptedObjects"
    return None


# ---- policy documents ---------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def _action_covers(patterns: Sequence[Any], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), str(p).lower()) for p in patterns)


def trusted_services(trust_policy: Mapping[str, Any]) -> set[str]:
    """Service principals an Allow sts:AssumeRole statement names (conditions not evaluated)."""
    services: set[str] = set()
    for statement in statements(trust_policy):
        if statement.get("Effect") != "Allow" or not _action_covers(
            _as_list(statement.get("Action")), "sts:AssumeRole"
        ):
            continue
        principal = statement.get("Principal") or {}
        if isinstance(principal, Mapping):
            services.update(str(s) for s in _as_list(principal.get("Service")))
    return services


def trust_conditions(trust_policy: Mapping[str, Any]) -> list[str]:
    return sorted(
        {
            str(key)
            for s in statements(trust_policy)
            for cond in (s.get("Condition") or {}).values()
            for key in cond
        }
    )


def key_policy_grants(key_policy: Mapping[str, Any], role_arn: str, action: str) -> str | None:
    """How a KMS key policy lets ``role_arn`` do ``action``: "role" (names it), "account" (the
    account root: IAM policies then decide), or None. Conditions are not evaluated.

    A key policy must allow the principal, directly or through the account, or no IAM policy can
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam).
    """
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    found: str | None = None
    for statement in statements(key_policy):
        if statement.get("Effect") != "Allow" or not _action_covers(
            _as_list(statement.get("Action")), action
        ):
            continue
        principal = statement.get("Principal")
        values = (
            ["*"]
            if principal == "*"
            else [str(v) for v in _as_list((principal or {}).get("AWS"))]
            if isinstance(principal, Mapping)
            else []
        )
        for value in values:
            if value in (role_arn, "*"):
                return "role"
            if value in (account, f"arn:aws:iam::{account}:root"):
                found = "account"
    return found
