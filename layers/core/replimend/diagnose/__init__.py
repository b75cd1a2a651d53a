"""Diagnosis: why replication from a source to a destination fails, and the command that fixes it.

``diagnose(reader, target)`` runs the checks of ``checks.REGISTRY`` (all, or those a failure
reason names: ``checks_for_reason``) against the live configuration read through the
``ports.ConfigReader`` port; each returns PASS / FAIL / WARN / SKIP with its evidence and, on FAIL,
the fix. The remediation gate (``remediate.gate.DiagnosisGate``) and ``replimend diagnose`` use it.
"""

from __future__ import annotations

from collections.abc import Iterable

from replimend.diagnose import rules
from replimend.diagnose.checks import REGISTRY, Check
from replimend.diagnose.facts import Facts
from replimend.diagnose.model import CheckResult, Diagnosis, Setup, Status, Target
from replimend.ports import ConfigReader
from replimend.reasons import reason_entry


def checks_for_reason(reason: str) -> tuple[str, ...]:
    """The checks the registry entry of ``reason`` names (the unknown entry's for unknown codes)."""
    return reason_entry(reason).checks


def diagnose(
    reader: ConfigReader, target: Target, setup: Setup | None = None, *, checks: Iterable[str] | None = None
) -> Diagnosis:
    """Run ``checks`` (every registered check when None) for ``target``, in registry order."""
    wanted = set(REGISTRY) if checks is None else set(checks)
    unknown = wanted - set(REGISTRY)
    if unknown:
        raise ValueError(f"unknown check(s): {', '.join(sorted(unknown))}")
    facts = Facts(reader, target, setup or Setup())
    return Diagnosis(target, tuple(check.run(facts) for name, check in REGISTRY.items() if name in wanted))


def destinations(reader: ConfigReader, source: str) -> list[str]:
    """The destination buckets of the source's replication rules (none without a configuration)."""
    return rules.destinations(reader.replication_configuration(source))


__all__ = [
    "REGISTRY",
    "Check",
    "CheckResult",
    "Diagnosis",
    "Setup",
    "Status",
    "Target",
    "checks_for_reason",
    "destinations",
    "diagnose",
]
