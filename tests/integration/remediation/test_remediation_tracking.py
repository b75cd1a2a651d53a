"""Tracking jobs: events and polling, completion reports, per-object outcomes, stuck jobs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from replimend.models import ObjectRef, ObjectState
from tests.integration.remediation.conftest import DEST, REPORTS, SOURCE, World

PREFIX = f"reports/{SOURCE}"


def start_job(
    world: World, keys: list[str], job_id: str = "job-1", reason: str = "DstVersionNotFound"
) -> dict[str, str | None]:
    versions = {key: world.fail(key, reason=reason) for key in keys}
    world.expect_create_job(job_id)
    result = world.remediation().run()
    assert result.jobs == [job_id]
    return versions


def write_report(world: World, job_id: str, rows: list[str]) -> None:
    """A completion report as S3 writes it: manifest.json + one results CSV (AWS's example column order)."""
    results_key = f"{PREFIX}/job-{job_id}/results/6217b0fab0de85c408b4be96aeaca9b195a7daa5.csv"
    world.s3.put_object(Bucket=REPORTS, Key=results_key, Body="".join(rows).encode())
    manifest = {
        "Format": "Report_CSV_20180820",
        "ReportCreationDate": "2024-09-05T22:00:00.000Z",
        "Results": [
            {"TaskExecutionStatus": "failed", "Bucket": REPORTS, "MD5Checksum": "x", "Key": results_key}
        ],
        "ReportSchema": "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage",
    }
    world.s3.put_object(
        Bucket=REPORTS, Key=f"{PREFIX}/job-{job_id}/manifest.json", Body=json.dumps(manifest).encode()
    )


def ok(key: str, version: str | None) -> str:
    return f"{SOURCE},{quote(key, safe='')},{version},succeeded,200,,Successful\n"


def failed(key: str, version: str | None, code: str = "PermanentFailure", message: str = "failed") -> str:
    return f'{SOURCE},{quote(key, safe="")},{version},failed,400,{code},"{message}"\n'


def job_event(job_id: str, status: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "ev-1",
        "detail-type": "AWS Service Event via CloudTrail",
        "source": "aws.s3",
        "account": "111122223333",
        "time": "2024-09-05T22:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.05",
            "eventSource": "s3.amazonaws.com",
            "eventName": "JobStatusChanged",
            "awsRegion": "us-east-1",
            "eventType": "AwsServiceEvent",
            "serviceEventDetails": {
                "jobId": job_id,
                "jobArn": f"arn:aws:s3:us-east-1:111122223333:job/{job_id}",
                "status": status,
                "jobEventId": "e1",
                "failureCodes": [],
                "statusChangeReason": [],
            },
        },
    }


def record(world: World, key: str, version: str | None) -> Any:
    return world.ledger.get_failure(ObjectRef(SOURCE, key, version, DEST))


def test_a_complete_job_replicates_every_object(world: World) -> None:
    versions = start_job(world, ["a", "b c", "d,e"])
    write_report(world, "job-1", [ok(k, v) for k, v in versions.items()])
    world.expect_describe_job("job-1", "Complete", succeeded=3)
    # When the status event arrives
    result = world.tracker().handle_event(job_event("job-1", "Complete"))
    # Then every object is REPLICATED and the job is recorded as a success
    (update,) = result.jobs
    assert (update.outcome, update.replicated) == ("succeeded", 3)
    for key, version in versions.items():
        assert record(world, key, version).state is ObjectState.REPLICATED
    job = world.ledger.get_job("job-1")
    assert job is not None and job.outcome_recorded and job.status == "Complete" and job.finished_at
    # And its history shows the whole story
    kinds = [(h.from_state, h.to_state) for h in world.ledger.history(SOURCE, "a") if h.kind == "transition"]
    assert kinds[-2:] == [
        (ObjectState.FAILED, ObjectState.IN_JOB),
        (ObjectState.IN_JOB, ObjectState.REPLICATED),
    ]


def test_complete_with_failed_tasks_is_partial_and_failures_back_off(world: World) -> None:
    versions = start_job(world, ["good", "bad", "gone"])
    write_report(
        world,
        "job-1",
        [
            ok("good", versions["good"]),
            failed("bad", versions["bad"], "PermanentFailure", "Error: internal, please retry"),
            failed("gone", versions["gone"], "SrcVersionNotFound", "version deleted"),
        ],
    )
    world.expect_describe_job("job-1", "Complete", succeeded=1, failed=2)
    # When reconciliation polls the job
    result = world.tracker().reconcile()
    (update,) = result.jobs
    # Then it is a partial success; the failure retries with backoff, the gone version is obsolete
    assert (update.outcome, update.replicated, update.retrying, update.closed) == ("partial", 1, 1, 1)
    bad = record(world, "bad", versions["bad"])
    assert (bad.state, bad.attempts, bad.failure_reason) == (ObjectState.FAILED, 1, "PermanentFailure")
    assert bad.next_attempt_at == world.clock.now + timedelta(seconds=600)
    assert record(world, "gone", versions["gone"]).state is ObjectState.OBSOLETE
    # And a second delivery (event after the poll) applies nothing twice
    again = world.tracker().handle_event(job_event("job-1", "Complete"))
    assert again.jobs == [] and again.ignored
    assert record(world, "bad", versions["bad"]).attempts == 1


def test_a_failed_job_without_report_returns_its_objects_with_the_job_reason(world: World) -> None:
    versions = start_job(world, ["x", "y"])
    world.expect_describe_job(
        "job-1",
        "Failed",
        failure_reasons=[{"FailureCode": "ReportBucketNotWritable", "FailureReason": "no access"}],
    )
    result = world.tracker().reconcile()
    (update,) = result.jobs
    assert (update.outcome, update.returned) == ("failed", 2)
    for key, version in versions.items():
        item = record(world, key, version)
        assert (item.state, item.failure_reason, item.attempts) == (
            ObjectState.FAILED,
            "ReportBucketNotWritable",
            1,
        )
    job = world.ledger.get_job("job-1")
    assert job is not None and job.failure_reasons == ["ReportBucketNotWritable: no access"]


def test_a_cancelled_job_returns_its_objects_without_counting_an_attempt(world: World) -> None:
    versions = start_job(world, ["x"])
    world.expect_describe_job("job-1", "Cancelled")
    (update,) = world.tracker().reconcile().jobs
    assert update.outcome == "cancelled" and update.returned == 1
    item = record(world, "x", versions["x"])
    assert (item.state, item.attempts, item.failure_reason) == (ObjectState.FAILED, 0, "JobCancelled")


def test_an_object_gives_up_after_max_attempts(world: World) -> None:
    # Given max_attempts 3: an object failing in three jobs in a row
    version = world.fail("stubborn")
    for attempt in range(1, 4):
        job_id = f"job-{attempt}"
        world.expect_create_job(job_id)
        assert world.remediation().run().jobs == [job_id]
        write_report(world, job_id, [failed("stubborn", version)])
        world.expect_describe_job(job_id, "Complete", failed=1)
        world.tracker().reconcile()
        world.clock.advance(hours=2)  # past the backoff
    # Then it is GAVE_UP (escalated) and no further job is started
    item = record(world, "stubborn", version)
    assert (item.state, item.attempts) == (ObjectState.GAVE_UP, 3)
    assert world.remediation().run().jobs == []


def test_a_job_that_gives_objects_up_tells_people_once(world: World) -> None:
    sent: list[tuple[str, str]] = []

    class Recorder:
        def publish(self, subject: str, message: str) -> None:
            sent.append((subject, message))

    # Given max_attempts 1: two objects failing in their one job
    versions = [world.fail(key) for key in ("x", "y")]
    world.expect_create_job("job-1")
    assert world.remediation(max_attempts=1).run().jobs == ["job-1"]
    write_report(world, "job-1", [failed("x", versions[0]), failed("y", versions[1])])
    world.expect_describe_job("job-1", "Complete", failed=2)
    tracker = world.tracker()
    tracker.notifier = Recorder()
    tracker.settings = world.settings.model_copy(update={"max_attempts": 1})
    # When the job is tracked, Then one message says both objects need a person
    tracker.reconcile()
    ((subject, message),) = sent
    assert subject == f"replimend: objects need a person ({SOURCE} -> {DEST})"
    assert "2 object(s) given up" in message


def test_progress_events_update_status_without_describe(world: World) -> None:
    start_job(world, ["a"])
    result = world.tracker().handle_event(job_event("job-1", "Active"))  # no DescribeJob stubbed
    assert result.jobs[0].status == "Active"
    assert world.ledger.get_job("job-1").status == "Active"  # type: ignore[union-attr]


def test_events_for_jobs_we_did_not_start_are_ignored(world: World) -> None:
    result = world.tracker().handle_event(job_event("someone-elses", "Complete"))
    assert result.jobs == [] and result.ignored


def test_a_suspended_job_is_reported_stale_and_no_longer_polled(world: World) -> None:
    start_job(world, ["a"])
    world.expect_describe_job("job-1", "Suspended", SuspendedCause="AwaitingConfirmation")
    (update,) = world.tracker().reconcile().jobs
    assert update.stale and "Suspended" in (update.note or "")
    assert world.ledger.get_job("job-1").stale_since is not None  # type: ignore[union-attr]
    # When reconciliation runs again (no DescribeJob stubbed: a poll would fail the test)
    again = world.tracker().reconcile()
    assert again.jobs == [] and again.ignored


def test_a_job_running_too_long_is_stale(world: World) -> None:
    start_job(world, ["a"])
    world.clock.advance(hours=49)
    world.expect_describe_job("job-1", "Active")
    (update,) = world.tracker().reconcile().jobs
    assert update.stale


def test_a_config_failure_in_the_report_reopens_the_gate(world: World) -> None:
    # Given a retry failure in a job whose task fails with a configuration reason
    versions = start_job(world, ["k"])
    write_report(
        world, "job-1", [failed("k", versions["k"], "PermanentFailure", "DstPutObjectNotPermitted: denied")]
    )
    world.expect_describe_job("job-1", "Complete", failed=1)
    world.tracker().reconcile()
    # Then the object waits behind an (opened) incident for that reason
    item = record(world, "k", versions["k"])
    assert item.failure_reason == "DstPutObjectNotPermitted"
    incident = world.ledger.get_incident(SOURCE, DEST, "DstPutObjectNotPermitted")
    assert incident is not None and not incident.fixed
    world.clock.advance(hours=2)
    result = world.remediation().run()
    assert result.jobs == [] and result.sources[0].blocked == 1


def test_a_fix_that_did_not_hold_reopens_the_incident_without_counting_its_objects_twice(
    world: World,
) -> None:
    # Given two objects failed for a configuration reason, its incident marked fixed, and a job
    reason = "DstPutObjectNotPermitted"
    versions = {key: world.fail(key, reason=reason) for key in ("a", "b")}
    assert world.ledger.get_incident(SOURCE, DEST, reason).object_count == 2
    world.ledger.set_incident_fixed(SOURCE, DEST, reason, actor="operator:test")
    world.expect_create_job("job-1")
    assert world.remediation().run().jobs == ["job-1"]
    # When the job fails both again for the same reason
    write_report(
        world, "job-1", [failed(key, version, reason, "denied") for key, version in versions.items()]
    )
    world.expect_describe_job("job-1", "Complete", failed=2)
    world.clock.advance(minutes=5)
    world.tracker().reconcile()
    # Then the incident is open again, still counting the same two objects
    incident = world.ledger.get_incident(SOURCE, DEST, reason)
    assert incident is not None and not incident.fixed
    assert incident.object_count == 2


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def publish(self, subject: str, message: str) -> None:
        self.sent.append((subject, message))


def test_a_job_failing_objects_whose_checks_pass_tells_people_the_cause_is_unseen(world: World) -> None:
    # Given an incident resolved by diagnosis (every check passed) and its objects in a job
    reason = "DstPutObjectNotPermitted"
    versions = {key: world.fail(key, reason=reason) for key in ("a", "b")}
    world.ledger.set_incident_fixed(SOURCE, DEST, reason, actor="diagnosis")
    world.expect_create_job("job-1")
    assert world.remediation().run().jobs == ["job-1"]
    # (the pass's own gate recorded no checks: the diagnosis that passed is recorded here)
    passing = [
        {"name": "replication_role_destination_permissions", "status": "PASS", "evidence": "ok", "fix": None}
    ]
    world.ledger.record_diagnosis(SOURCE, DEST, reason, "diagnosis passes", passing)
    # When the job fails both again for that reason (an SCP, say)
    write_report(
        world, "job-1", [failed(key, version, reason, "denied") for key, version in versions.items()]
    )
    world.expect_describe_job("job-1", "Complete", failed=2)
    tracker = world.tracker()
    tracker.notifier = recorder = Recorder()
    tracker.reconcile()
    # Then one message, for the incident, says its checks pass and the job failed anyway
    ((subject, message),) = recorder.sent
    assert subject == f"replimend: {reason} again though its checks pass ({SOURCE})"
    assert "job-1 failed 2 object(s)" in message


def test_objects_a_report_escalates_are_told_once_per_incident(world: World) -> None:
    versions = start_job(world, ["p", "q"])
    write_report(
        world,
        "job-1",
        [failed(key, version, "DstObjectHardDeleted", "?") for key, version in versions.items()],
    )
    world.expect_describe_job("job-1", "Complete", failed=2)
    tracker = world.tracker()
    tracker.notifier = recorder = Recorder()
    (update,) = tracker.reconcile().jobs
    escalated = [m for _, m in recorder.sent if "escalated" in m]
    assert update.escalated_by == {DEST: {"DstObjectHardDeleted": 2}}
    assert len(escalated) == 1 and "2 object(s) escalated (DstObjectHardDeleted)" in escalated[0]
