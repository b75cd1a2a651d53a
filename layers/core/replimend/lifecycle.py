"""The object lifecycle, in one pure module: the states, the transitions allowed between them, and
every decision that moves an object. No AWS here; the ledger refuses any transition not in
``TRANSITIONS``, and the stages (ingest, remediate, track) only ask this module what to do.

```
FAILED ──▶ BLOCKED (cause still broken) ──▶ FAILED (gate opens)
FAILED ──▶ IN_JOB ──▶ REPLICATED
                  └─▶ FAILED (attempts+1, backoff) ──▶ … ──▶ GAVE_UP (max attempts)
any ──▶ OBSOLETE (source version gone) · DONE (already replicated) · ESCALATED (a person must act)
```

Where to look:
- an S3 event arrives, in any order, any number of times: ``decide_event``;
- remediation looks at a due object: ``plan`` (close, give up, ask the gate, or put in a job),
  then ``after_gate`` and ``after_head``;
- a Batch Replication task ends: ``after_task``; a job ends without a report row for an object:
  ``after_job_without_report``;
- a failure after an incident was marked fixed: ``incident_reopens``.

Results never depend on delivery order: the newest event (by S3's ``sequencer``, then event time)
decides, an older one delivered late only adds a history line, and ``first_seen`` is the earliest
event time seen, whichever arrived first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from replimend.errors import ReplimendError
from replimend.models import (
    Action,
    Classification,
    FailureRecord,
    ObjectState,
    ReplicationEvent,
)
from replimend.reasons import UNKNOWN_REASON, reason_entry

S = ObjectState

#: Every allowed move; ``None`` is "no record yet". Anything else is a bug the ledger refuses.
TRANSITIONS: Mapping[ObjectState | None, frozenset[ObjectState]] = {
    # REPLICATED: a backfill job's report names a version replimend never saw fail (``FOUND_STATES``).
    None: frozenset({S.FAILED, S.ESCALATED, S.OBSOLETE, S.DONE, S.REPLICATED}),
    S.FAILED: frozenset({S.BLOCKED, S.IN_JOB, S.OBSOLETE, S.DONE, S.ESCALATED, S.GAVE_UP}),
    S.BLOCKED: frozenset({S.FAILED, S.OBSOLETE, S.DONE, S.ESCALATED, S.GAVE_UP}),
    S.IN_JOB: frozenset({S.REPLICATED, S.FAILED, S.GAVE_UP, S.OBSOLETE, S.DONE, S.ESCALATED}),
    # Closed states reopen only on a failure that happened after the close (or, when an event
    # closed them, on any newer event: the newest event decides).
    S.REPLICATED: frozenset({S.FAILED, S.ESCALATED}),
    S.DONE: frozenset({S.FAILED, S.ESCALATED, S.OBSOLETE}),
    S.OBSOLETE: frozenset({S.FAILED, S.ESCALATED, S.DONE}),
    S.ESCALATED: frozenset({S.FAILED, S.OBSOLETE, S.DONE}),
    S.GAVE_UP: frozenset(),  # a person owns it now
}

#: States the due-work index holds: remediation looks at these.
DUE_STATES = frozenset({S.FAILED, S.BLOCKED})
#: States in which an object still needs work.
OPEN_STATES = frozenset({S.FAILED, S.BLOCKED, S.IN_JOB})
CLOSED_STATES = frozenset(set(S) - OPEN_STATES)

#: What a failure event does to an object, by action (observe and ignore never touch objects).
STATE_FOR_ACTION: Mapping[Action, ObjectState] = {
    Action.RETRY: S.FAILED,
    Action.RETRY_AFTER_FIX: S.FAILED,
    Action.ESCALATE: S.ESCALATED,
    Action.CLOSE_OBSOLETE: S.OBSOLETE,
    Action.CLOSE_DONE: S.DONE,
}
#: Where an object goes when its reason's action says no job can help.
CLOSING_STATES: Mapping[Action, ObjectState] = {
    Action.CLOSE_OBSOLETE: S.OBSOLETE,
    Action.CLOSE_DONE: S.DONE,
    Action.ESCALATE: S.ESCALATED,
}
RETRYABLE_ACTIONS = frozenset({Action.RETRY, Action.RETRY_AFTER_FIX})


def found_state(*, replicated: bool, reason: str | None) -> ObjectState:
    """Where a version a backfill job's report names, and the ledger never saw, enters it for one
    destination: REPLICATED when the job replicated it there, else the state an event with the task's
    failure reason would give it (so it is re-driven, held or escalated like an event-reported one)."""
    if replicated:
        return S.REPLICATED
    return STATE_FOR_ACTION.get(reason_entry(reason).action, S.ESCALATED)


class IllegalTransitionError(ReplimendError):
    """A move the lifecycle does not allow (a bug in the caller, never a race)."""


def check_transition(from_state: ObjectState | None, to_state: ObjectState) -> None:
    if to_state not in TRANSITIONS[from_state]:
        raise IllegalTransitionError(f"{from_state or 'new'} -> {to_state} is not an allowed transition")


# --------------------------------------------------------------------------- events


class RecordOutcome(StrEnum):
    """What recording one S3 event did."""

    CREATED = "CREATED"  # a new object failure record
    UPDATED = "UPDATED"  # the newest event for a record: its fields (and maybe its state) changed
    DUPLICATE = "DUPLICATE"  # this event was recorded before: nothing changed
    STALE = "STALE"  # older than the newest event recorded: history only
    OBSERVED = "OBSERVED"  # observe-only event (RTC threshold, not tracked): history only
    IGNORED = "IGNORED"  # not a replication event: nothing written


def compare_sequencers(left: str, right: str) -> int:
    """-1, 0 or 1. S3: right-pad the shorter sequencer with zeros, then compare as strings
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html)."""
    width = max(len(left), len(right))
    a, b = left.upper().ljust(width, "0"), right.upper().ljust(width, "0")
    return (a > b) - (a < b)


def is_newer(
    sequencer: str | None, at: datetime | None, recorded_sequencer: str | None, recorded_at: datetime | None
) -> bool:
    """Whether an event comes after the one a record reflects: sequencer first, then event time."""
    if sequencer and recorded_sequencer:
        order = compare_sequencers(sequencer, recorded_sequencer)
        if order != 0:
            return order > 0
    if at is None:
        return recorded_at is None
    return recorded_at is None or at > recorded_at


@dataclass(frozen=True, slots=True)
class EventDecision:
    """What one S3 event does to the record of its object."""

    outcome: RecordOutcome
    to_state: ObjectState | None = None  # the state after the event (None: no object record touched)
    transition: bool = False  # the state changes (a transition line joins the history)
    newest: bool = False  # the event becomes the record's newest: its reason and fields are taken
    first_seen: datetime | None = None  # the earliest event time known after this event
    counts_for_incident: int = 0  # 1 when the object newly counts under its (source, dest, reason)
    opens_incident: bool = False  # a retry_after_fix failure: its incident must exist
    detail: str | None = None  # why, for the history line


def decide_event(
    record: FailureRecord | None, event: ReplicationEvent, classification: Classification
) -> EventDecision:
    """The whole answer to "what does this event do to this record?"."""
    action = classification.action
    if action is Action.IGNORE:
        return EventDecision(RecordOutcome.IGNORED)
    if action is Action.OBSERVE:
        return EventDecision(RecordOutcome.OBSERVED)
    target = STATE_FOR_ACTION[action]
    retry_after_fix = action is Action.RETRY_AFTER_FIX
    if record is None:
        return EventDecision(
            RecordOutcome.CREATED,
            to_state=target,
            transition=True,
            newest=True,
            first_seen=event.event_time,
            counts_for_incident=int(retry_after_fix),
            opens_incident=retry_after_fix,
            detail=f"new {event.event_type}",
        )
    if event.event_id == record.last_event_id or event.event_id in record.event_ids:
        return EventDecision(RecordOutcome.DUPLICATE, to_state=record.state, opens_incident=retry_after_fix)
    first_seen = _earliest(record.first_seen, event.event_time)
    if not is_newer(event.sequencer, event.event_time, record.last_sequencer, record.last_seen):
        return EventDecision(
            RecordOutcome.STALE,
            to_state=record.state,
            first_seen=first_seen,
            detail="older than the event already recorded: no change",
        )
    new_state = _state_after_newer_event(record, target, event.event_time)
    transition = new_state is not record.state
    reason_changed = record.failure_reason != classification.failure_reason
    counts = retry_after_fix and (
        (transition and new_state is S.FAILED) or (reason_changed and new_state in DUE_STATES)
    )
    if transition:
        detail = f"newer {event.event_type}"
    elif record.state not in DUE_STATES:
        detail = f"state {record.state} kept"
    else:
        detail = None
    return EventDecision(
        RecordOutcome.UPDATED,
        to_state=new_state,
        transition=transition,
        newest=True,
        first_seen=first_seen,
        counts_for_incident=int(counts),
        opens_incident=retry_after_fix,
        detail=detail,
    )


def _state_after_newer_event(record: FailureRecord, target: ObjectState, at: datetime | None) -> ObjectState:
    current = record.state
    if record.state_by_event:
        # An earlier event set this state: the newest event decides (a retry-kind event keeps
        # FAILED/BLOCKED as they are, both being due).
        return current if (current in DUE_STATES and target is S.FAILED) else target
    if current in DUE_STATES:
        return current if target is S.FAILED else target
    if current in (S.REPLICATED, S.DONE, S.OBSOLETE) and target in (S.FAILED, S.ESCALATED):
        # Reopen only for a failure that happened after the close: a late event from before it
        # (say, the failure of the job that is already accounted for) must not restart remediation.
        since = record.state_since
        return target if (at is not None and (since is None or at > since)) else current
    return current  # IN_JOB (its job decides), GAVE_UP and ESCALATED by a process (a person owns them)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


# --------------------------------------------------------------------------- remediation


class PlanStep(StrEnum):
    SKIP = "skip"  # not due (backoff), or no longer FAILED/BLOCKED
    CLOSE = "close"  # its reason's action says no job can help
    GIVE_UP = "give_up"  # attempts exhausted
    ASK_GATE = "ask_gate"  # a configuration cause: only once diagnosis says it is fixed
    PLAN = "plan"  # may join a job (after a HEAD check)


@dataclass(frozen=True, slots=True)
class PlanDecision:
    step: PlanStep
    to_state: ObjectState | None = None
    why: str = ""


def effective_action(record: FailureRecord) -> Action:
    """The action of the record's current reason: the registry's when it knows the code.

    A reason taken from a completion report may differ from the one ingest classified; codes the
    registry does not know (generic task errors) keep the action the record already has.
    """
    entry = reason_entry(record.failure_reason)
    return record.action if entry is UNKNOWN_REASON else entry.action


def plan(record: FailureRecord, *, now: datetime, max_attempts: int) -> PlanDecision:
    """What remediation does with a record read from the due-work index."""
    if record.state not in DUE_STATES:
        return PlanDecision(PlanStep.SKIP, why=f"{record.state}")
    if record.next_attempt_at is not None and record.next_attempt_at > now:
        return PlanDecision(PlanStep.SKIP, why="not due yet (backoff)")
    action = effective_action(record)
    if action not in RETRYABLE_ACTIONS:
        return PlanDecision(
            PlanStep.CLOSE,
            CLOSING_STATES.get(action, S.ESCALATED),
            f"action {action} for {record.failure_reason}: no job can help",
        )
    if record.attempts >= max_attempts:
        return PlanDecision(PlanStep.GIVE_UP, S.GAVE_UP, f"{record.attempts} attempts (max {max_attempts})")
    if action is Action.RETRY_AFTER_FIX:
        return PlanDecision(PlanStep.ASK_GATE)
    if record.state is S.BLOCKED:  # held earlier, its reason no longer needs the gate
        return PlanDecision(PlanStep.PLAN, S.FAILED, "no longer held: its reason needs no fix")
    return PlanDecision(PlanStep.PLAN)


def after_gate(record: FailureRecord, *, fixed: bool, summary: str) -> PlanDecision:
    """The gate's answer for a retry_after_fix record: hold it (BLOCKED) or let it through."""
    if not fixed:
        to_state = S.BLOCKED if record.state is S.FAILED else None
        return PlanDecision(PlanStep.SKIP, to_state, f"gate: {summary}")
    if record.state is S.BLOCKED:
        return PlanDecision(PlanStep.PLAN, S.FAILED, "gate: cause confirmed fixed")
    return PlanDecision(PlanStep.PLAN)


def after_head(status: str) -> PlanDecision:
    """What a HEAD of the failed source version means (``ports.SourceVersionStatus`` values)."""
    if status == "gone":
        return PlanDecision(PlanStep.CLOSE, S.OBSOLETE, "source version no longer exists")
    if status == "replicated":
        return PlanDecision(PlanStep.CLOSE, S.DONE, "source reports ReplicationStatus COMPLETED")
    return PlanDecision(PlanStep.PLAN)


# --------------------------------------------------------------------------- job outcomes


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: int
    max_seconds: int
    jitter: float = 0.0  # fraction of a delay spread deterministically per object (0 disables)

    def delay(self, attempts: int, seed: str = "") -> timedelta:
        """base * 2**(attempts-1), capped; jitter derived from ``seed`` so it is reproducible."""
        exponent = max(attempts - 1, 0)
        # min() before the power: 2**attempts grows without bound when max_attempts is large.
        delay = float(min(self.base_seconds * 2 ** min(exponent, 62), self.max_seconds))
        if self.jitter > 0 and delay > 0:
            digest = hashlib.sha256(f"{seed}#{attempts}".encode()).digest()[:8]
            delay -= delay * min(self.jitter, 1.0) * (int.from_bytes(digest, "big") / 2**64)
        return timedelta(seconds=delay)


@dataclass(frozen=True, slots=True)
class TaskDecision:
    to_state: ObjectState
    attempts: int
    failure_reason: str | None
    next_attempt_at: datetime | None
    why: str
    counts_for_incident: int = 0  # 1 when the object now counts under a new (source, dest, reason)
    reopens_incident: bool = False  # a configuration reason: the cause is not fixed


def after_task(
    record: FailureRecord,
    *,
    succeeded: bool,
    reason: str | None,
    max_attempts: int,
    backoff: Backoff,
    now: datetime,
    count_attempt: bool = True,
) -> TaskDecision:
    """A batch task's result for an object that was in its job. ``attempts`` counts the jobs the
    object was tried in, whatever their outcome (a repaired object reads 1, not 0)."""
    attempts = record.attempts + 1 if count_attempt else record.attempts
    if succeeded:
        return TaskDecision(S.REPLICATED, attempts, record.failure_reason, None, "replicated by batch job")
    reason = reason or "UnknownTaskFailure"
    entry = reason_entry(reason)
    # A generic task error (not a documented replication reason) is retried with backoff.
    action = Action.RETRY if entry is UNKNOWN_REASON else entry.action
    counts = int(record.failure_reason != reason)
    reopens = action is Action.RETRY_AFTER_FIX
    if action in CLOSING_STATES:
        return TaskDecision(
            CLOSING_STATES[action],
            attempts,
            reason,
            None,
            f"batch job task failed: {reason}",
            counts,
            reopens,
        )
    if attempts >= max_attempts:
        why = f"{attempts} attempts failed (last: {reason}); escalated"
        return TaskDecision(S.GAVE_UP, attempts, reason, None, why, counts, reopens)
    delay = backoff.delay(max(attempts, 1), seed=f"{record.ref}")
    why = f"batch job task failed: {reason}; retry after {delay}"
    return TaskDecision(S.FAILED, attempts, reason, now + delay, why, counts, reopens)


def after_job_without_report(
    record: FailureRecord,
    *,
    job_cancelled: bool,
    job_reason: str,
    max_attempts: int,
    backoff: Backoff,
    now: datetime,
) -> TaskDecision:
    """An object still in a job that ended without a report row for it: back to FAILED (a
    cancelled job does not count as an attempt), or further if the job's reason says so."""
    return after_task(
        record,
        succeeded=False,
        reason=job_reason,
        max_attempts=max_attempts,
        backoff=backoff,
        now=now,
        count_attempt=not job_cancelled,
    )


def after_unattributed_failure(
    record: FailureRecord,
    *,
    reason: str,
    destinations: int,
    max_attempts: int,
    backoff: Backoff,
    now: datetime,
) -> TaskDecision:
    """A failed task of a version with several destinations in the job, when nothing tells which of
    them failed: the attempt counts (the object was tried) and backs off, but the record keeps its
    own reason and no incident is touched — one destination's failure is never charged to another."""
    attempts = record.attempts + 1
    why = f"batch task failed ({reason}); which of its {destinations} destinations failed is not known"
    if attempts >= max_attempts:
        return TaskDecision(S.GAVE_UP, attempts, record.failure_reason, None, why + "; escalated")
    delay = backoff.delay(attempts, seed=f"{record.ref}")
    return TaskDecision(S.FAILED, attempts, record.failure_reason, now + delay, f"{why}; retry after {delay}")


def after_missing_report_row(record: FailureRecord, *, now: datetime) -> TaskDecision:
    """An object of a job that completed, whose report has no row for it (or none we could match):
    nothing says it failed, so no attempt is counted and its reason stays; it is due at once, and
    the next pass's HEAD check closes it if it did replicate."""
    why = "the job's completion report has no row for this object"
    return TaskDecision(S.FAILED, record.attempts, record.failure_reason, now, why)


def belongs_to_job(record: FailureRecord, job_id: str) -> bool:
    """Whether a job's result may move this record: it is in the job, or was never marked (a crash
    between CreateJob and marking); not once a previous application already moved it."""
    if record.state is S.IN_JOB:
        return record.job_id == job_id
    return record.state in DUE_STATES and record.job_id != job_id


# --------------------------------------------------------------------------- incidents


def incident_reopens(*, fixed: bool, fixed_at: datetime | None, failure_at: datetime | None) -> bool:
    """A fixed incident reopens when a failure happened after it was marked fixed (the fix did not
    hold); failures from before the fix, delivered late, do not reopen it."""
    return bool(fixed and fixed_at is not None and failure_at is not None and failure_at > fixed_at)
