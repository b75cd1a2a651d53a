"""A backfill job's completion report through track_jobs: versions the ledger never saw enter it
``found_by: backfill`` with per-destination outcomes; failures open incidents like event-reported ones."""

from __future__ import annotations

from replimend.models import Classification, ObjectRef, ObjectState
from replimend.ports import JobDescription
from replimend.reasons import reason_entry
from tests.integration.backfill.conftest import DEST, DEST2, REPORTS, SOURCE, World
from tests.integration.ledger_helpers import failure_event


def finish(world: World, job_id: str, *, succeeded: int, failed: int) -> None:
    world.jobs.described[job_id] = JobDescription(
        job_id=job_id,
        status="Complete",
        total_tasks=succeeded + failed,
        tasks_succeeded=succeeded,
        tasks_failed=failed,
        report_enabled=True,
        report_bucket=REPORTS,
        report_prefix=f"backfill-reports/{SOURCE}",
    )


def test_report_rows_the_ledger_did_not_know_enter_it_found_by_backfill(world: World) -> None:
    # Given a backfill job over a source with two destinations; one version's replica is in dst2 only
    world.add_destination("dst2")
    [job_id] = world.backfill().run(scan_pending=False).jobs
    world.s3.put_object(Bucket="dst2", Key="b c.txt", Body=b"x")
    version_b = world.s3.list_object_versions(Bucket="dst2", Prefix="b c.txt")["Versions"][0]["VersionId"]
    world.write_report(
        job_id,
        [
            f"{SOURCE},a.txt,v1,succeeded,200,,Successful",
            f"{SOURCE},b%20c.txt,{version_b},failed,403,DstPutObjectNotPermitted,Access denied",
            f"{SOURCE},gone.txt,,failed,404,SrcKeyNotFound,No such key",
        ],
    )
    finish(world, job_id, succeeded=1, failed=2)

    # When track_jobs sees the job complete
    result = world.tracker().reconcile()

    # Then the succeeded version is REPLICATED towards both destinations, found by backfill
    [update] = result.jobs
    assert update.found == 6 and update.replicated == 3 and update.unmatched == 0  # 3 versions x 2
    for destination in (DEST, DEST2):
        record = world.ledger.get_failure(ObjectRef(SOURCE, "a.txt", "v1", destination))
        assert record is not None and record.state is ObjectState.REPLICATED and record.found_by == "backfill"
    # And the failed task is charged to the destination whose replica is absent, not to dst2
    failed = world.ledger.get_failure(ObjectRef(SOURCE, "b c.txt", version_b, DEST))
    present = world.ledger.get_failure(ObjectRef(SOURCE, "b c.txt", version_b, DEST2))
    assert failed is not None and failed.state is ObjectState.FAILED
    assert failed.failure_reason == "DstPutObjectNotPermitted" and failed.found_by == "backfill"
    assert present is not None and present.state is ObjectState.REPLICATED
    # And its configuration reason opens an incident, as an event would
    incident = world.ledger.get_incident(SOURCE, DEST, "DstPutObjectNotPermitted")
    assert incident is not None and incident.object_count == 1
    # And a gone source version (null version) is closed as the reason's registry entry says
    gone = world.ledger.get_failure(ObjectRef(SOURCE, "gone.txt", None, DEST))
    assert gone is not None and gone.state is ObjectState.OBSOLETE
    # And the history says how it was found
    [line] = [h for h in world.ledger.history(SOURCE, "a.txt") if h.ref.destination_bucket == DEST]
    assert line.reason == "found_by: backfill" and line.job_id == job_id and line.actor == "track_jobs"
    [job] = world.ledger.list_jobs()
    assert job.kind == "backfill" and job.outcome_recorded


def test_a_version_an_event_reported_is_closed_when_backfill_replicated_it(world: World) -> None:
    # Given a failure an event reported, still FAILED in the ledger
    entry = reason_entry("DstPutObjectNotPermitted")
    world.ledger.record_event(
        failure_event(source=SOURCE, destination=DEST, key="k.txt", version="v7", reason=entry.code),
        Classification(entry.action, entry.category, entry.code, known=True),
    )
    [job_id] = world.backfill().run(scan_pending=False).jobs
    world.write_report(job_id, [f"{SOURCE},k.txt,v7,succeeded,200,,Successful"])
    finish(world, job_id, succeeded=1, failed=0)

    [update] = world.tracker().reconcile().jobs

    record = world.ledger.get_failure(ObjectRef(SOURCE, "k.txt", "v7", DEST))
    assert record is not None and record.state is ObjectState.DONE and record.found_by == "event"
    assert update.closed == 1 and update.found == 0


def test_applying_the_same_report_twice_changes_nothing(world: World) -> None:
    [job_id] = world.backfill().run(scan_pending=False).jobs
    world.write_report(job_id, [f"{SOURCE},a.txt,v1,failed,403,DstPutObjectNotPermitted,denied"])
    finish(world, job_id, succeeded=0, failed=1)
    tracker = world.tracker()
    [first] = tracker.reconcile().jobs
    [job] = world.ledger.list_jobs()
    again = tracker.refresh(world.ledger.get_job(job.job_id) or job)
    assert first.found == 1 and again.found == 0 and again.note == "outcome already recorded"
    incident = world.ledger.get_incident(SOURCE, DEST, "DstPutObjectNotPermitted")
    assert incident is not None and incident.object_count == 1
