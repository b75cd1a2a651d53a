"""History lines: the audit trail, kept on the object item as compact JSON arrays.

One line per S3 event observed and per state change. Compact because every byte of the object
item is paid at every write of it; readable because it is plain JSON:
  event       [time, "e", actor, event id, event type, failure reason, detail]
  transition  [time, "t", item version, actor, from, to, why, job id, failure reason, event id, detail]

A transition names its failure reason only when it changes it; otherwise the reason is the one of
the line before (``decode_all`` carries it forward).

A transition line carries the object's version after it, so no two lines are alike and a line
found in two items (a retried overflow) is recognised as one.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from replimend.ledger.table import EPOCH_TIME, format_time, parse_time
from replimend.models import Classification, HistoryEntry, ObjectRef, ObjectState, ReplicationEvent

_EVENT_PREFIX = "Replication:Operation"


def _encode(fields: list[Any]) -> str:
    while fields and fields[-1] in (None, ""):
        fields.pop()
    return json.dumps(["" if f is None else f for f in fields], separators=(",", ":"), ensure_ascii=False)


def event_line(
    event: ReplicationEvent, classification: Classification, actor: str, detail: str | None
) -> str:
    at = format_time(event.event_time) if event.event_time else EPOCH_TIME
    event_type = event.event_type.removeprefix(_EVENT_PREFIX)
    return _encode([at, "e", actor, event.event_id, event_type, classification.failure_reason, detail])


def transition_line(
    version: int,
    at: datetime,
    from_state: ObjectState | None,
    to_state: ObjectState,
    *,
    actor: str,
    why: str | None,
    job_id: str | None = None,
    failure_reason: str | None = None,
    event_id: str | None = None,
    detail: str | None = None,
) -> str:
    return _encode(
        [
            format_time(at),
            "t",
            version,
            actor,
            from_state and str(from_state),
            str(to_state),
            why,
            job_id,
            failure_reason,
            event_id,
            detail,
        ]
    )


def decode_all(ref: ObjectRef, texts: list[str], reason: str | None = None) -> list[HistoryEntry]:
    """Lines of one item in order, each with the failure reason in force when it was written."""
    entries = []
    for text in texts:
        entry = decode(ref, text)
        if entry.failure_reason is None and entry.kind == "transition":
            entry = dataclasses.replace(entry, failure_reason=reason)
        reason = entry.failure_reason or reason
        entries.append(entry)
    return entries


def decode(ref: ObjectRef, text: str) -> HistoryEntry:
    fields: list[Any] = json.loads(text)
    fields += [""] * (11 - len(fields))

    def text_or_none(value: Any) -> str | None:
        return str(value) if value not in ("", None) else None

    at = parse_time(str(fields[0]))
    if fields[1] == "e":
        _, _, actor, event_id, event_type, reason, detail = fields[:7]
        event_name = (
            str(event_type)
            if str(event_type).startswith(("s3:", "Replication:"))
            else (_EVENT_PREFIX + str(event_type) if event_type else "")
        )
        return HistoryEntry(
            ref=ref,
            at=at,
            kind="event",
            from_state=None,
            to_state=None,
            reason=text_or_none(reason) or event_name,
            actor=str(actor or "unknown"),
            event_id=text_or_none(event_id),
            detail=text_or_none(detail),
            failure_reason=text_or_none(reason),
        )
    _, _, _, actor, from_state, to_state, why, job_id, reason, event_id, detail = fields[:11]
    return HistoryEntry(
        ref=ref,
        at=at,
        kind="transition",
        from_state=ObjectState(from_state) if from_state else None,
        to_state=ObjectState(to_state) if to_state else None,
        reason=text_or_none(why),
        actor=str(actor or "unknown"),
        job_id=text_or_none(job_id),
        event_id=text_or_none(event_id),
        detail=text_or_none(detail),
        failure_reason=text_or_none(reason),
    )
