"""Tracking under faults: a crash between report rows, a truncated or malformed report, a job
status nobody documented. Nothing is lost, nothing applied twice, nothing left IN_JOB."""

from __future__ import annotations

from typing import Any

import pytest

from replimend.models import ObjectState
from replimend.track.tracker import JobTracker
from replimend.wiring import publish_tracking_metrics
from tests.integration.remediation.conftest import REPORTS, SOURCE, World
from tests.integration.remediation.test_remediation_faults import Metrics
from tests.integration.remediation.test_remediation_tracking import (
    PREFIX,
    job_event,
    ok,
    start_job,
    write_report,
)

KEYS = [f"fault/{n}.bin" for n in range(6)]


class Crash(Exception):
    """The Lambda dies here."""


def test_a_crash_between_report_rows_is_finished_by_the_next_run_without_applying_a_row_twice(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = start_job(world, KEYS)
    write_report(world, "job-1", [ok(k, v) for k, v in versions.items()])
    world.expect_describe_job("job-1", "Complete", succeeded=len(KEYS))
    real = world.ledger.transition
    moved = 0

    def transition_then_die(record: Any, to_state: ObjectState, **kwargs: Any) -> Any:
        nonlocal moved
        if to_state is ObjectState.REPLICATED:
            if moved == 3:
                raise Crash
            moved += 1
        return real(record, to_state, **kwargs)

    monkeypatch.setattr(world.ledger, "transition", transition_then_die)
    with pytest.raises(Crash):
        world.tracker().handle_event(job_event("job-1", "Complete"))
    monkeypatch.undo()
    # When the reconciliation runs (the job is finished but its outcome not recorded)
    world.expect_describe_job("job-1", "Complete", succeeded=len(KEYS))
    world.tracker().reconcile()
    # Then every object is REPLICATED once
    for key, version in versions.items():
        assert world.state_of(key, version) is ObjectState.REPLICATED
        replicated = [h for h in world.ledger.history(SOURCE, key) if h.to_state is ObjectState.REPLICATED]
        assert len(replicated) == 1
    job = world.ledger.get_job("job-1")
    assert job is not None and job.outcome_recorded


@pytest.mark.parametrize(
    "report",
    [
        "truncated",  # the results file stops mid-row
        "malformed manifest",  # manifest.json is not JSON
        "garbage rows",  # rows that are not a report's
    ],
)
def test_a_damaged_report_leaves_nothing_in_job(
    world: World, report: str, caplog: pytest.LogCaptureFixture
) -> None:
    versions = start_job(world, KEYS)
    rows = [ok(k, v) for k, v in versions.items()]
    if report == "truncated":
        write_report(world, "job-1", [*rows[:2], rows[2][: len(rows[2]) // 2]])
    elif report == "garbage rows":
        write_report(world, "job-1", ['"unterminated,quote\n', "\x00\x01,\n", "only,three,fields\n"])
    else:
        world.s3.put_object(Bucket=REPORTS, Key=f"{PREFIX}/job-job-1/manifest.json", Body=b"{not json")
    world.expect_describe_job("job-1", "Complete", succeeded=len(KEYS))
    result = world.tracker().handle_event(job_event("job-1", "Complete"))
    (update,) = result.jobs
    states = [world.state_of(k, v) for k, v in versions.items()]
    assert ObjectState.IN_JOB not in states
    assert update.replicated + update.returned == len(KEYS)
    # and the damage is visible: a log line, and the unread rows or returned objects in the metrics
    logged = {r.getMessage() for r in caplog.records}
    assert logged & {"unreadable completion report", "unreadable report row"}
    metrics = Metrics()
    publish_tracking_metrics(result, metrics)
    assert metrics.values["ReportRowsUnreadable"] + metrics.values["ObjectsReturnedFromJob"] > 0


def test_a_job_status_nobody_documented_is_kept_and_polled_again(world: World) -> None:
    versions = start_job(world, KEYS[:2])
    world.expect_describe_job("job-1", "Reticulating")
    result = world.tracker().reconcile()
    assert not result.errors
    job = world.ledger.get_job("job-1")
    assert job is not None and job.status == "Reticulating" and not job.outcome_recorded
    assert all(world.state_of(k, v) is ObjectState.IN_JOB for k, v in versions.items())


def test_a_report_too_big_for_one_run_goes_on_where_the_last_run_stopped(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a finished job whose report takes longer than a run's time budget (two rows a run here)
    versions = start_job(world, KEYS)
    rows = [ok(k, v) for k, v in versions.items()]
    write_report(world, "job-1", rows)
    ticks = iter(range(1_000_000))
    monkeypatch.setattr("replimend.track.tracker.time.monotonic", lambda: float(next(ticks)))
    applied: list[str] = []
    real = world.ledger.transition

    def counting(record: Any, to_state: ObjectState, **kwargs: Any) -> Any:
        applied.append(record.ref.key)
        return real(record, to_state, **kwargs)

    monkeypatch.setattr(world.ledger, "transition", counting)
    examined: list[str] = []
    real_apply_task = JobTracker._apply_task

    def examining(self: JobTracker, job: Any, task: Any, *args: Any) -> Any:
        examined.append(task.key)
        return real_apply_task(self, job, task, *args)

    monkeypatch.setattr(JobTracker, "_apply_task", examining)
    runs: list[Any] = []
    # When tracking runs with a budget of a few clock readings each time, until the job is done
    for _ in range(len(KEYS) + 2):
        world.expect_describe_job("job-1", "Complete", succeeded=len(KEYS))
        deadline = next(ticks) + 2  # the first row of a run always goes through
        result = (
            world.tracker().handle_event(job_event("job-1", "Complete"), deadline=deadline)
            if not runs
            else world.tracker().reconcile(deadline=deadline)
        )
        runs.append(result)
        job = world.ledger.get_job("job-1")
        assert job is not None
        if job.outcome_recorded:
            break
    # Then it took several runs, each going on where the last stopped: every row applied once
    assert len(runs) > 1
    assert any("applied up to row" in (u.note or "") for r in runs for u in r.jobs)
    assert sorted(applied) == sorted(examined) == sorted(KEYS)  # no row read again by a later run
    for key, version in versions.items():
        assert world.state_of(key, version) is ObjectState.REPLICATED
    job = world.ledger.get_job("job-1")
    assert job is not None and job.outcome_recorded and job.report_rows_done < len(KEYS)
