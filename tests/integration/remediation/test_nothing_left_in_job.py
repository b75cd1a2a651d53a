"""Nothing stays IN_JOB once its job has ended: every terminal outcome, with and without a report,
and report keys encoded any way (AWS does not document the encoding)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest

from replimend.models import ObjectRef, ObjectState
from tests.integration.remediation.conftest import DEST, SOURCE, World
from tests.integration.remediation.test_remediation_tracking import job_event, start_job, write_report

KEYS = ["plain.txt", "a+plus.txt", "space and+plus.bin", "100%.csv", "ü/é.txt"]


def row(key: str, version: str | None, encode: Callable[[str], str], ok: bool = True) -> str:
    status = "succeeded,200,," if ok else "failed,400,DstPutObjectNotPermitted,"
    return f'{SOURCE},{encode(key)},{version},{status}"done"\n'


ENCODINGS: dict[str, Callable[[str], str]] = {
    "as-in-manifest": lambda k: quote(k, safe=""),
    "form-encoded": lambda k: quote_plus(k, safe="/"),
    "raw": lambda k: k if "," not in k else quote(k, safe=""),
}

CASES = {
    # status, how many rows the report has (None: no report at all), their encoding
    "complete, full report": ("Complete", len(KEYS), "as-in-manifest"),
    "complete, full report, form-encoded keys": ("Complete", len(KEYS), "form-encoded"),
    "complete, full report, raw keys": ("Complete", len(KEYS), "raw"),
    "complete, rows missing": ("Complete", 2, "as-in-manifest"),
    "complete, no report": ("Complete", None, "as-in-manifest"),
    "failed, no report": ("Failed", None, "as-in-manifest"),
    "failed, partial report": ("Failed", 2, "as-in-manifest"),
    "cancelled, no report": ("Cancelled", None, "as-in-manifest"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_no_object_is_left_in_job_after_any_terminal_outcome(world: World, case: str) -> None:
    status, rows, encoding = CASES[case]
    # Given a job over objects with awkward keys
    versions = start_job(world, KEYS, job_id="job-end")
    listed = list(versions.items())[: rows or 0]
    if rows is not None:
        ok = status == "Complete"
        write_report(world, "job-end", [row(k, v, ENCODINGS[encoding], ok) for k, v in listed])
    succeeded = len(listed) if status == "Complete" else 0
    world.expect_describe_job("job-end", status, succeeded=succeeded, failed=len(listed) - succeeded)
    # When the job's terminal event arrives
    (update,) = world.tracker().handle_event(job_event("job-end", status)).jobs
    # Then no object is IN_JOB; the ones the report named are resolved by it, the rest counted
    states = {key: world.state_of(key, version) for key, version in versions.items()}
    assert ObjectState.IN_JOB not in states.values(), states
    assert update.unmatched == 0
    named = {k for k, _ in listed}
    for key, state in states.items():
        if key in named and status == "Complete":
            assert state is ObjectState.REPLICATED
        else:
            assert state is ObjectState.FAILED
    assert update.returned == len(KEYS) - len(named)
    # And an object the completed job's report left out lost no attempt and is due again at once
    if status == "Complete" and rows != len(KEYS):
        missing = next(k for k in KEYS if k not in named)
        record = world.ledger.get_failure(world_ref(missing, versions[missing]))
        assert record is not None and record.attempts == 0 and record.next_attempt_at == world.clock.now
    # And a cancelled job costs no attempt either
    if status == "Cancelled":
        record = world.ledger.get_failure(world_ref(KEYS[0], versions[KEYS[0]]))
        assert record is not None and record.attempts == 0


def world_ref(key: str, version: str | None) -> ObjectRef:
    return ObjectRef(SOURCE, key, version, DEST)
