"""IAM on the API: SimulatePrincipalPolicy answered through botocore hooks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from replimend_local import hooks
from replimend_local.iam.models import IamEvaluator

Decision = Literal["allowed", "explicitDeny", "implicitDeny"]
ContextValues = Mapping[str, Sequence[str]]


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

    def responders(self) -> dict[str, hooks.Responder]:
        """SimulatePrincipalPolicy answered from (api params, request context), as the hooks do."""
        return {"SimulatePrincipalPolicy": lambda params, _context: self.simulate_principal_policy(params)}

    def simulate_principal_policy(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return self.evaluator.simulate_principal_policy(params)

    def role_trusts(self, role_name_or_arn: str, service_principal: str) -> bool:
        return self.evaluator.role_trusts(role_name_or_arn, service_principal)
