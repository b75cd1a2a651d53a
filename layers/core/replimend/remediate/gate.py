"""The cause gate: a retry_after_fix failure is re-driven only once its cause is confirmed fixed.

A job for a cause that is still broken fails again, and S3 fails a whole job once half of its
first 1,000 tasks fail. ``replimend.ports.CauseGate`` is the port:

- ``DiagnosisGate`` (what remediate runs) diagnoses the incident with the checks its failure reason
  names in the registry (``reasons.REASONS[...].checks``, run by ``replimend.diagnose``): open when
  nothing FAILs and a check passed (``resolved_by: diagnosis``), else closed with the failing checks
  and their fixes. An operator's explicit override (``replimend incident fixed``) opens it too, for
  causes no check can see (``resolved_by: operator``); a cause neither sees is retried with backoff
  until given up, as before.
- ``IncidentFlagGate`` trusts only the operator's flag (kept for tests and benchmarks).
"""

from __future__ import annotations

from collections.abc import Iterable

from replimend.diagnose import Setup, Target, checks_for_reason, diagnose
from replimend.models import DIAGNOSIS_ACTOR
from replimend.observability import logger
from replimend.ports import CauseGate, ConfigReader, GateDecision, RemediationLedger


class DiagnosisGate:
    """Open when the incident's diagnosis passes, or an operator overrode it."""

    def __init__(self, ledger: RemediationLedger, reader: ConfigReader, setup: Setup | None = None) -> None:
        self._ledger = ledger
        self._reader = reader
        self._setup = setup or Setup()

    def is_fixed(self, source_bucket: str, destination_bucket: str, reason: str) -> GateDecision:
        incident = self._ledger.get_incident(source_bucket, destination_bucket, reason)
        if incident is not None and incident.fixed and incident.fixed_by != DIAGNOSIS_ACTOR:
            when = f" at {incident.fixed_at.isoformat()}" if incident.fixed_at else ""
            return GateDecision(
                True,
                f"operator override by {incident.fixed_by}{when} (not diagnosed)",
                resolved_by="operator",
            )
        return self.check_pair(source_bucket, destination_bucket, checks_for_reason(reason))

    def check_pair(self, source_bucket: str, destination_bucket: str, names: Iterable[str]) -> GateDecision:
        """Run ``checks`` for replication from source to destination: open when nothing FAILs and a
        check passed (backfill asks this of every destination before it starts a job)."""
        try:
            result = diagnose(
                self._reader, Target(source_bucket, destination_bucket), self._setup, checks=names
            )
        except Exception as exc:
            logger.exception("diagnosis failed", extra={"source": source_bucket, "checks": list(names)})
            return GateDecision(False, f"diagnosis could not run ({type(exc).__name__}: {exc}): held")
        checks = tuple(r.to_dict() for r in result.results)
        if result.passes:
            return GateDecision(True, f"diagnosis passes: {result.summary()}", checks, DIAGNOSIS_ACTOR)
        fixes = "; ".join(f"{r.name}: {(r.fix or '').splitlines()[0]}" for r in result.failed if r.fix)
        summary = f"diagnosis: {result.summary()}"
        if not result.failed:
            summary += " (no check could verify the cause)"
        return GateDecision(False, summary + (f" — fix: {fixes}" if fixes else ""), checks)


class IncidentFlagGate:
    """Open when an operator has marked the incident (source, destination, reason) fixed."""

    def __init__(self, ledger: RemediationLedger) -> None:
        self._ledger = ledger

    def is_fixed(self, source_bucket: str, destination_bucket: str, reason: str) -> GateDecision:
        incident = self._ledger.get_incident(source_bucket, destination_bucket, reason)
        if incident is None:
            return GateDecision(
                False,
                f"no incident for {reason} ({source_bucket} -> {destination_bucket}); fix the cause, then "
                f"`replimend incident fixed --source {source_bucket} --destination {destination_bucket} "
                f"--reason {reason}`",
            )
        if incident.fixed:
            who = f" by {incident.fixed_by}" if incident.fixed_by else ""
            when = f" at {incident.fixed_at.isoformat()}" if incident.fixed_at else ""
            return GateDecision(True, f"marked fixed{who}{when}", resolved_by="operator")
        return GateDecision(
            False,
            f"waiting for the cause of {reason} to be fixed; then `replimend incident fixed --source "
            f"{source_bucket} --destination {destination_bucket} --reason {reason}`",
        )


class CachedGate:
    """Ask the underlying gate once per (source, destination, reason) in a run."""

    def __init__(self, gate: CauseGate) -> None:
        self._gate = gate
        self._decisions: dict[tuple[str, str, str], GateDecision] = {}

    def is_fixed(self, source_bucket: str, destination_bucket: str, reason: str) -> GateDecision:
        key = (source_bucket, destination_bucket, reason)
        if key not in self._decisions:
            self._decisions[key] = self._gate.is_fixed(*key)
        return self._decisions[key]

    @property
    def decisions(self) -> dict[tuple[str, str, str], GateDecision]:
        return dict(self._decisions)
