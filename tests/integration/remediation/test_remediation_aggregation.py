"""Aggregation at scale: 10,000 failures of one bucket are one job, not 10,000 — with the API bill."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from replimend.models import ObjectState
from tests.integration.remediation.conftest import DEST, SOURCE, World

# moto spends ~30 ms per failure (seeding + pass), so the default suite runs 1,000; the 10,000 figure
# in the README comes from REPLIMEND_AGGREGATION_FAILURES=10000 (about 6 minutes).
FAILURES = int(os.environ.get("REPLIMEND_AGGREGATION_FAILURES", "1000"))


def test_a_failure_storm_makes_exactly_one_job_with_one_manifest_row_per_failure(world: World) -> None:
    # Given 10,000 failed objects of one (source, destination)
    seeding = time.perf_counter()
    for number in range(FAILURES):
        world.fail(f"storm/{number:05d} file.bin")
    world.expect_create_job("job-storm")
    print(f"\nseeding {FAILURES} failures took {time.perf_counter() - seeding:.1f}s")
    world.calls.clear()
    # When one remediation pass runs
    started = time.perf_counter()
    result = world.remediation().run()
    elapsed = time.perf_counter() - started
    # Then exactly one CreateJob call, with one manifest of 10,000 rows
    assert world.calls["s3-control.CreateJob"] == 1
    assert result.jobs == ["job-storm"]
    (pair,) = result.sources
    assert (pair.source_bucket, pair.destinations) == (SOURCE, [DEST])
    assert pair.planned == pair.marked_in_job == FAILURES
    assert len(world.manifest_rows(pair.manifest_keys[0])) == FAILURES
    # And the calls per 10,000 failures are what the design budgets: one HEAD per object, one
    # conditional write (+ history put) per object, DynamoDB reads by the page, one manifest PUT.
    calls = dict(sorted(world.calls.items()))
    report = {"failures": FAILURES, "seconds_in_moto": round(elapsed, 1), "calls": calls}
    print(f"\nAPI calls per {FAILURES} failures:", json.dumps(report, indent=1))
    out = os.environ.get("REPLIMEND_CALLS_REPORT")
    if out:
        Path(out).write_text(json.dumps(report, indent=1))
    assert calls["s3.HeadObject"] == FAILURES
    assert calls["s3.PutObject"] == 2  # the manifest and its pending marker
    dynamodb_writes = sum(n for name, n in calls.items() if name.split(".")[1] in {"PutItem", "UpdateItem"})
    assert dynamodb_writes <= 2 * FAILURES + 10  # one conditional transition each (history is on the item)
    # Reads: the due-work index by the page, then each version's records towards every destination
    # of the source with BatchGetItem, a hundred a call: paged reads, not one call per object
    assert calls.get("dynamodb.Query", 0) < FAILURES / 10
    assert calls.get("dynamodb.BatchGetItem", 0) <= FAILURES / 100 + 1
    assert sum(1 for _ in world.ledger.failures_in_state(ObjectState.IN_JOB)) == FAILURES
