"""The IAM policy language: documents, principals, actions and resources, conditions, and the
evaluation of a set of policies for one request (explicit deny, allow, implicit deny)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import unquote

from replimend_local.iam.exceptions import PolicyDocumentError

Decision = Literal["allowed", "explicitDeny", "implicitDeny"]
ContextValues = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Principal:
    """Who makes the request: kind is ``AWS``, ``Service``, ``Federated`` or ``CanonicalUser``."""

    kind: str
    value: str

    @classmethod
    def service(cls, name: str) -> Principal:
        return cls("Service", name)

    @classmethod
    def aws(cls, arn: str) -> Principal:
        return cls("AWS", arn)


@dataclass(frozen=True)
class SourcedPolicy:
    """A policy document and where it came from, as SimulatePrincipalPolicy names it."""

    policy_id: str
    policy_type: str  # user | group | role | aws-managed | user-managed | resource | none
    document: Mapping[str, Any]

    def statements(self) -> list[Mapping[str, Any]]:
        statement = self.document.get("Statement")
        if statement is None:
            raise PolicyDocumentError(f"policy {self.policy_id} has no Statement")
        return [statement] if isinstance(statement, Mapping) else list(statement)


@dataclass(frozen=True)
class MatchedStatement:
    policy_id: str
    policy_type: str
    index: int
    effect: str
    sid: str | None

    def as_simulation(self) -> dict[str, Any]:
        return {"SourcePolicyId": self.policy_id, "SourcePolicyType": self.policy_type}


@dataclass(frozen=True)
class Evaluation:
    decision: Decision
    matched_statements: tuple[MatchedStatement, ...] = ()
    missing_context_values: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


def parse_policy_document(document: str | Mapping[str, Any]) -> dict[str, Any]:
    """A policy document as a dict, from JSON text (URL-encoded or not) or an already decoded dict."""
    if isinstance(document, Mapping):
        return dict(document)
    text = document.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = unquote(text)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise PolicyDocumentError(f"policy document is not valid JSON: {error}") from error
    if not isinstance(parsed, dict) or "Statement" not in parsed:
        raise PolicyDocumentError("policy document must be a JSON object with a Statement")
    return parsed


@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: ``*`` any run of characters (``:`` and ``/`` included), ``?`` one."""
    return _wildcard_regex(pattern, ignore_case).match(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    return wildcard_match(pattern, action, ignore_case=True)


def resource_matches(pattern: str, resource: str) -> bool:
    return wildcard_match(pattern, resource)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else None


def _principal_value_matches(kind: str, value: str, principal: Principal) -> bool:
    if kind != principal.kind:
        return False
    if value == "*":
        return True
    if kind != "AWS":
        return value.lower() == principal.value.lower()
    if value == principal.value:
        return True
    # An account id or its root ARN names every principal of that account.
    account = principal.value if principal.value.isdigit() else _account_of(principal.value)
    return value in (account, f"arn:aws:iam::{account}:root")


def _principal_element_matches(element: Any, principal: Principal) -> bool:
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    return any(
        _principal_value_matches(kind, str(value), principal)
        for kind, values in element.items()
        for value in _as_list(values)
    )


# --- conditions -------------------------------------------------------------------------------


def _string_compare(ignore_case: bool, like: bool) -> Callable[[str, str], bool]:
    def compare(context_value: str, policy_value: str) -> bool:
        if like:
            return wildcard_match(policy_value, context_value, ignore_case=ignore_case)
        if ignore_case:
            return context_value.lower() == policy_value.lower()
        return context_value == policy_value

    return compare


def _numeric_compare(op: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def compare(context_value: str, policy_value: str) -> bool:
        try:
            return op(float(context_value), float(policy_value))
        except ValueError:
            return False

    return compare


def _bool_compare(context_value: str, policy_value: str) -> bool:
    return context_value.lower() == str(policy_value).lower()


_POSITIVE_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": _string_compare(False, False),
    "StringEqualsIgnoreCase": _string_compare(True, False),
    "StringLike": _string_compare(False, True),
    "ArnEquals": _string_compare(False, True),
    "ArnLike": _string_compare(False, True),
    "Bool": _bool_compare,
    "NumericEquals": _numeric_compare(lambda a, b: a == b),
    "NumericLessThan": _numeric_compare(lambda a, b: a < b),
    "NumericLessThanEquals": _numeric_compare(lambda a, b: a <= b),
    "NumericGreaterThan": _numeric_compare(lambda a, b: a > b),
    "NumericGreaterThanEquals": _numeric_compare(lambda a, b: a >= b),
}
_NEGATED_OPERATORS: dict[str, str] = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


@dataclass
class _ConditionResult:
    holds: bool = True
    missing: list[str] = field(default_factory=list)


def _evaluate_conditions(conditions: Mapping[str, Any], context: ContextValues) -> _ConditionResult:
    lowered = {key.lower(): [str(v) for v in values] for key, values in context.items()}
    result = _ConditionResult()
    for raw_operator, block in conditions.items():
        if not isinstance(block, Mapping):
            result.holds = False
            continue
        qualifier, _, operator = raw_operator.rpartition(":")
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        for key, policy_values in block.items():
            wanted = [str(v) for v in _as_list(policy_values)]
            actual = lowered.get(key.lower())
            if not _condition_holds(qualifier, base, if_exists, wanted, actual):
                result.holds = False
            if actual is None and not if_exists and base != "Null":
                result.missing.append(key)
    return result


def _condition_holds(
    qualifier: str, operator: str, if_exists: bool, wanted: list[str], actual: list[str] | None
) -> bool:
    if operator == "Null":
        is_null = actual is None
        return any((value.lower() == "true") == is_null for value in wanted)
    negated = operator in _NEGATED_OPERATORS
    compare = _POSITIVE_OPERATORS.get(_NEGATED_OPERATORS.get(operator, operator))
    if compare is None:
        return False  # operator not evaluated by this emulator: the statement does not apply
    if actual is None:
        if if_exists:
            return True
        return qualifier == "ForAllValues" or negated

    def one_matches(value: str) -> bool:
        return any(compare(value, w) for w in wanted)

    if qualifier == "ForAllValues":
        matches = all(one_matches(v) for v in actual)
        return all(not one_matches(v) for v in actual) if negated else matches
    matched_any = any(one_matches(v) for v in actual)
    return not matched_any if negated else matched_any


# --- statements and policies ------------------------------------------------------------------


def _statement_applies(
    statement: Mapping[str, Any],
    *,
    action: str,
    resource: str,
    principal: Principal | None,
    context: ContextValues,
    missing: list[str],
) -> bool:
    if "NotAction" in statement:
        if any(action_matches(p, action) for p in _as_list(statement["NotAction"])):
            return False
    elif not any(action_matches(p, action) for p in _as_list(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        if any(resource_matches(p, resource) for p in _as_list(statement["NotResource"])):
            return False
    elif "Resource" in statement and not any(
        resource_matches(p, resource) for p in _as_list(statement["Resource"])
    ):
        return False
    if principal is not None:
        if "NotPrincipal" in statement:
            if _principal_element_matches(statement["NotPrincipal"], principal):
                return False
        elif not _principal_element_matches(statement.get("Principal"), principal):
            return False
    if statement.get("Condition"):
        outcome = _evaluate_conditions(statement["Condition"], context)
        missing.extend(k for k in outcome.missing if k not in missing)
        return outcome.holds
    return True


def evaluate(
    policies: Iterable[SourcedPolicy],
    action: str,
    resource: str = "*",
    *,
    principal: Principal | None = None,
    context: ContextValues | None = None,
) -> Evaluation:
    """Evaluate one request against ``policies``: explicit Deny > Allow > implicit deny.

    ``principal`` is only checked when given (resource-based and trust policies carry Principal).
    """
    context = context or {}
    denies: list[MatchedStatement] = []
    allows: list[MatchedStatement] = []
    missing: list[str] = []
    for policy in policies:
        for index, statement in enumerate(policy.statements()):
            if not _statement_applies(
                statement,
                action=action,
                resource=resource,
                principal=principal,
                context=context,
                missing=missing,
            ):
                continue
            effect = str(statement.get("Effect", ""))
            match = MatchedStatement(
                policy.policy_id, policy.policy_type, index, effect, statement.get("Sid")
            )
            if effect == "Deny":
                denies.append(match)
            elif effect == "Allow":
                allows.append(match)
    if denies:
        return Evaluation("explicitDeny", tuple(denies), tuple(missing))
    if allows:
        return Evaluation("allowed", tuple(allows), tuple(missing))
    return Evaluation("implicitDeny", (), tuple(missing))


def role_name_from_arn(role_name_or_arn: str) -> str:
    """``arn:aws:iam::123456789012:role/path/name`` → ``name``; a bare name is returned as is."""
    if role_name_or_arn.startswith("arn:"):
        resource = role_name_or_arn.split(":", 5)[-1]
        if not resource.startswith("role/"):
            raise ValueError(f"{role_name_or_arn} is not an IAM role ARN")
        return resource.rsplit("/", 1)[-1]
    return role_name_or_arn
