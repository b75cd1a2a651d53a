"""Incident alerts: what a remediation pass tells people, one message per incident event, never one
per failure.

- a new incident (diagnosed for the first time), with its failing checks and their fixes;
- a state change: its cause diagnosed fixed (resolved by diagnosis), or broken again after it was;
- objects given up (attempts exhausted) or escalated (no job can help), once per pair per pass;
- a reminder for an incident still open after the reminder interval, at most once per interval.
- objects stuck PENDING (backfill reads them from S3 Inventory), once when that incident opens.

Pure: remediate (incidents, objects given up or escalated in a pass) and track_jobs (objects given
up when a job's report fails them for the last time) hand the messages to a ``ports.Notifier`` (an
SNS topic in AWS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
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


def pair_alert(
    source: str, destination: str, *, gave_up: int, escalated: int, reason: str | None = None
) -> Alert | None:
    """Objects of one pair (of one incident, with ``reason``) that need a person, in one message."""
    if not gave_up and not escalated:
        return None
    parts = []
    if gave_up:
        parts.append(f"{gave_up} object(s) given up after the maximum number of attempts")
    if escalated:
        why = f" ({reason})" if reason else ""
        parts.append(f"{escalated} object(s) escalated{why}: no Batch Replication job can repair them")
    return Alert(
        _subject(f"replimend: objects need a person ({source} -> {destination})"),
        f"Replication from {source} to {destination}: {'; '.join(parts)}. See them with "
        f"`replimend audit --bucket {source} --state GAVE_UP` (or ESCALATED) and their history with "
        "`replimend history s3://<bucket>/<key>`.",
    )


def reminder_alert(incident: Incident, now: datetime) -> Alert:
    """An incident still open after the reminder interval: what still breaks, and the fix."""
    source, destination, reason = incident.source_bucket, incident.destination_bucket, incident.failure_reason
    hours = max(0, int((now - incident.opened_at).total_seconds() // 3600))
    return Alert(
        _subject(f"replimend: still open after {hours}h: {reason} ({source})"),
        f"Reminder: {incident.object_count} object(s) failed to replicate from {source} -> {destination} "
        f"with {reason} since {incident.opened_at.isoformat()}, and the incident is still open. Its objects "
        f"stay held until the checks below pass.\n\n"
        f"Last diagnosis: {incident.last_diagnosis or 'none yet'}\n\n"
        f"{_checks_text(incident.last_checks)}"[:MAX_MESSAGE],
    )


def checks_pass_but_job_failed_alert(incident: Incident, job_id: str, count: int) -> Alert | None:
    """A job failed objects of an incident whose checks all passed: the cause is one diagnosis cannot
    see. None when a check fails (the incident's own alerts name it)."""
    if _failing(incident.last_checks):
        return None
    source, destination, reason = incident.source_bucket, incident.destination_bucket, incident.failure_reason
    return Alert(
        _subject(f"replimend: {reason} again though its checks pass ({source})"),
        f"Batch Replication job {job_id} failed {count} object(s) from {source} -> {destination} with "
        f"{reason}, though every check of the incident passes. The cause is one diagnosis cannot see: a "
        "service control policy, a permissions boundary, a VPC endpoint policy, a KMS grant or condition. "
        "Its objects retry with backoff (the gate lets them through: their checks pass) and are given up "
        "after the maximum number of attempts, unless that cause is fixed first.\n\n"
        f"Last diagnosis: {incident.last_diagnosis or 'none'}",
    )


def pending_alert(source: str, stuck: int, summary: str) -> Alert:
    """Objects of a source stuck PENDING (found in its S3 Inventory), once when the incident opens."""
    return Alert(
        _subject(f"replimend: {stuck} object(s) stuck PENDING ({source})"),
        f"{summary}.\n\nList them with `replimend pending --bucket {source}`. AWS documents no Batch "
        "Replication for PENDING objects; S3 resumes them once the cause is fixed."[:MAX_MESSAGE],
    )
