"""The lifecycle, pure: allowed transitions, every decision, and delivery-order independence."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replimend.lifecycle import (
    CLOSED_STATES,
    DUE_STATES,
    STATE_FOR_ACTION,
    TRANSITIONS,
    Backoff,
    IllegalTransitionError,
    PlanStep,
    RecordOutcome,
    after_gate,
    after_head,
    after_job_without_report,
    after_task,
    belongs_to_job,
    check_transition,
    decide_event,
    incident_reopens,
    plan,
)
from replimend.models import (
    FAILED_REPLICATION,
    Action,
    Classification,
    FailureRecord,
    ObjectRef,
    ObjectState,
    ReplicationEvent,
)
from replimend.reasons import classify_failure
from tests.fakes import InMemoryLedger

S = ObjectState
T0 = datetime(2024, 9, 5, 21, 4, 32, tzinfo=UTC)
REF = ObjectRef("src", "photos/cat.png", "v1", "dst")
BACKOFF = Backoff(base_seconds=900, max_seconds=86_400)
EVENT_ACTIONS = [
    Action.RETRY,
    Action.RETRY_AFTER_FIX,
    Action.ESCALATE,
    Action.CLOSE_OBSOLETE,
    Action.CLOSE_DONE,
]
#: A registry reason for each action (the meta-test of reasons.py keeps these true).
REASON_FOR = {
    Action.RETRY: "DstVersionNotFound",
    Action.RETRY_AFTER_FIX: "AssumeRoleNotPermitted",
    Action.ESCALATE: "SrcBucketNotFound",
    Action.CLOSE_OBSOLETE: "SrcVersionNotFound",
    Action.CLOSE_DONE: "SrcReplicationNotPending",
}


def event(
    n: int, action: Action = Action.RETRY, *, at: datetime | None = None, seq: str | None = None
) -> ReplicationEvent:
    return ReplicationEvent(
        event_type=FAILED_REPLICATION,
        event_id=f"e{n}-{action}",
        source_bucket=REF.source_bucket,
        key=REF.key,
        version_id=REF.version_id,
        sequencer=seq if seq is not None else f"0066DA1CBF104C{n:04X}",
        event_time=at or T0 + timedelta(seconds=n),
        destination_bucket=REF.destination_bucket,
        failure_reason=REASON_FOR[action],
    )


def classification(action: Action) -> Classification:
    return Classification(action=action, category="test", failure_reason=REASON_FOR[action], known=True)


def record(state: ObjectState, **changes: object) -> FailureRecord:
    base = FailureRecord(
        ref=REF,
        state=state,
        failure_reason="DstVersionNotFound",
        action=Action.RETRY,
        category="destination",
        last_sequencer="0066DA1CBF104C0005",
        last_seen=T0 + timedelta(seconds=5),
        first_seen=T0 + timedelta(seconds=5),
        state_since=T0 + timedelta(seconds=5),
        last_event_id="e5",
        event_ids=frozenset({"e5"}),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the transition table


def test_every_state_has_a_row_and_gave_up_belongs_to_a_person() -> None:
    assert set(TRANSITIONS) == {None, *S}
    assert TRANSITIONS[S.GAVE_UP] == frozenset()
    # REPLICATED: a version a backfill job replicated, found in its report (lifecycle.found_state)
    assert TRANSITIONS[None] == frozenset(STATE_FOR_ACTION.values()) | {S.REPLICATED}
    assert {S.FAILED, S.BLOCKED, S.IN_JOB} > DUE_STATES and S.IN_JOB not in CLOSED_STATES


def test_a_transition_the_table_does_not_allow_is_refused() -> None:
    check_transition(S.FAILED, S.IN_JOB)
    with pytest.raises(IllegalTransitionError):
        check_transition(S.REPLICATED, S.IN_JOB)
    with pytest.raises(IllegalTransitionError):
        check_transition(S.GAVE_UP, S.FAILED)


@pytest.mark.parametrize(
    ("state", "action", "newer", "by_event"),
    list(itertools.product(list(S), EVENT_ACTIONS, [True, False], [True, False])),
)
def test_every_event_decision_is_an_allowed_transition(
    state: ObjectState, action: Action, newer: bool, by_event: bool
) -> None:
    current = record(state, state_by_event=by_event and state in set(STATE_FOR_ACTION.values()))
    n = 9 if newer else 1
    decision = decide_event(current, event(n, action), classification(action))
    assert decision.to_state is not None
    if decision.transition:
        check_transition(state, decision.to_state)
    else:
        assert decision.to_state is state


# ------------------------------------------------------------------ events


def test_a_first_event_creates_a_record_in_its_actions_state() -> None:
    for action, state in STATE_FOR_ACTION.items():
        decision = decide_event(None, event(1, action), classification(action))
        assert (decision.outcome, decision.to_state, decision.transition) == (
            RecordOutcome.CREATED,
            state,
            True,
        )
        assert decision.counts_for_incident == int(action is Action.RETRY_AFTER_FIX)


def test_the_same_event_again_is_a_duplicate_and_an_older_one_only_history() -> None:
    current = record(S.FAILED)
    assert (
        decide_event(
            current, dataclasses.replace(event(5), event_id="e5"), classification(Action.RETRY)
        ).outcome
        is RecordOutcome.DUPLICATE
    )
    stale = decide_event(current, event(1), classification(Action.RETRY))
    assert (stale.outcome, stale.to_state, stale.newest) == (RecordOutcome.STALE, S.FAILED, False)
    # ...but an older event still moves first_seen back: the earliest event time seen
    assert stale.first_seen == T0 + timedelta(seconds=1)


def test_equal_sequencers_are_ordered_by_event_time() -> None:
    current = record(S.FAILED, last_sequencer="AA")
    assert (
        decide_event(current, event(9, seq="AA"), classification(Action.RETRY)).outcome
        is RecordOutcome.UPDATED
    )
    assert (
        decide_event(current, event(2, seq="AA"), classification(Action.RETRY)).outcome is RecordOutcome.STALE
    )


def test_a_job_decides_an_object_in_a_job_and_a_person_owns_gave_up() -> None:
    for state in (S.IN_JOB, S.GAVE_UP):
        decision = decide_event(record(state), event(9, Action.ESCALATE), classification(Action.ESCALATE))
        assert (decision.outcome, decision.to_state, decision.transition) == (
            RecordOutcome.UPDATED,
            state,
            False,
        )


def test_a_closed_object_reopens_only_for_a_failure_after_the_close() -> None:
    closed = record(S.REPLICATED, state_since=T0 + timedelta(seconds=8))
    late = decide_event(closed, event(7), classification(Action.RETRY))  # newer sequencer, happened before
    fresh = decide_event(closed, event(9), classification(Action.RETRY))
    assert (late.to_state, fresh.to_state) == (S.REPLICATED, S.FAILED)


def test_an_escalation_and_a_newer_failure_end_the_same_in_either_order() -> None:
    escalation, failure = event(1, Action.ESCALATE), event(2, Action.RETRY)
    results = []
    for order in ((escalation, failure), (failure, escalation)):
        ledger = InMemoryLedger()
        for e in order:
            ledger.record_event(e, classify_failure(e))
        results.append(ledger.records[REF].state)
    assert results == [S.FAILED, S.FAILED]


# ------------------------------------------------------------------ remediation decisions


def test_plan_skips_the_not_due_closes_gives_up_and_asks_the_gate() -> None:
    now = T0 + timedelta(hours=1)
    assert (
        plan(record(S.FAILED, next_attempt_at=now + timedelta(1)), now=now, max_attempts=5).step
        is PlanStep.SKIP
    )
    assert plan(record(S.IN_JOB), now=now, max_attempts=5).step is PlanStep.SKIP
    obsolete = record(S.FAILED, failure_reason="SrcVersionNotFound")
    assert plan(obsolete, now=now, max_attempts=5).to_state in CLOSED_STATES
    assert plan(record(S.FAILED, attempts=5), now=now, max_attempts=5).to_state is S.GAVE_UP
    gated = record(S.FAILED, failure_reason="AssumeRoleNotPermitted", action=Action.RETRY_AFTER_FIX)
    assert plan(gated, now=now, max_attempts=5).step is PlanStep.ASK_GATE
    assert plan(record(S.FAILED), now=now, max_attempts=5).step is PlanStep.PLAN


def test_the_gate_holds_a_broken_cause_and_releases_a_fixed_one() -> None:
    assert after_gate(record(S.FAILED), fixed=False, summary="x").to_state is S.BLOCKED
    assert after_gate(record(S.BLOCKED), fixed=False, summary="x").to_state is None
    assert after_gate(record(S.BLOCKED), fixed=True, summary="x").to_state is S.FAILED
    assert after_gate(record(S.FAILED), fixed=True, summary="x").step is PlanStep.PLAN


def test_a_head_check_closes_gone_and_already_replicated_versions() -> None:
    assert after_head("gone").to_state is S.OBSOLETE
    assert after_head("replicated").to_state is S.DONE
    assert after_head("unverified").step is PlanStep.PLAN


# ------------------------------------------------------------------ job outcomes


def test_a_task_failing_with_dst_put_object_not_permitted_retries_after_backoff_and_reopens_the_cause() -> (
    None
):
    # "What happens when a batch task fails with DstPutObjectNotPermitted?" — here, all of it.
    now = T0 + timedelta(hours=2)
    failing = record(
        S.IN_JOB, attempts=1, failure_reason="DstPutObjectNotPermitted", action=Action.RETRY_AFTER_FIX
    )
    decision = after_task(
        failing, succeeded=False, reason="DstPutObjectNotPermitted", max_attempts=5, backoff=BACKOFF, now=now
    )
    assert decision.to_state is S.FAILED and decision.attempts == 2
    assert decision.next_attempt_at == now + timedelta(seconds=1800)
    assert decision.reopens_incident and decision.counts_for_incident == 0  # same reason: already counted
    last = after_task(
        dataclasses.replace(failing, attempts=4),
        succeeded=False,
        reason="DstPutObjectNotPermitted",
        max_attempts=5,
        backoff=BACKOFF,
        now=now,
    )
    assert last.to_state is S.GAVE_UP


def test_task_outcomes_success_close_and_generic_errors() -> None:
    ok = after_task(record(S.IN_JOB), succeeded=True, reason=None, max_attempts=5, backoff=BACKOFF, now=T0)
    assert ok.to_state is S.REPLICATED
    assert ok.attempts == 1  # the job that repaired it was an attempt, as a failed one is
    gone = after_task(
        record(S.IN_JOB),
        succeeded=False,
        reason="SrcVersionNotFound",
        max_attempts=5,
        backoff=BACKOFF,
        now=T0,
    )
    assert gone.to_state in CLOSED_STATES
    generic = after_task(
        record(S.IN_JOB), succeeded=False, reason="HTTP500", max_attempts=5, backoff=BACKOFF, now=T0
    )
    assert generic.to_state is S.FAILED and not generic.reopens_incident


def test_a_job_without_a_report_returns_its_objects_and_a_cancel_costs_no_attempt() -> None:
    for cancelled, attempts in ((True, 1), (False, 2)):
        decision = after_job_without_report(
            record(S.IN_JOB, attempts=1),
            job_cancelled=cancelled,
            job_reason="JobCancelled",
            max_attempts=5,
            backoff=BACKOFF,
            now=T0,
        )
        assert decision.to_state is S.FAILED and decision.attempts == attempts


def test_only_objects_still_in_the_job_belong_to_it() -> None:
    assert belongs_to_job(record(S.IN_JOB, job_id="j"), "j")
    assert not belongs_to_job(record(S.IN_JOB, job_id="k"), "j")
    assert belongs_to_job(record(S.FAILED), "j")  # a crash between CreateJob and marking
    assert not belongs_to_job(record(S.FAILED, job_id="j"), "j")  # already applied
    assert not belongs_to_job(record(S.REPLICATED, job_id="j"), "j")


def test_backoff_doubles_and_caps() -> None:
    assert [BACKOFF.delay(n).total_seconds() for n in (1, 2, 3)] == [900, 1800, 3600]
    assert BACKOFF.delay(100).total_seconds() == 86_400
    jittered = Backoff(900, 86_400, jitter=0.5)
    assert (
        jittered.delay(3, "a") == jittered.delay(3, "a")
        and 1800 <= jittered.delay(3, "a").total_seconds() <= 3600
    )


def test_an_incident_reopens_only_for_a_failure_after_its_fix() -> None:
    assert incident_reopens(fixed=True, fixed_at=T0, failure_at=T0 + timedelta(seconds=1))
    assert not incident_reopens(fixed=True, fixed_at=T0, failure_at=T0 - timedelta(seconds=1))
    assert not incident_reopens(fixed=False, fixed_at=None, failure_at=T0)


# ------------------------------------------------------------------ delivery order never matters


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[ReplicationEvent], list[ReplicationEvent]]:
    count = draw(st.integers(min_value=1, max_value=6))
    actions = draw(st.lists(st.sampled_from(EVENT_ACTIONS), min_size=count, max_size=count))
    # Sequencers decide; equal sequencers fall back to event time (both may disagree with delivery).
    seconds = draw(st.lists(st.integers(0, 3600), min_size=count, max_size=count, unique=True))
    same_sequencer = draw(st.booleans())
    events = [
        event(n, action, at=T0 + timedelta(seconds=s), seq="0066DA1CBF104C0D51" if same_sequencer else None)
        for n, (action, s) in enumerate(zip(actions, seconds, strict=True))
    ]
    repeated = draw(st.lists(st.sampled_from(events), max_size=6))
    shuffled = draw(st.permutations(events + repeated))
    in_order = sorted(events, key=lambda e: (e.sequencer, e.event_time))
    return in_order, list(shuffled)


def final(ledger: InMemoryLedger) -> tuple[object, ...]:
    r = ledger.records[REF]
    return (r.state, r.failure_reason, r.action, r.last_sequencer, r.last_seen, r.first_seen, r.event_ids)


@settings(max_examples=300, deadline=None)
@given(deliveries())
def test_any_interleaving_and_duplication_ends_in_the_same_record(
    case: tuple[list[ReplicationEvent], list[ReplicationEvent]],
) -> None:
    in_order, shuffled = case
    once, anyhow = InMemoryLedger(), InMemoryLedger()
    for e in in_order:
        once.record_event(e, classify_failure(e))
    for e in shuffled:
        anyhow.record_event(e, classify_failure(e))
    assert final(anyhow) == final(once)
