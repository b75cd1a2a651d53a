"""Tracking under faults: a crash between report rows, a truncated or malformed report, a job
status nobody documented. Nothing is lost, nothing applied twice, nothing left IN_JOB."""

from __future__ import annotations

from typing import Any

import pytest

from replimend.models import ObjectState
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
