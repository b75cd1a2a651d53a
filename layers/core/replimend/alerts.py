"""Incident alerts: what a remediation pass tells people, one message per incident event, never one
per failure.

- a new incident (diagnosed for the first time), with its failing checks and their fixes;
- a state change: its cause diagnosed fixed (resolved by diagnosis), or broken again after it was;
- objects given up (attempts exhausted) or escalated (no job can help), once per pair per pass;
- objects stuck PENDING (backfill reads them from S3 Inventory), once when that incident opens.

Pure: remediate (incidents, objects given up or escalated in a pass) and track_jobs (objects given
up when a job's report fails them for the last time) hand the messages to a ``ports.Notifier`` (an
SNS topic in AWS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from replimend.models import Incident
from replimend.ports import GateDecision

#: SNS limits: a subject of at most 100 printable ASCII characters, a message under 256 KB.
MAX_SUBJECT = 100
MAX_MESSAGE = 200_000


@dataclass(frozen=True, slots=True)
class Alert:
    subject: str
    message: str


def _subject(text: str) -> str:
    ascii_only = text.encode("ascii", "replace").decode()
    return ascii_only if len(ascii_only) <= MAX_SUBJECT else ascii_only[: MAX_SUBJECT - 3] + "..."


def _failing(checks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [c for c in checks if c.get("status") == "FAIL"]


def _checks_text(checks: Sequence[Mapping[str, Any]]) -> str:
    failing = _failing(checks)
    if not failing:
        return "No check fails."
    lines = ["Failing checks and their fixes:"]
    for check in failing:
        lines.append(f"- {check.get('name')}: {check.get('evidence')}")
        lines.extend(f"    {line}" for line in str(check.get("fix") or "").splitlines())
    return "\n".join(lines)


def incident_alert(
    before: Incident | None, decision: GateDecision, source: str, destination: str, reason: str
) -> Alert | None:
    """The alert for one incident's diagnosis in this pass, or None when nothing changed.

    ``before`` is the incident as it was before this pass recorded the decision."""
    if decision.resolved_by == "operator":
        return None  # an operator's own override: they know
    pair = f"{source} -> {destination}"
    count = f"{before.object_count} object(s)" if before is not None else "objects"
    since = f" since {before.opened_at.isoformat()}" if before is not None else ""
    held_before = before is not None and bool(_failing(before.last_checks))
    diagnosed_before = before is not None and before.last_diagnosis is not None
    if decision.fixed:
        if diagnosed_before and not held_before and before is not None and before.last_checks:
            return None  # it already passed last time
        return Alert(
            _subject(f"replimend: {reason} resolved by diagnosis ({source})"),
            f"The cause of {reason} failures from {pair} is fixed: its checks pass. {count} failed{since} "
            f"and are re-driven with S3 Batch Replication in this pass.\n\n{decision.summary}",
        )
    if not _failing(decision.checks):
        return None  # held because nothing could be verified (WARN): the summary says so; no news
    if diagnosed_before and held_before:
        return None  # still broken, as last time
    what = "New incident" if not diagnosed_before else "Broken again"
    return Alert(
        _subject(f"replimend: {what.lower()}: {reason} ({source})"),
        f"{what}: {count} failed to replicate from {pair} with {reason}{since}. They are held (BLOCKED) "
        f"until the checks below pass; replimend re-drives them by itself on the first pass after the "
        f"fix.\n\n{_checks_text(decision.checks)}"[:MAX_MESSAGE],
    )


def pair_alert(source: str, destination: str, *, gave_up: int, escalated: int) -> Alert | None:
    """Objects of one pair that need a person after this pass, in one message."""
    if not gave_up and not escalated:
        return None
    parts = []
    if gave_up:
        parts.append(f"{gave_up} object(s) given up after the maximum number of attempts")
    if escalated:
        parts.append(f"{escalated} object(s) escalated: no Batch Replication job can repair them")
    return Alert(
        _subject(f"replimend: objects need a person ({source} -> {destination})"),
        f"Replication from {source} to {destination}: {'; '.join(parts)}. See them with "
        f"`replimend audit --bucket {source} --state GAVE_UP` (or ESCALATED) and their history with "
        "`replimend history s3://<bucket>/<key>`.",
    )


def pending_alert(source: str, stuck: int, summary: str) -> Alert:
    """Objects of a source stuck PENDING (found in its S3 Inventory), once when the incident opens."""
    return Alert(
        _subject(f"replimend: {stuck} object(s) stuck PENDING ({source})"),
        f"{summary}.\n\nList them with `replimend pending --bucket {source}`. AWS documents no Batch "
        "Replication for PENDING objects; S3 resumes them once the cause is fixed."[:MAX_MESSAGE],
    )
