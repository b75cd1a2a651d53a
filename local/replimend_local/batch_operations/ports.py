"""What a Batch Operations job needs from the other emulators (replication, IAM), and the default
IAM decisions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal, Protocol

logger = logging.getLogger(__name__)

# --- ports ---------------------------------------------------------------------------------------


class ReplicationOutcomeLike(Protocol):
    @property
    def destination_bucket(self) -> str: ...
    @property
    def rule_id(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def failure_reason(self) -> str | None: ...


class ReplicationEnginePort(Protocol):
    """What the emulator needs of the replication engine (replimend_local.s3_replication)."""

    def replicate_version(
        self, source_bucket: str, key: str, version_id: str, *, trigger: Literal["live", "batch"] = ...
    ) -> Sequence[ReplicationOutcomeLike]: ...

    def replication_status(self, bucket: str, key: str, version_id: str) -> str | None: ...


class RoleAuthority(Protocol):
    """What the emulator needs of IAM: whether a service may assume a role, and what the role may do."""

    def assume_role_problem(self, role_arn: str, service_principal: str) -> str | None:
        """None when ``service_principal`` can assume ``role_arn``; otherwise why it cannot."""
        ...

    def is_allowed(self, role_arn: str, action: str, resource: str) -> bool: ...


# --- default IAM decisions -----------------------------------------------------------------------


class IamEvalRoleAuthority:
    """:class:`RoleAuthority` over the moto server's IAM, decided by replimend_local.iam.

    ``cached()`` gives a view that reads each role's policies once: a job step (up to thousands of
    tasks) then costs one IAM read per role instead of one per task.
    """

    def __init__(self, evaluator: Any, account_id: str) -> None:
        self._evaluator = evaluator
        self._account_id = account_id

    def cached(self) -> IamEvalRoleAuthority:
        from replimend_local.iam import IamEvaluator, RolePolicies

        source = self._evaluator

        class _Snapshot(IamEvaluator):
            """Reads go through ``source``; each role's policies (or its absence) are read once."""

            def __init__(self) -> None:
                super().__init__(None)
                self._roles: dict[str, RolePolicies | LookupError] = {}

            def role_policies(self, role_name_or_arn: str) -> RolePolicies:
                if role_name_or_arn not in self._roles:
                    try:
                        self._roles[role_name_or_arn] = source.role_policies(role_name_or_arn)
                    except LookupError as missing:
                        self._roles[role_name_or_arn] = missing
                known = self._roles[role_name_or_arn]
                if isinstance(known, LookupError):
                    raise known
                return known

        return IamEvalRoleAuthority(_Snapshot(), self._account_id)

    def assume_role_problem(self, role_arn: str, service_principal: str) -> str | None:
        if not self._evaluator.role_exists(role_arn):
            return "the role does not exist"
        # S3 assumes a job role with the job's account as aws:SourceAccount: trust policies with the
        # usual confused-deputy condition must see it.
        context = {"aws:SourceAccount": [self._account_id]}
        if not self._evaluator.role_trusts(role_arn, service_principal, context=context):
            return f"its trust policy does not allow {service_principal} to call sts:AssumeRole"
        return None

    def is_allowed(self, role_arn: str, action: str, resource: str) -> bool:
        from replimend_local.iam import NoSuchRoleError

        try:
            return bool(self._evaluator.role_allows(role_arn, action, resource).allowed)
        except NoSuchRoleError:
            return False
