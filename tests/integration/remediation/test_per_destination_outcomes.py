"""A job covers every destination of its source; a report row has no destination column. Each
destination record is resolved from what can be known, and a failure is never charged to a
destination nothing says failed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from replimend.models import ObjectRef, ObjectState
from replimend.ports import ReplicaStatus
from tests.integration.ledger_helpers import failure_event
from tests.integration.remediation.conftest import SOURCE, World
from tests.integration.remediation.test_remediation_tracking import failed, job_event, ok, write_report

A, B = "dst-a", "dst-b"


def two_destination_job(world: World) -> str | None:
    version = world.fail("k.bin", destination=A)
    world.fail("k.bin", version=version, destination=B)
    world.expect_create_job("job-md")
    assert world.remediation().run().jobs == ["job-md"]
    return version


def track(
    world: World, row: str, replicas: dict[str, ReplicaStatus], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_report(world, "job-md", [row])
    world.expect_describe_job("job-md", "Complete", succeeded="succeeded" in row, failed="failed" in row)
    tracker = world.tracker()
    monkeypatch.setattr(
        tracker.objects,
        "replica_status",
        lambda bucket, key, version: replicas.get(bucket, ReplicaStatus.UNKNOWN),
    )
    tracker.handle_event(job_event("job-md", "Complete"))


def record(world: World, version: str | None, destination: str):  # type: ignore[no-untyped-def]
    return world.ledger.get_failure(ObjectRef(SOURCE, "k.bin", version, destination))


def test_a_succeeded_task_replicates_every_destination_in_the_job(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = two_destination_job(world)
    track(world, ok("k.bin", version), {}, monkeypatch)
    assert record(world, version, A).state is ObjectState.REPLICATED
    assert record(world, version, B).state is ObjectState.REPLICATED


def test_a_failed_task_is_charged_to_the_destination_whose_replica_is_absent(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = two_destination_job(world)
    row = failed("k.bin", version, code="DstPutObjectNotPermitted", message="Access denied")
    track(world, row, {A: ReplicaStatus.PRESENT, B: ReplicaStatus.ABSENT}, monkeypatch)
    a, b = record(world, version, A), record(world, version, B)
    assert a.state is ObjectState.REPLICATED
    assert (b.state, b.attempts, b.failure_reason) == (ObjectState.FAILED, 1, "DstPutObjectNotPermitted")
    # the configuration failure opens the incident of that destination only
    assert world.ledger.get_incident(SOURCE, B, "DstPutObjectNotPermitted") is not None
    assert world.ledger.get_incident(SOURCE, A, "DstPutObjectNotPermitted") is None


def test_when_nothing_tells_which_destination_failed_the_records_say_so(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = two_destination_job(world)
    row = failed("k.bin", version, code="DstPutObjectNotPermitted", message="Access denied")
    track(world, row, {}, monkeypatch)  # no read access to either destination
    for destination in (A, B):
        current = record(world, version, destination)
        # attempted and backing off, but its own reason kept and no incident charged
        assert (current.state, current.attempts, current.failure_reason) == (
            ObjectState.FAILED,
            1,
            "DstVersionNotFound",
        )
        last = world.ledger.history(SOURCE, "k.bin")[-1]
        assert "not known" in (last.reason or "")
        assert world.ledger.get_incident(SOURCE, destination, "DstPutObjectNotPermitted") is None


def test_a_failure_event_for_one_destination_after_the_job_started_names_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = two_destination_job(world)
    # Given S3 sent a failure event for B while the job ran (it may or may not: either way works)
    world.clock.advance(minutes=5)
    event = failure_event(
        key="k.bin",
        version=version,
        destination=B,
        reason="DstKmsKeyNotFound",
        at=world.clock.now,
        sequencer="0066DA1CBF104C0FFF",
    )
    from replimend.reasons import classify_failure

    world.ledger.record_event(event, classify_failure(event))
    row = failed("k.bin", version, code="DstKmsKeyNotFound", message="key")
    track(world, row, {}, monkeypatch)
    a, b = record(world, version, A), record(world, version, B)
    assert (b.state, b.failure_reason) == (ObjectState.FAILED, "DstKmsKeyNotFound")
    assert a.failure_reason == "DstVersionNotFound"  # not charged with B's failure
    assert b.next_attempt_at is not None and b.next_attempt_at > world.clock.now + timedelta(minutes=1)
