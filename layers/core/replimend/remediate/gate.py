"""The cause gate: a retry_after_fix failure is re-driven only once its cause is confirmed fixed.

A job for a cause that is still broken fails again, and S3 fails a whole job once half of its
first 1,000 tasks fail. ``replimend.ports.CauseGate`` is the port: the interim ``IncidentFlagGate`` trusts the
operator's "fixed" flag on the incident (``replimend incident fixed``); the diagnosis checks plug
in later behind the same protocol.
"""

from __future__ import annotations

from replimend.ports import CauseGate, GateDecision, RemediationLedger


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
            return GateDecision(True, f"marked fixed{who}{when}")
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
