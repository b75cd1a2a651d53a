"""The ledger against moto's DynamoDB (table built from template.yaml): idempotency, ordering, indexes."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import boto3
import pytest

from replimend.errors import AwsCallError, ConflictError, MalformedEventError
from replimend.ledger import Ledger, RecordOutcome, format_time
from replimend.ledger import table as table_module
from replimend.ledger.objects import identity
from replimend.ledger.table import shard_of
from replimend.models import NOT_TRACKED, TEST_EVENT, Action, ObjectRef, ObjectState, ReplicationEvent
from tests.integration.ledger_helpers import RETRY, RETRY_AFTER_FIX, T0, FakeClock, classified, failure_event

REF = ObjectRef("src-bucket", "photos/cat 1.png", "v1", "dst-bucket")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(ledger_table: Any, clock: FakeClock) -> Ledger:
    return Ledger(ledger_table, index_shards=4, clock=clock)


@pytest.fixture
def atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's DynamoDB writes atomic, as DynamoDB's are.

    moto evaluates a ConditionExpression and applies the write in separate Python steps, so two
    threads can both pass the check. DynamoDB guarantees per-item atomicity; a lock around each
    backend call restores that guarantee while our read-modify-write still races freely.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "get_item", "delete_item", "query"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


def all_items(table: Any) -> list[dict[str, Any]]:
    return table.scan()["Items"]


def object_items(table: Any) -> list[dict[str, Any]]:
    return [item for item in all_items(table) if str(item["sk"]).startswith("V#")]


# ------------------------------------------------------------------ record_event: create, duplicates, order


def test_a_failure_event_creates_a_failed_object_with_history(ledger: Ledger, ledger_table: Any) -> None:
    # Given a replication failure event
    event = failure_event()
    # When it is recorded
    outcome = ledger.record_event(event, RETRY)
    # Then one FAILED object exists, due now, with the event and the transition in its history
    assert outcome is RecordOutcome.CREATED
    record = ledger.get_failure(REF)
    assert record is not None
    assert record.state is ObjectState.FAILED
    assert record.failure_reason == "DstPutObjectNotPermitted"
    assert record.action is Action.RETRY
    assert record.attempts == 0
    assert record.first_seen == T0 and record.last_seen == T0
    assert record.last_sequencer == "0066DA1CBF104C0D51"
    assert record.destination_bucket_arn == "arn:aws:s3:::dst-bucket"
    assert record.version == 1
    history = ledger.history("src-bucket", "photos/cat 1.png")
    assert [(h.kind, h.from_state, h.to_state) for h in history] == [
        ("event", None, None),
        ("transition", None, ObjectState.FAILED),
    ]
    assert history[0].event_id == event.event_id
    assert history[1].actor == "ingest"
    (item,) = object_items(ledger_table)
    assert item["due_pk"].startswith("D#src-bucket#") and item["st"] == "FAILED"
    # The S3 key is only in the table's own key, never in an index key (DynamoDB's key limits).
    assert REF.key not in item["due_pk"] + item["due_sk"]


def test_the_same_event_twice_changes_nothing(ledger: Ledger, ledger_table: Any) -> None:
    # Given an event already recorded
    event = failure_event()
    ledger.record_event(event, RETRY)
    before = all_items(ledger_table)
    # When S3 delivers it again
    outcome = ledger.record_event(event, RETRY)
    # Then nothing is written: one object, one event entry, one transition entry
    assert outcome is RecordOutcome.DUPLICATE
    assert sorted(map(str, all_items(ledger_table))) == sorted(map(str, before))
    assert len(object_items(ledger_table)) == 1
    assert len(ledger.history("src-bucket", "photos/cat 1.png")) == 2


def test_an_older_event_after_a_newer_one_only_adds_history(ledger: Ledger) -> None:
    # Given the newer event (larger sequencer) recorded first
    newer = failure_event(sequencer="0066DA1CBF104C0D52", reason="DstPutObjectNotPermitted", at=T0)
    older = failure_event(
        sequencer="0066DA1CBF104C0D5", reason="AssumeRoleNotPermitted", at=T0 + timedelta(1)
    )
    ledger.record_event(newer, RETRY)
    # When the older one arrives late (later eventTime, but the sequencer decides)
    outcome = ledger.record_event(older, RETRY_AFTER_FIX)
    # Then the object still reflects the newer event and the old one is in history only
    assert outcome is RecordOutcome.STALE
    record = ledger.get_failure(REF)
    assert record is not None
    assert record.failure_reason == "DstPutObjectNotPermitted"
    assert record.last_sequencer == "0066DA1CBF104C0D52"
    assert record.version == 2  # the late line is written on the item
    stale = [h for h in ledger.history("src-bucket", "photos/cat 1.png") if h.event_id == older.event_id]
    assert len(stale) == 1 and stale[0].detail and "older" in stale[0].detail
    # And no incident is opened by the stale retry_after_fix event
    assert ledger.list_incidents() == []
    # And its redelivery is a duplicate
    assert ledger.record_event(older, RETRY_AFTER_FIX) is RecordOutcome.DUPLICATE


def test_equal_sequencers_are_ordered_by_event_time(ledger: Ledger) -> None:
    # Given an event recorded at T0+5s
    ledger.record_event(
        failure_event(at=T0 + timedelta(seconds=5), reason="A"), classified(Action.RETRY, "A")
    )
    # When an event of the same write with an earlier time arrives, then one with a later time
    early = ledger.record_event(failure_event(at=T0, reason="B"), classified(Action.RETRY, "B"))
    late = ledger.record_event(
        failure_event(at=T0 + timedelta(seconds=9), reason="C"), classified(Action.RETRY, "C")
    )
    # Then only the later one updates the object
    assert (early, late) == (RecordOutcome.STALE, RecordOutcome.UPDATED)
    record = ledger.get_failure(REF)
    assert record is not None and record.failure_reason == "C"
    assert record.last_seen == T0 + timedelta(seconds=9)
    # first_seen is the earliest event time seen, not the first delivered
    assert record.first_seen == T0


def test_a_newer_escalate_event_closes_an_open_failure(ledger: Ledger, ledger_table: Any) -> None:
    # Given a FAILED object
    ledger.record_event(failure_event(), RETRY)
    # When a newer event with an unknown reason arrives
    unknown = classified(Action.ESCALATE, "SomethingNew", known=False)
    outcome = ledger.record_event(failure_event(reason="SomethingNew", at=T0 + timedelta(seconds=1)), unknown)
    # Then it is ESCALATED and out of the due-work index
    assert outcome is RecordOutcome.UPDATED
    record = ledger.get_failure(REF)
    assert record is not None and record.state is ObjectState.ESCALATED
    (item,) = object_items(ledger_table)
    assert "due_pk" not in item and "due_sk" not in item
    assert item["rsn"] == "SomethingNew" and item["act"] == "escalate"
    assert ledger.open_sources() == []


def test_a_new_failure_after_replication_reopens_but_a_late_one_does_not(
    ledger: Ledger, clock: FakeClock
) -> None:
    # Given an object a job replicated at clock time (T0 + 1 min)
    ledger.record_event(failure_event(at=T0), RETRY)
    record = ledger.get_failure(REF)
    assert record is not None
    in_job = ledger.transition(
        record, ObjectState.IN_JOB, reason="job started", actor="remediate", job_id="job-1"
    )
    clock.advance(minutes=10)
    replicated = ledger.transition(
        in_job, ObjectState.REPLICATED, reason="report: succeeded", actor="track_jobs"
    )
    # When a failure event that happened before the close is delivered late
    late = failure_event(at=T0 + timedelta(minutes=5))
    assert ledger.record_event(late, RETRY) is RecordOutcome.UPDATED
    # Then the object stays REPLICATED (history says why)
    after_late = ledger.get_failure(REF)
    assert after_late is not None and after_late.state is ObjectState.REPLICATED
    assert after_late.version == replicated.version + 1
    late_entry = next(h for h in ledger.history("src-bucket", REF.key) if h.event_id == late.event_id)
    assert late_entry.detail == "state REPLICATED kept"
    # When a genuinely new failure (after the close) arrives
    clock.advance(minutes=10)
    fresh = failure_event(at=T0 + timedelta(minutes=15))
    assert ledger.record_event(fresh, RETRY) is RecordOutcome.UPDATED
    # Then it is FAILED again, due now, with its job history kept
    reopened = ledger.get_failure(REF)
    assert reopened is not None and reopened.state is ObjectState.FAILED
    assert reopened.job_ids == ["job-1"]
    assert reopened.next_attempt_at == clock.now
    transitions = [
        (h.from_state, h.to_state) for h in ledger.history("src-bucket", REF.key) if h.kind == "transition"
    ]
    assert transitions == [
        (None, ObjectState.FAILED),
        (ObjectState.FAILED, ObjectState.IN_JOB),
        (ObjectState.IN_JOB, ObjectState.REPLICATED),
        (ObjectState.REPLICATED, ObjectState.FAILED),
    ]


@pytest.mark.parametrize("owned_state", [ObjectState.GAVE_UP, ObjectState.ESCALATED])
def test_objects_a_person_owns_keep_their_state(
    ledger: Ledger, clock: FakeClock, owned_state: ObjectState
) -> None:
    # Given an object that gave up or was escalated
    ledger.record_event(failure_event(at=T0), RETRY)
    record = ledger.get_failure(REF)
    assert record is not None
    ledger.transition(record, owned_state, reason="max attempts", actor="track_jobs")
    clock.advance(hours=1)
    # When a newer failure event arrives
    ledger.record_event(failure_event(at=T0 + timedelta(hours=2)), RETRY)
    # Then it keeps its state
    after = ledger.get_failure(REF)
    assert after is not None and after.state is owned_state


def test_an_object_in_a_job_keeps_its_state_on_a_new_event(ledger: Ledger) -> None:
    ledger.record_event(failure_event(at=T0), RETRY)
    record = ledger.get_failure(REF)
    assert record is not None
    ledger.transition(record, ObjectState.IN_JOB, reason="job started", actor="remediate", job_id="j")
    ledger.record_event(
        failure_event(at=T0 + timedelta(seconds=30), reason="X"), classified(Action.RETRY, "X")
    )
    after = ledger.get_failure(REF)
    assert after is not None and after.state is ObjectState.IN_JOB and after.failure_reason == "X"


@pytest.mark.parametrize(
    ("action", "state"),
    [(Action.CLOSE_DONE, ObjectState.DONE), (Action.CLOSE_OBSOLETE, ObjectState.OBSOLETE)],
)
def test_close_actions_record_a_closed_object(ledger: Ledger, action: Action, state: ObjectState) -> None:
    assert ledger.record_event(failure_event(), classified(action, "X")) is RecordOutcome.CREATED
    record = ledger.get_failure(REF)
    assert record is not None and record.state is state
    assert ledger.open_sources() == []


def test_observe_events_are_history_only_and_ignore_events_write_nothing(
    ledger: Ledger, ledger_table: Any
) -> None:
    # Given a NotTracked event (observe) and a test event (ignore)
    observed = failure_event(event_type=NOT_TRACKED, reason=None)  # type: ignore[arg-type]
    test_event = ReplicationEvent(event_type=TEST_EVENT, event_id="t1", source_bucket="src-bucket")
    # When they are recorded
    first = ledger.record_event(observed, classified(Action.OBSERVE, None))
    again = ledger.record_event(observed, classified(Action.OBSERVE, None))
    ignored = ledger.record_event(test_event, classified(Action.IGNORE, None))
    # Then the observed one is in history (once) and no object exists
    assert (first, again, ignored) == (RecordOutcome.OBSERVED, RecordOutcome.DUPLICATE, RecordOutcome.IGNORED)
    assert object_items(ledger_table) == []
    (entry,) = ledger.history("src-bucket", REF.key)
    assert entry.kind == "event" and entry.reason == NOT_TRACKED


def test_an_event_without_bucket_or_key_is_malformed(ledger: Ledger) -> None:
    event = ReplicationEvent(event_type="Replication:OperationFailedReplication", event_id="x")
    with pytest.raises(MalformedEventError, match="no source bucket or key"):
        ledger.record_event(event, RETRY)


def test_an_unversioned_object_is_keyed_as_version_null(ledger: Ledger, ledger_table: Any) -> None:
    ledger.record_event(failure_event(version=None), RETRY)
    (item,) = object_items(ledger_table)
    assert item["sk"] == "V#null#dst-bucket"
    assert ledger.get_failure(ObjectRef("src-bucket", REF.key, None, "dst-bucket")) is not None


def test_history_is_written_with_the_object_and_overflows_without_loss(
    ledger: Ledger, ledger_table: Any
) -> None:
    # Given one failure that goes through many transitions (more lines than the item keeps inline)
    ledger.record_event(failure_event(), RETRY)
    for attempt in range(1, 8):
        record = ledger.get_failure(REF)
        assert record is not None
        record = ledger.transition(
            record, ObjectState.IN_JOB, reason="job", actor="remediate", job_id=f"j{attempt}"
        )
        ledger.transition(record, ObjectState.FAILED, reason="failed", actor="track_jobs", attempts=attempt)
    # Then every line is still in the history, once, in order, and the object item stays small
    history = ledger.history("src-bucket", REF.key)
    assert [h.kind for h in history] == ["event"] + ["transition"] * 15
    assert [h.job_id for h in history if h.to_state is ObjectState.IN_JOB] == [f"j{n}" for n in range(1, 8)]
    (item,) = object_items(ledger_table)
    assert len(item["h"]) <= 8
    record = ledger.get_failure(REF)
    assert record is not None and record.job_ids == [f"j{n}" for n in range(1, 8)][-len(record.job_ids) :]


# ------------------------------------------------------------------ transitions and concurrency


def test_transition_is_conditional_on_the_version_read(ledger: Ledger) -> None:
    # Given a record read before someone else moved the object
    ledger.record_event(failure_event(), RETRY)
    stale = ledger.get_failure(REF)
    assert stale is not None
    ledger.transition(stale, ObjectState.BLOCKED, reason="gate: role still broken", actor="remediate")
    # When the stale copy is used
    with pytest.raises(ConflictError, match="moved since version 1"):
        ledger.transition(stale, ObjectState.IN_JOB, reason="job", actor="remediate", job_id="j")
    # Then the object is BLOCKED, still due (the due index holds BLOCKED), with one more history line
    record = ledger.get_failure(REF)
    assert record is not None and record.state is ObjectState.BLOCKED and record.version == 2
    assert ledger.open_sources() == ["src-bucket"]


def test_transition_sets_attempts_backoff_and_jobs(ledger: Ledger, clock: FakeClock) -> None:
    ledger.record_event(failure_event(), RETRY)
    record = ledger.get_failure(REF)
    assert record is not None
    in_job = ledger.transition(record, ObjectState.IN_JOB, reason="job", actor="remediate", job_id="job-1")
    retry_at = clock.now + timedelta(minutes=30)
    failed = ledger.transition(
        in_job,
        ObjectState.FAILED,
        reason="report: failed",
        actor="track_jobs",
        attempts=1,
        next_attempt_at=retry_at,
        failure_reason="DstPutObjectNotPermitted",
        detail="403",
    )
    assert (failed.state, failed.attempts, failed.next_attempt_at) == (ObjectState.FAILED, 1, retry_at)
    assert failed.job_id == "job-1" and failed.job_ids == ["job-1"]
    # not due before its backoff ends, due after
    assert list(ledger.due_failures("src-bucket", now=clock.now)) == []
    (due,) = ledger.due_failures("src-bucket", now=retry_at)
    assert due.version == failed.version
    last = ledger.history("src-bucket", REF.key)[-1]
    assert (last.kind, last.job_id, last.detail, last.actor) == ("transition", None, "403", "track_jobs")


def test_racing_transitions_exactly_one_wins(ledger: Ledger, atomic_moto: None) -> None:
    # Given eight workers holding the same version of one object
    ledger.record_event(failure_event(), RETRY)
    record = ledger.get_failure(REF)
    assert record is not None
    workers = 8
    barrier = threading.Barrier(workers)
    results: list[str] = []
    lock = threading.Lock()

    def move(n: int) -> None:
        barrier.wait()
        try:
            ledger.transition(record, ObjectState.IN_JOB, reason="job", actor=f"w{n}", job_id=f"job-{n}")
            outcome = f"won:{n}"
        except ConflictError:
            outcome = "conflict"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=move, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly one moved it and the other seven got ConflictError
    winners = [r for r in results if r.startswith("won")]
    assert len(winners) == 1 and results.count("conflict") == workers - 1
    final = ledger.get_failure(REF)
    assert final is not None and final.version == 2 and final.job_ids == [f"job-{winners[0].split(':')[1]}"]
    assert sum(1 for h in ledger.history("src-bucket", REF.key) if h.kind == "transition") == 2


def test_racing_ingest_workers_lose_no_event(ledger_table: Any, clock: FakeClock, atomic_moto: None) -> None:
    # Given twelve distinct events for one object, recorded concurrently by workers sharing the table
    events = [
        failure_event(at=T0 + timedelta(seconds=n), reason=f"R{n}", sequencer="0066DA1CBF104C0D51")
        for n in range(12)
    ]
    barrier = threading.Barrier(len(events))
    errors: list[BaseException] = []

    def ingest(event: ReplicationEvent) -> None:
        worker_ledger = Ledger(ledger_table, index_shards=4, clock=clock)
        barrier.wait()
        try:
            worker_ledger.record_event(event, classified(Action.RETRY, event.failure_reason))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then no worker failed, every event is in history and the object reflects the latest event
    assert errors == []
    ledger = Ledger(ledger_table, index_shards=4, clock=clock)
    recorded = {h.event_id for h in ledger.history("src-bucket", REF.key) if h.kind == "event"}
    assert recorded == {event.event_id for event in events}
    record = ledger.get_failure(REF)
    assert record is not None
    assert record.failure_reason == "R11" and record.last_seen == T0 + timedelta(seconds=11)
    assert record.first_seen is not None and record.first_seen <= T0 + timedelta(seconds=11)


# ------------------------------------------------------------------ due work, pairs, states


def _seed(ledger: Ledger, clock: FakeClock, count: int, *, destination: str = "dst-bucket") -> None:
    for n in range(count):
        # ingest time decides next_attempt_at; spread them over time in a shuffled order
        clock.now = T0 + timedelta(seconds=(n * 7919) % count)
        ledger.record_event(failure_event(key=f"k/{n:04d}", destination=destination, at=T0), RETRY)


def test_due_failures_are_globally_ordered_across_shards_and_paginated(
    ledger_table: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 160 failures spread over 8 shards, and small query pages so every shard pages several times
    monkeypatch.setattr(table_module, "PAGE_SIZE", 7)
    ledger = Ledger(ledger_table, index_shards=8, clock=clock)
    _seed(ledger, clock, 160)
    # When all due work is read
    due = list(ledger.due_failures("src-bucket", now=T0 + timedelta(hours=1)))
    # Then all 160 come back, oldest next_attempt_at first
    assert len(due) == 160
    times = [record.next_attempt_at for record in due]
    assert times == sorted(times)  # type: ignore[type-var]
    assert len({record.ref.key for record in due}) == 160
    assert {shard_of(identity(record.ref), 8) for record in due} == set(range(8))
    # And a limit returns the oldest ones; a time bound excludes the not-yet-due
    first_ten = list(ledger.due_failures("src-bucket", now=T0 + timedelta(hours=1), limit=10))
    assert [r.ref for r in first_ten] == [r.ref for r in due[:10]]
    cutoff = T0 + timedelta(seconds=99)
    bounded = list(ledger.due_failures("src-bucket", now=cutoff))
    assert len(bounded) == 100 and all(r.next_attempt_at and r.next_attempt_at <= cutoff for r in bounded)


def test_open_sources_lists_sources_with_failed_or_blocked_objects(ledger: Ledger, clock: FakeClock) -> None:
    # Given failures of one source towards two destinations, and another source whose only object
    # went into a job
    _seed(ledger, clock, 3, destination="dst-a")
    _seed(ledger, clock, 2, destination="dst-b")
    ledger.record_event(failure_event(key="only", destination="dst-c", source="src-other"), RETRY)
    only = ledger.get_failure(ObjectRef("src-other", "only", "v1", "dst-c"))
    assert only is not None
    ledger.transition(only, ObjectState.IN_JOB, reason="job", actor="remediate", job_id="j")
    # Then only the source with open work is listed (the registry item of the other stays, harmlessly)
    assert ledger.open_sources() == ["src-bucket"]
    due = list(ledger.due_failures("src-bucket", now=clock.now + timedelta(days=1)))
    assert sorted({r.ref.destination_bucket for r in due}) == ["dst-a", "dst-b"] and len(due) == 5
    # And after the job fails the object, its source is open again
    current = ledger.get_failure(only.ref)
    assert current is not None
    ledger.transition(current, ObjectState.FAILED, reason="report: failed", actor="track_jobs", attempts=1)
    assert ledger.open_sources() == ["src-bucket", "src-other"]


def test_due_versions_bring_every_destination_of_a_version_once(ledger: Ledger, clock: FakeClock) -> None:
    ledger.record_event(failure_event(key="k", destination="dst-a"), RETRY)
    ledger.record_event(failure_event(key="k", destination="dst-b"), RETRY)
    ledger.record_event(failure_event(key="other", destination="dst-b"), RETRY)
    versions = list(ledger.due_versions("src-bucket", now=clock.now + timedelta(hours=1)))
    assert sorted((records[0].ref.key, len(records)) for records in versions) == [("k", 2), ("other", 1)]


def test_open_sources_does_not_scan_the_table(
    ledger: Ledger, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(ledger, clock, 5)
    calls: list[str] = []
    original = ledger._table.call

    def spy(operation: str, **kwargs: Any) -> dict[str, Any]:
        calls.append(operation)
        return original(operation, **kwargs)

    monkeypatch.setattr(ledger._table, "call", spy)
    assert ledger.open_sources() == ["src-bucket"]
    assert "Scan" not in calls and len(calls) <= 1 + ledger.index_shards


def test_failures_in_state_filters_by_bucket_destination_reason_and_time(
    ledger: Ledger, clock: FakeClock
) -> None:
    # Given failures in two source buckets entering FAILED at different times
    for n in range(6):
        clock.now = T0 + timedelta(minutes=n)
        source = "src-a" if n % 2 == 0 else "src-b"
        ledger.record_event(failure_event(key=f"k{n}", source=source), RETRY)
    # Then each query returns what it names, in time order within a bucket
    in_a = list(ledger.failures_in_state(ObjectState.FAILED, source_bucket="src-a"))
    assert [r.ref.key for r in in_a] == ["k0", "k2", "k4"]
    bounded = ledger.failures_in_state(
        ObjectState.FAILED,
        source_bucket="src-a",
        since=T0 + timedelta(minutes=1),
        until=T0 + timedelta(minutes=2),
    )
    assert [r.ref.key for r in bounded] == ["k2"]
    everywhere = list(ledger.failures_in_state(ObjectState.FAILED, since=T0 + timedelta(minutes=3)))
    assert sorted(r.ref.key for r in everywhere) == ["k3", "k4", "k5"]
    assert list(ledger.failures_in_state(ObjectState.FAILED, destination_bucket="nope")) == []
    assert (
        len(list(ledger.failures_in_state(ObjectState.FAILED, failure_reason="DstPutObjectNotPermitted")))
        == 6
    )
    assert len(list(ledger.failures_in_state(ObjectState.FAILED, limit=4))) == 4
    assert list(ledger.failures_in_state(ObjectState.BLOCKED)) == []


# ------------------------------------------------------------------ history and audit


def test_history_covers_all_versions_and_destinations_in_time_order(ledger: Ledger, clock: FakeClock) -> None:
    # Given events for two versions and two destinations of one key, recorded out of time order
    ledger.record_event(
        failure_event(version="v2", destination="dst-b", at=T0 + timedelta(seconds=20)), RETRY
    )
    ledger.record_event(failure_event(version="v1", destination="dst-a", at=T0), RETRY)
    ledger.record_event(
        failure_event(version="v1", destination="dst-b", at=T0 + timedelta(seconds=10)), RETRY
    )
    # Then history is one time-ordered trail
    history = ledger.history("src-bucket", REF.key)
    events = [(h.ref.version_id, h.ref.destination_bucket) for h in history if h.kind == "event"]
    assert events == [("v1", "dst-a"), ("v1", "dst-b"), ("v2", "dst-b")]
    assert [h.at for h in history] == sorted(h.at for h in history)
    assert ledger.history("src-bucket", "no/such/key") == []


def test_audit_by_bucket_and_reason_is_time_ordered_and_bounded(ledger_table: Any, clock: FakeClock) -> None:
    ledger = Ledger(ledger_table, index_shards=8, clock=clock)
    for n in range(20):
        reason = "A" if n % 2 else "B"
        ledger.record_event(
            failure_event(key=f"k{n}", at=T0 + timedelta(seconds=n), reason=reason),
            classified(Action.RETRY, reason),
        )
    events = [h for h in ledger.audit_by_bucket("src-bucket") if h.kind == "event"]
    assert [h.ref.key for h in events] == [f"k{n}" for n in range(20)]
    bounded = [
        h
        for h in ledger.audit_by_bucket(
            "src-bucket", since=T0 + timedelta(seconds=5), until=T0 + timedelta(seconds=7)
        )
        if h.kind == "event"
    ]
    assert [h.ref.key for h in bounded] == ["k5", "k6", "k7"]
    by_reason = [h.ref.key for h in ledger.audit_by_reason("A") if h.kind == "event"]
    assert by_reason == [f"k{n}" for n in range(1, 20, 2)]
    assert list(ledger.audit_by_bucket("other-bucket")) == []


def test_history_expires_only_when_retention_is_set_and_the_object_is_closed(
    ledger_table: Any, clock: FakeClock
) -> None:
    kept = Ledger(ledger_table, index_shards=2, clock=clock)
    expiring = Ledger(ledger_table, index_shards=2, history_retention_days=30, clock=clock)
    for ledger, key in ((kept, "kept"), (expiring, "expiring")):
        ledger.record_event(failure_event(key=key), RETRY)
        record = ledger.get_failure(ObjectRef("src-bucket", key, "v1", "dst-bucket"))
        assert record is not None
        record = ledger.transition(record, ObjectState.IN_JOB, reason="job", actor="remediate", job_id="j")
        items = {str(i["pk"]): i for i in object_items(ledger_table)}
        assert "exp" not in items[f"O#src-bucket#{key}"]  # open objects never expire
        ledger.transition(record, ObjectState.REPLICATED, reason="done", actor="track_jobs", job_id="j")
    items = {str(i["pk"]): i for i in object_items(ledger_table)}
    assert "exp" not in items["O#src-bucket#kept"]
    assert int(items["O#src-bucket#expiring"]["exp"]) == int((clock.now + timedelta(days=30)).timestamp())


# ------------------------------------------------------------------ incidents


def test_retry_after_fix_failures_open_and_count_an_incident(ledger: Ledger, clock: FakeClock) -> None:
    # Given two objects failing with a configuration reason, one delivered twice
    first = failure_event(key="a")
    ledger.record_event(first, RETRY_AFTER_FIX)
    ledger.record_event(first, RETRY_AFTER_FIX)
    ledger.record_event(failure_event(key="b"), RETRY_AFTER_FIX)
    # Then one open incident counts two objects
    (incident,) = ledger.list_incidents()
    assert (incident.source_bucket, incident.destination_bucket, incident.failure_reason) == (
        "src-bucket",
        "dst-bucket",
        "AssumeRoleNotPermitted",
    )
    assert incident.object_count == 2 and not incident.fixed
    assert ledger.get_incident("src-bucket", "dst-bucket", "AssumeRoleNotPermitted") == incident
    # And a plain retry failure opens none
    ledger.record_event(failure_event(key="c", reason="DstPutObjectNotPermitted"), RETRY)
    assert len(ledger.list_incidents(open_only=False)) == 1


def test_a_fixed_incident_reopens_only_for_failures_after_the_fix(ledger: Ledger, clock: FakeClock) -> None:
    # Given an incident an operator marked fixed at clock time
    ledger.record_event(failure_event(key="a", at=T0), RETRY_AFTER_FIX)
    clock.advance(minutes=30)
    fixed = ledger.set_incident_fixed(
        "src-bucket", "dst-bucket", "AssumeRoleNotPermitted", actor="operator:ana"
    )
    assert fixed.fixed and fixed.fixed_by == "operator:ana" and fixed.fixed_at == clock.now
    assert ledger.list_incidents() == [] and ledger.list_incidents(open_only=False) == [fixed]
    # When a failure that happened before the fix is delivered late
    ledger.record_event(failure_event(key="b", at=T0 + timedelta(minutes=1)), RETRY_AFTER_FIX)
    # Then the incident stays fixed (the object is counted)
    still = ledger.get_incident("src-bucket", "dst-bucket", "AssumeRoleNotPermitted")
    assert still is not None and still.fixed and still.object_count == 2
    # When a failure happens after the fix
    ledger.record_event(failure_event(key="c", at=clock.now + timedelta(minutes=1)), RETRY_AFTER_FIX)
    # Then it is open again
    (reopened,) = ledger.list_incidents()
    assert not reopened.fixed and reopened.fixed_at is None and reopened.object_count == 3


def test_incident_diagnosis_and_unknown_incidents(ledger: Ledger) -> None:
    from replimend.errors import NotFoundError

    ledger.record_event(failure_event(), RETRY_AFTER_FIX)
    diagnosed = ledger.record_diagnosis(
        "src-bucket", "dst-bucket", "AssumeRoleNotPermitted", "role trust: FAIL"
    )
    assert diagnosed.last_diagnosis == "role trust: FAIL"
    with pytest.raises(NotFoundError):
        ledger.record_diagnosis("src-bucket", "dst-bucket", "Nope", "x")
    with pytest.raises(NotFoundError):
        ledger.set_incident_fixed("src-bucket", "dst-bucket", "Nope", actor="operator:ana")
    unfixed = ledger.set_incident_fixed(
        "src-bucket", "dst-bucket", "AssumeRoleNotPermitted", actor="op", fixed=False
    )
    assert not unfixed.fixed and ledger.list_incidents() == [unfixed]


# ------------------------------------------------------------------ jobs


def _job(job_id: str = "job-1", source: str = "src-bucket", token: str = "tok-1", **changes: Any) -> Any:
    from replimend.models import JobRecord

    fields: dict[str, Any] = {
        "job_id": job_id,
        "source_bucket": source,
        "destination_bucket": "dst-bucket",
        "status": "New",
        "client_request_token": token,
        "object_count": 42,
        "manifest_arn": "arn:aws:s3:::manifests/m.csv",
        "manifest_etag": "abc",
        "created_at": T0,
    }
    return JobRecord(**{**fields, **changes})


def test_jobs_are_created_once_found_by_token_and_updated_conditionally(ledger: Ledger) -> None:
    # Given a job recorded once
    job = _job()
    assert ledger.create_job(job) is True
    # When it is recorded again (a retried run)
    assert ledger.create_job(job) is False
    # Then it reads back as written and is found by its request token
    assert ledger.get_job("job-1") == job
    assert ledger.find_job_by_token("tok-1") == job
    assert ledger.find_job_by_token("tok-unknown") is None and ledger.get_job("nope") is None
    # And updates are conditional on the version read
    active = ledger.update_job(job, status="Active", tasks_succeeded=10)
    assert (active.status, active.version) == ("Active", 1)
    with pytest.raises(ConflictError):
        ledger.update_job(job, status="Cancelled")
    with pytest.raises(ValueError, match="not a changeable"):
        ledger.update_job(active, job_id="other")
    assert ledger.get_job("job-1") == active


def test_a_token_cannot_be_reused_for_another_job(ledger: Ledger) -> None:
    ledger.create_job(_job())
    with pytest.raises(ConflictError, match="another job"):
        ledger.create_job(_job(job_id="job-2"))


def test_active_jobs_per_bucket_and_all_jobs(ledger: Ledger) -> None:
    a1 = _job("a1", "src-a", "t1")
    a2 = _job("a2", "src-a", "t2", kind="backfill", destination_bucket=None)
    b1 = _job("b1", "src-b", "t3")
    for job in (a1, a2, b1):
        ledger.create_job(job)
    done = ledger.update_job(
        a1, status="Complete", finished_at=T0 + timedelta(hours=1), outcome_recorded=True
    )
    assert [j.job_id for j in ledger.active_jobs("src-a")] == ["a2"]
    assert [j.job_id for j in ledger.active_jobs()] == ["a2", "b1"]
    assert [j.job_id for j in ledger.list_jobs(active_only=True)] == ["a2", "b1"]
    assert {j.job_id for j in ledger.list_jobs()} == {"a1", "a2", "b1"}
    assert ledger.get_job("a1") == done and done.finished_at == T0 + timedelta(hours=1)
    assert ledger.get_job("a2") is not None and ledger.get_job("a2").destination_bucket is None  # type: ignore[union-attr]


# ------------------------------------------------------------------ errors and settings


def test_aws_errors_become_replimend_errors(ledger_table: Any) -> None:
    missing = boto3.resource("dynamodb", region_name="us-east-1").Table("no-such-table")
    with pytest.raises(AwsCallError) as caught:
        Ledger(missing).get_failure(REF)
    assert caught.value.code == "ResourceNotFoundException" and caught.value.operation == "GetItem"


def test_from_settings_uses_the_configured_table_and_shards(
    ledger_table: Any, ledger_table_name: str
) -> None:
    from replimend.settings import LedgerSettings, load_settings

    settings = load_settings(
        LedgerSettings,
        {"LEDGER_TABLE": ledger_table_name, "LEDGER_INDEX_SHARDS": "3", "HISTORY_RETENTION_DAYS": "7"},
    )
    ledger = Ledger.from_settings(settings)
    assert (ledger.table_name, ledger.index_shards, ledger.history_retention_days) == (
        ledger_table_name,
        3,
        7,
    )
    ledger.record_event(failure_event(), RETRY)
    assert ledger.get_failure(REF) is not None


def test_times_are_fixed_width_so_string_order_is_time_order() -> None:
    assert format_time(T0) == "20240905T210432.527000Z"
    assert format_time(T0.replace(microsecond=0, tzinfo=None)) == "20240905T210432.000000Z"


def test_touch_incident_counts_reopens_and_otherwise_leaves_it_alone(
    ledger: Ledger, clock: FakeClock
) -> None:
    # Given an incident opened by a job report with three failed tasks
    opened = ledger.touch_incident("src-bucket", "dst-bucket", "KMSAccessDenied", new_objects=3, at=clock.now)
    assert (opened.object_count, opened.fixed) == (3, False)
    # When it is only touched (no new objects, no time), nothing changes
    assert ledger.touch_incident("src-bucket", "dst-bucket", "KMSAccessDenied") == opened
    # When it was fixed and a later report fails again, it reopens and counts
    clock.advance(minutes=5)
    ledger.set_incident_fixed("src-bucket", "dst-bucket", "KMSAccessDenied", actor="operator:ana")
    clock.advance(minutes=5)
    reopened = ledger.touch_incident(
        "src-bucket", "dst-bucket", "KMSAccessDenied", new_objects=1, at=clock.now
    )
    assert (reopened.object_count, reopened.fixed, reopened.fixed_by) == (4, False, None)
