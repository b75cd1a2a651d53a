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

from replimend_local.iam.exceptions import NoSuchRoleError, PolicyDocumentError
from replimend_local.iam.models import IamEvaluator, RolePolicies
from replimend_local.iam.policy import (
    Evaluation,
    MatchedStatement,
    Principal,
    SourcedPolicy,
    action_matches,
    evaluate,
    parse_policy_document,
    resource_matches,
    role_name_from_arn,
    wildcard_match,
)
from replimend_local.iam.responses import IamSimulator, simulation_hooks

__all__ = [
    "Evaluation",
    "IamEvaluator",
    "IamSimulator",
    "MatchedStatement",
    "NoSuchRoleError",
    "PolicyDocumentError",
    "Principal",
    "RolePolicies",
    "SourcedPolicy",
    "action_matches",
    "evaluate",
    "parse_policy_document",
    "resource_matches",
    "role_name_from_arn",
    "simulation_hooks",
    "wildcard_match",
]
