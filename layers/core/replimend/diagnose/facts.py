"""``Facts``: the reads of one diagnosis, each made once (checks share them) through the
``ConfigReader`` port. A read that raised is remembered and raised again to every check that needs it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from replimend.diagnose import rules
from replimend.diagnose.model import Setup, Target
from replimend.errors import ReplimendError
from replimend.ports import ConfigReader, KeyInfo, RoleInfo, Simulated, SimulationRequest

T = TypeVar("T")


class Facts:
    def __init__(self, reader: ConfigReader, target: Target, setup: Setup) -> None:
        self.reader = reader
        self.target = target
        self.setup = setup
        self._cache: dict[tuple[Any, ...], Any] = {}

    def _once(self, key: tuple[Any, ...], read: Callable[[], T]) -> T:
        if key not in self._cache:
            try:
                self._cache[key] = (True, read())
            except ReplimendError as exc:
                self._cache[key] = (False, exc)
        ok, value = self._cache[key]
        if not ok:
            raise value
        return value

    # ---- buckets ------------------------------------------------------------------------------
    def region(self, bucket: str) -> str:
        return self._once(("region", bucket), lambda: self.reader.bucket_region(bucket))

    def versioning(self, bucket: str) -> str | None:
        return self._once(("versioning", bucket), lambda: self.reader.bucket_versioning(bucket))

    def object_lock(self, bucket: str) -> bool:
        return self._once(("lock", bucket), lambda: self.reader.object_lock_enabled(bucket))

    def ownership(self, bucket: str) -> str | None:
        return self._once(("ownership", bucket), lambda: self.reader.object_ownership(bucket))

    def notifications(self, bucket: str) -> dict[str, Any]:
        return self._once(("notifications", bucket), lambda: self.reader.notification_configuration(bucket))

    def inventories(self, bucket: str) -> list[dict[str, Any]]:
        return self._once(("inventories", bucket), lambda: self.reader.inventory_configurations(bucket))

    def bucket_policy(self, bucket: str) -> str | None:
        return self._once(("policy", bucket), lambda: self.reader.bucket_policy(bucket))

    # ---- the replication configuration ------------------------------------------------------
    def config(self) -> dict[str, Any] | None:
        source = self.target.source
        return self._once(("replication", source), lambda: self.reader.replication_configuration(source))

    def rules(self) -> list[dict[str, Any]]:
        """The rules for the target's destination, highest priority first."""
        return rules.rules_for(self.config(), self.target.destination_arn)

    def enabled_rules(self) -> list[dict[str, Any]]:
        return [r for r in self.rules() if r.get("Status") == "Enabled"]

    def rule(self) -> dict[str, Any] | None:
        """The rule S3 replicates to the destination by: the object's winning rule when a key is
        given, else the enabled rule of highest priority."""
        candidates = self.enabled_rules()
        if self.target.key is not None and candidates:
            head = self.head()
            kms = str(head.get("ServerSideEncryption", "")).startswith("aws:kms")
            candidates = [
                r for r in candidates if rules.matches(r, self.target.key, self.tags(), kms=kms) is None
            ]
        return candidates[0] if candidates else None

    def role_arn(self) -> str | None:
        config = self.config()
        return str(config["Role"]) if config and config.get("Role") else None

    def source_account(self) -> str | None:
        arn = self.role_arn()
        return arn.split(":")[4] if arn and arn.count(":") >= 5 else None

    def destination_account(self, rule: dict[str, Any] | None) -> str | None:
        account = ((rule or {}).get("Destination") or {}).get("Account")
        return str(account) if account else self.source_account()

    def cross_account(self, rule: dict[str, Any] | None) -> bool:
        return self.destination_account(rule) != self.source_account()

    # ---- the object ---------------------------------------------------------------------------
    def head(self) -> dict[str, Any]:
        target = self.target
        assert target.key is not None
        return self._once(
            ("head", target.key, target.version_id),
            lambda: self.reader.head_object(target.source, target.key or "", target.version_id),
        )

    def tags(self) -> dict[str, str]:
        target = self.target
        return self._once(
            ("tags", target.key, target.version_id),
            lambda: self.reader.object_tags(target.source, target.key or "", target.version_id),
        )

    # ---- IAM and KMS --------------------------------------------------------------------------
    def role(self, arn: str) -> RoleInfo:
        return self._once(("role", arn), lambda: self.reader.role(arn))

    def simulate(self, request: SimulationRequest) -> list[Simulated]:
        return self._once(("simulate", request), lambda: self.reader.simulate(request))

    def key(self, key_id: str, region: str) -> KeyInfo:
        return self._once(("key", key_id, region), lambda: self.reader.describe_key(key_id, region))

    def key_policy(self, key: KeyInfo) -> dict[str, Any]:
        return self._once(
            ("key_policy", key.arn), lambda: json.loads(self.reader.key_policy(key.arn, key.region))
        )
