"""The emulated account's IAM, read from the moto server: roles, their trust and permission
policies, and the decisions IAM would take for them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from replimend_local import hooks
from replimend_local.iam.exceptions import NoSuchRoleError, PolicyDocumentError
from replimend_local.iam.policy import (
    Evaluation,
    Principal,
    SourcedPolicy,
    evaluate,
    parse_policy_document,
    role_name_from_arn,
)

Decision = Literal["allowed", "explicitDeny", "implicitDeny"]
ContextValues = Mapping[str, Sequence[str]]


# --- reading the emulated account ---------------------------------------------------------------


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
