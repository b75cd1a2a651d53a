"""A crash between writing the manifest, creating the job and marking the objects never makes a
second job nor loses an object: each test kills the pass at one step and runs it again."""

from __future__ import annotations

from typing import Any

import pytest

from replimend.models import ObjectState
from tests.integration.remediation.conftest import MANIFESTS, SOURCE, World

KEYS = [f"crash/{n}.bin" for n in range(6)]


class Crash(Exception):  # stands for the process dying: deliberately not a ReplimendError
    """The Lambda dies here."""


def seed(world: World) -> dict[str, str | None]:
    return {key: world.fail(key) for key in KEYS}


def assert_all_in_one_job(world: World, versions: dict[str, str | None], job_id: str) -> None:
    for key, version in versions.items():
        record = world.ledger.get_failure(_ref(key, version))
        assert record is not None and (record.state, record.job_id) == (ObjectState.IN_JOB, job_id), key
        in_job = [h for h in world.ledger.history(SOURCE, key) if h.to_state is ObjectState.IN_JOB]
        assert len(in_job) == 1, f"{key} marked IN_JOB {len(in_job)} times"
    assert [j.job_id for j in world.ledger.list_jobs()] == [job_id]
    assert world.s3.list_objects_v2(Bucket=MANIFESTS, Prefix="pending/").get("KeyCount", 0) == 0


def die_once_s3_accepted_the_job(remediation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pass dies right after CreateJob succeeded, before the ledger knows the job."""
    real_create = remediation.jobs.create_replication_job

    def create_then_die(request: Any) -> str:
        real_create(request)
        raise Crash

    monkeypatch.setattr(remediation.jobs, "create_replication_job", create_then_die)


def test_crash_after_the_manifest_is_written(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = seed(world)
    remediation = world.remediation()
    real_put = remediation.storage.put_manifest

    def put_then_die(*args: Any, **kwargs: Any) -> str:
        real_put(*args, **kwargs)
        raise Crash

    monkeypatch.setattr(remediation.storage, "put_manifest", put_then_die)
    # Given a pass that dies right after writing the manifest
    with pytest.raises(Crash):
        remediation.run()
    assert world.create_job_requests == []
    # When the next pass runs / Then one job starts for every object
    world.expect_create_job("job-1")
    world.remediation().run()
    assert len(world.create_job_requests) == 1
    assert_all_in_one_job(world, versions, "job-1")


def test_crash_after_create_job_before_it_is_recorded(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = seed(world)
    remediation = world.remediation()
    die_once_s3_accepted_the_job(remediation, monkeypatch)
    world.expect_create_job("job-1")
    # Given a pass that dies once S3 accepted CreateJob but before the ledger knew
    with pytest.raises(Crash):
        remediation.run()
    # When the next pass resumes the marker, ListJobs finds the job by the tag in its Description
    (request,) = world.create_job_requests
    world.expect_list_jobs(("other-job", "someone else's job"), ("job-1", request["Description"]))
    result = world.remediation().run()
    # Then no second CreateJob was sent (what S3 does with a re-used token is not documented)
    assert len(world.create_job_requests) == 1 and result.sources[0].resumed_jobs == ["job-1"]
    assert_all_in_one_job(world, versions, "job-1")


def test_a_resumed_job_s3_does_not_list_yet_is_found_when_create_job_refuses_its_token(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = seed(world)
    remediation = world.remediation()
    die_once_s3_accepted_the_job(remediation, monkeypatch)
    world.expect_create_job("job-1")
    with pytest.raises(Crash):
        remediation.run()
    (request,) = world.create_job_requests
    # Given ListJobs does not show the job yet, and CreateJob answers the re-used token with
    # IdempotencyException (one of the answers AWS might give)
    world.expect_list_jobs()
    world.expect_create_job_refused()
    world.expect_list_jobs(("job-1", request["Description"]))
    # When the next pass resumes / Then the job is found and every object is in it once
    result = world.remediation().run()
    assert result.sources[0].resumed_jobs == ["job-1"]
    assert_all_in_one_job(world, versions, "job-1")


def test_a_pending_job_that_cannot_be_resumed_releases_its_pair_after_a_few_passes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from replimend.remediate.remediation import MAX_RESUMES

    versions = seed(world)
    remediation = world.remediation()

    def create_dies(request: Any) -> str:
        raise Crash

    monkeypatch.setattr(remediation.jobs, "create_replication_job", create_dies)
    with pytest.raises(Crash):
        remediation.run()  # the marker is written, no job exists
    # Given S3 never lists the job and refuses the token every time
    for attempt in range(1, MAX_RESUMES + 1):
        world.expect_list_jobs()
        world.expect_create_job_refused()
        world.expect_list_jobs()
        result = world.remediation().run()
        (pair,) = result.sources
        assert pair.errors and pair.jobs == []  # held: no new job while the marker is unresolved
        assert pair.released_markers == int(attempt == MAX_RESUMES)
    # Then after MAX_RESUMES passes the pair is released: the next pass plans its objects again,
    # under a new token (the refused one cannot hold them forever)
    world.expect_create_job("job-2")
    result = world.remediation().run()
    assert result.jobs == ["job-2"]
    first, *_, last = world.create_job_requests
    assert first["ClientRequestToken"] != last["ClientRequestToken"]
    assert_all_in_one_job(world, versions, "job-2")


def test_crash_after_create_job_while_new_failures_arrive(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = seed(world)
    remediation = world.remediation()
    die_once_s3_accepted_the_job(remediation, monkeypatch)
    world.expect_create_job("job-1")
    with pytest.raises(Crash):
        remediation.run()
    # Given a new failure recorded before the retry (the rows of a fresh plan would differ)
    late = world.fail("late.bin")
    world.expect_list_jobs(("job-1", world.create_job_requests[0]["Description"]))  # the resumed job
    world.expect_create_job("job-2")  # the new object's own job
    # When the next pass runs
    result = world.remediation().run()
    # Then the old objects stay in job-1 only and the new one is in job-2: no object in two jobs
    assert result.sources[0].resumed_jobs == ["job-1"] and result.sources[0].jobs == ["job-2"]
    for key, version in versions.items():
        assert world.ledger.get_failure(_ref(key, version)).job_id == "job-1"  # type: ignore[union-attr]
    assert world.ledger.get_failure(_ref("late.bin", late)).job_id == "job-2"  # type: ignore[union-attr]
    assert (
        len(
            world.manifest_rows(
                world.create_job_requests[1]["Manifest"]["Location"]["ObjectArn"].split("/", 1)[1]
            )
        )
        == 1
    )


@pytest.mark.parametrize("marked_before_crash", [0, 3, 6])
def test_crash_midway_through_marking(
    world: World, monkeypatch: pytest.MonkeyPatch, marked_before_crash: int
) -> None:
    versions = seed(world)
    remediation = world.remediation()
    real_transition = world.ledger.transition
    marked = 0

    def transition_then_die(record: Any, to_state: ObjectState, **kwargs: Any) -> Any:
        nonlocal marked
        if to_state is ObjectState.IN_JOB:
            if marked == marked_before_crash:
                raise Crash
            marked += 1
        return real_transition(record, to_state, **kwargs)

    # Given a pass that dies after marking some objects (6: all marked, marker not yet deleted)
    if marked_before_crash == len(KEYS):
        real_delete = remediation.storage.delete

        def delete_dies(*args: Any, **kwargs: Any) -> None:
            raise Crash

        monkeypatch.setattr(remediation.storage, "delete", delete_dies)
    else:
        monkeypatch.setattr(world.ledger, "transition", transition_then_die)
    world.expect_create_job("job-1")
    with pytest.raises(Crash):
        remediation.run()
    monkeypatch.undo()
    if marked_before_crash == len(KEYS):
        assert real_delete  # restored by undo
    # When the next pass runs (no CreateJob stubbed: the ledger knows the job by its token)
    world.remediation().run()
    # Then every object is IN_JOB exactly once, in the one job
    assert len(world.create_job_requests) == 1
    assert_all_in_one_job(world, versions, "job-1")


def _ref(key: str, version: str | None):  # type: ignore[no-untyped-def]
    from replimend.models import ObjectRef
    from tests.integration.remediation.conftest import DEST

    return ObjectRef(SOURCE, key, version, DEST)
