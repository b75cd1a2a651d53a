"""IAM policy evaluation for the embedded AWS (moto implements neither SimulatePrincipalPolicy nor
SimulateCustomPolicy: both raise NotImplementedError).

The evaluator follows IAM's rules for one request: an explicit ``Deny`` in any policy wins, else any
``Allow`` allows, else the request is implicitly denied. ``Action``/``NotAction`` match
case-insensitively with ``*`` and ``?``; ``Resource``/``NotResource`` match case-sensitively with the
same wildcards; ``Principal``/``NotPrincipal`` are checked when a principal is given (resource and
trust policies). Conditions are evaluated against the context values supplied for the String*,
Arn*, Bool, Null and Numeric* operators (with ``...IfExists`` and ``ForAnyValue:``/``ForAllValues:``);
other operators (dates, IP addresses, binary) are *not evaluated*: the statement does not apply and
its keys are reported in ``missing_context_values``. Policy variables (``${aws:username}``) are not
substituted. Permissions boundaries are honoured; SCPs, RCPs and session policies do not exist in the
emulated account.

moto's own ``moto.iam.access_control.IAMPolicy`` was not used: it treats a Deny whose condition does
not match as a denial, allows an Allow whose condition fails to deny, ignores ``NotResource``
(a Deny with NotResource becomes an allow), matches actions case-sensitively, and cannot say which
statements matched (SimulatePrincipalPolicy's ``MatchedStatements``).

Policies are read from the emulated account through an un-hooked iam client
(:class:`IamEvaluator`), so the answers reflect what the account really holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import unquote

from botocore.exceptions import ClientError

from replimend_local import hooks

Decision = Literal["allowed", "explicitDeny", "implicitDeny"]
ContextValues = Mapping[str, Sequence[str]]


class PolicyDocumentError(ValueError):
    """A policy document that is not valid JSON or lacks a Statement."""


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


# --- reading the emulated account ---------------------------------------------------------------


class NoSuchRoleError(LookupError):
    def __init__(self, role: str) -> None:
        super().__init__(f"The role with name {role} cannot be found.")
        self.role = role


@dataclass(frozen=True)
class RolePolicies:
    arn: str
    identity: tuple[SourcedPolicy, ...]
    trust: SourcedPolicy
    boundary: SourcedPolicy | None


class IamEvaluator:
    """Evaluates the roles of the emulated account, read through an un-hooked iam client."""

    def __init__(self, iam_client: Any) -> None:
        self._iam = iam_client

    @classmethod
    def from_endpoint(cls, endpoint_url: str, region: str = "us-east-1") -> IamEvaluator:
        return cls(hooks.plain_session(region).client("iam", endpoint_url=endpoint_url, region_name=region))

    def _managed_policy(self, arn: str) -> SourcedPolicy:
        policy = self._iam.get_policy(PolicyArn=arn)["Policy"]
        version = self._iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
        policy_type = "aws-managed" if arn.startswith("arn:aws:iam::aws:") else "user-managed"
        document = parse_policy_document(version["PolicyVersion"]["Document"])
        return SourcedPolicy(policy["PolicyName"], policy_type, document)

    def role_policies(self, role_name_or_arn: str) -> RolePolicies:
        """The role's inline and attached managed policies, trust policy and permissions boundary."""
        name = role_name_from_arn(role_name_or_arn)
        try:
            role = self._iam.get_role(RoleName=name)["Role"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
                raise NoSuchRoleError(name) from error
            raise
        identity: list[SourcedPolicy] = []
        for page in self._iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy_name in page["PolicyNames"]:
                document = self._iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
                identity.append(SourcedPolicy(policy_name, "role", parse_policy_document(document)))
        for page in self._iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            identity.extend(self._managed_policy(p["PolicyArn"]) for p in page["AttachedPolicies"])
        boundary_arn = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        boundary = self._managed_policy(boundary_arn) if boundary_arn else None
        trust = SourcedPolicy(
            f"{name}-trust", "role", parse_policy_document(role["AssumeRolePolicyDocument"])
        )
        return RolePolicies(role["Arn"], tuple(identity), trust, boundary)

    def role_exists(self, role_name_or_arn: str) -> bool:
        try:
            self.role_policies(role_name_or_arn)
        except NoSuchRoleError:
            return False
        return True

    def role_trusts(
        self, role_name_or_arn: str, service_principal: str, *, context: ContextValues | None = None
    ) -> bool:
        """Whether ``service_principal`` (e.g. ``s3.amazonaws.com``) may assume the role
        (sts:AssumeRole allowed and not denied by the trust policy). False if the role is missing."""
        try:
            role = self.role_policies(role_name_or_arn)
        except NoSuchRoleError:
            return False
        return evaluate(
            [role.trust],
            "sts:AssumeRole",
            role.arn,
            principal=Principal.service(service_principal),
            context=context,
        ).allowed

    def role_allows(
        self,
        role_name_or_arn: str,
        action: str,
        resource: str,
        *,
        context: ContextValues | None = None,
    ) -> Evaluation:
        """The role's identity-based decision (with its permissions boundary) for one request."""
        role = self.role_policies(role_name_or_arn)
        return self._identity_decision(role.identity, role.boundary, action, resource, context)

    @staticmethod
    def _identity_decision(
        identity: Sequence[SourcedPolicy],
        boundary: SourcedPolicy | None,
        action: str,
        resource: str,
        context: ContextValues | None,
    ) -> Evaluation:
        decision = evaluate(identity, action, resource, context=context)
        if boundary is None or decision.decision == "explicitDeny":
            return decision
        bounded = evaluate([boundary], action, resource, context=context)
        if bounded.decision == "allowed":
            return decision
        return Evaluation(
            "explicitDeny" if bounded.decision == "explicitDeny" else "implicitDeny",
            bounded.matched_statements,
            tuple(dict.fromkeys(decision.missing_context_values + bounded.missing_context_values)),
        )

    def simulate_principal_policy(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """iam:SimulatePrincipalPolicy for a role of the emulated account, in the API's response shape.

        Raises hooks.EmulatedError (NoSuchEntity, InvalidInput, MalformedPolicyDocument) as IAM would.
        """
        source_arn = str(params["PolicySourceArn"])
        if ":role/" not in source_arn:
            raise hooks.EmulatedError(
                "InvalidInput", f"the embedded IAM simulates roles only, not {source_arn}", 400
            )
        try:
            role = self.role_policies(source_arn)
        except NoSuchRoleError as error:
            raise hooks.EmulatedError("NoSuchEntity", str(error), 404) from error
        excluded = set(params.get("PolicyExclusionList") or [])
        identity = [p for p in role.identity if p.policy_id not in excluded]
        try:
            identity += [
                SourcedPolicy(f"PolicyInputList.{n}", "none", parse_policy_document(doc))
                for n, doc in enumerate(params.get("PolicyInputList") or [], start=1)
            ]
            boundary = role.boundary
            boundary_inputs = params.get("PermissionsBoundaryPolicyInputList") or []
            if boundary_inputs:
                boundary = SourcedPolicy(
                    "PermissionsBoundaryPolicyInputList.1", "none", parse_policy_document(boundary_inputs[0])
                )
            resource_policy = (
                SourcedPolicy("ResourcePolicy", "resource", parse_policy_document(params["ResourcePolicy"]))
                if params.get("ResourcePolicy")
                else None
            )
        except PolicyDocumentError as error:
            raise hooks.EmulatedError("MalformedPolicyDocument", str(error), 400) from error
        context: dict[str, list[str]] = {
            entry["ContextKeyName"]: [str(v) for v in entry.get("ContextKeyValues", [])]
            for entry in params.get("ContextEntries") or []
        }
        results = []
        for action in params["ActionNames"]:
            for resource in params.get("ResourceArns") or ["*"]:
                results.append(
                    self._simulate_one(
                        identity=identity,
                        boundary=boundary,
                        resource_policy=resource_policy,
                        role_arn=role.arn,
                        action=action,
                        resource=resource,
                        context=context,
                    )
                )
        return _paginate(results, params.get("MaxItems"), params.get("Marker"))

    def _simulate_one(
        self,
        *,
        identity: Sequence[SourcedPolicy],
        boundary: SourcedPolicy | None,
        resource_policy: SourcedPolicy | None,
        role_arn: str,
        action: str,
        resource: str,
        context: ContextValues,
    ) -> dict[str, Any]:
        decision = self._identity_decision(identity, None, action, resource, context)
        if resource_policy is not None and decision.decision != "explicitDeny":
            by_resource = evaluate(
                [resource_policy], action, resource, principal=Principal.aws(role_arn), context=context
            )
            if by_resource.decision == "explicitDeny" or (
                by_resource.decision == "allowed" and decision.decision == "implicitDeny"
            ):
                decision = by_resource
        result: dict[str, Any] = {"EvalActionName": action, "EvalResourceName": resource}
        if boundary is not None:
            bounded = evaluate([boundary], action, resource, context=context)
            result["PermissionsBoundaryDecisionDetail"] = {
                "AllowedByPermissionsBoundary": bounded.decision == "allowed"
            }
            if decision.decision == "allowed" and bounded.decision != "allowed":
                decision = Evaluation(
                    "explicitDeny" if bounded.decision == "explicitDeny" else "implicitDeny",
                    bounded.matched_statements,
                    decision.missing_context_values + bounded.missing_context_values,
                )
        result["EvalDecision"] = decision.decision
        result["MatchedStatements"] = [m.as_simulation() for m in decision.matched_statements]
        result["MissingContextValues"] = list(dict.fromkeys(decision.missing_context_values))
        return result


def _paginate(results: list[dict[str, Any]], max_items: Any, marker: Any) -> dict[str, Any]:
    start = int(marker) if marker else 0
    if not max_items:
        return {"EvaluationResults": results[start:], "IsTruncated": False}
    end = start + int(max_items)
    page: dict[str, Any] = {"EvaluationResults": results[start:end], "IsTruncated": end < len(results)}
    if end < len(results):
        page["Marker"] = str(end)
    return page


def simulation_hooks(evaluator: IamEvaluator) -> list[hooks.Hook]:
    """Hooks answering ``iam.simulate_principal_policy`` from the emulated account's policies."""
    return hooks.emulated_operation(
        "iam", "SimulatePrincipalPolicy", lambda params, _context: evaluator.simulate_principal_policy(params)
    )


class IamSimulator:
    """The embedded AWS's IAM policy simulation: ``handlers()`` answer SimulatePrincipalPolicy for
    every hooked boto3 client from the moto server's roles and policies."""

    def __init__(
        self, endpoint_url: str, region: str = "us-east-1", account_id: str = "123456789012"
    ) -> None:
        self.account_id = account_id
        self.evaluator = IamEvaluator.from_endpoint(endpoint_url, region)

    def handlers(self) -> list[hooks.Hook]:
        return simulation_hooks(self.evaluator)

    def simulate_principal_policy(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return self.evaluator.simulate_principal_policy(params)

    def role_trusts(self, role_name_or_arn: str, service_principal: str) -> bool:
        return self.evaluator.role_trusts(role_name_or_arn, service_principal)
