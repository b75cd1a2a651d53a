"""`make bench` at tiny sizes (one run shared by the tests), so the benchmark code cannot rot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import run as bench_run
from benchmarks.cost import cost_per_10000_failures
from benchmarks.remediation_bench import (
    put_source_objects,
    recorded_items,
    remediation_world,
    seed_with_record_event,
)
from benchmarks.workload import realistic_mix

STORM_EVENTS = 10


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BENCH_FAILURES", "4,12")
        env.setenv("BENCH_SPLIT", "12:5")
        env.setenv("BENCH_MESSAGES", str(STORM_EVENTS))
        env.setenv("BENCH_PARSE_MESSAGES", "50")
        # When `make bench` runs (small)
        assert bench_run.main(["--out", str(out)]) == 0
    yield json.loads(out.read_text()), out.parent


def test_results_and_summary_are_written(bench: tuple[dict[str, Any], Path]) -> None:
    results, directory = bench
    assert set(results) >= {
        "machine",
        "parse",
        "ingest",
        "remediation",
        "scaling_ratio",
        "cost_per_10000_failures_usd",
    }
    assert results["machine"]["cpu_count"] >= 1
    assert results["ok"] is True
    assert "# replimend benchmarks" in (directory / "summary.md").read_text()


def test_parse_counts_every_event_of_the_mix(bench: tuple[dict[str, Any], Path]) -> None:
    parse = bench[0]["parse"]
    assert parse["messages"] == 50
    assert parse["events"] >= 50
    assert sum(parse["events_by_action"].values()) == parse["events"]
    assert len(parse["delivery_forms"]) >= 2
    assert parse["events_per_second_best"] > 0


def test_the_mix_names_a_distinct_object_in_every_message() -> None:
    bodies = realistic_mix(50).bodies
    assert len(set(bodies)) >= 49  # test events carry no object and may repeat


def test_ingest_counts_exact_dynamodb_calls_per_new_and_redelivered_failure(
    bench: tuple[dict[str, Any], Path],
) -> None:
    storm = next(w for w in bench[0]["ingest"]["workloads"] if w["workload"] == "failure_storm")
    new, redelivered = storm["passes"]
    # A new retry_after_fix failure: one read, three puts, an incident update (+ the pair registry once)
    assert new["calls"] == {
        "dynamodb.GetItem": STORM_EVENTS,
        "dynamodb.PutItem": 3 * STORM_EVENTS,
        "dynamodb.UpdateItem": STORM_EVENTS + 1,
    }
    assert storm["ledger_items_written"] == 3 * STORM_EVENTS + 2  # + the incident and the pair registry
    # A redelivery changes nothing (its history re-puts are conditional and fail)
    assert redelivered["calls"]["dynamodb.PutItem"] == 2 * STORM_EVENTS
    assert 0 < new["share_of_time_in_aws_calls"] <= 1


def test_remediation_makes_one_job_with_calls_proportional_to_failures(
    bench: tuple[dict[str, Any], Path],
) -> None:
    runs = bench[0]["remediation"]
    assert [run["failures"] for run in runs] == [4, 12]
    for run in runs:
        failures = run["failures"]
        assert run["ok"], run["invariants"]
        assert run["jobs"] == 1
        assert run["objects_per_job"] == [failures]
        assert run["calls"]["s3.HeadObject"] == failures
        # an IN_JOB transition + its history line per object; the job record and its token once
        assert run["calls"]["dynamodb.PutItem"] == 2 * failures + 2
        assert run["calls"]["s3-control.CreateJob"] == 1
    assert bench[0]["scaling_ratio"]["ratio"] > 0


def test_remediation_splits_only_at_the_job_limit(bench: tuple[dict[str, Any], Path]) -> None:
    split = bench[0]["remediation_split"]
    assert split["ok"], split["invariants"]
    assert split["objects_per_job"] == [5, 5, 2]
    assert split["calls"]["s3-control.CreateJob"] == 3


def test_batch_seeding_writes_exactly_the_items_record_event_writes() -> None:
    # Given five failures seeded through record_event
    with remediation_world() as world:
        objects = put_source_objects(world, 5)
        seed_with_record_event(world, objects)
        via_record_event = sorted(world.table.scan()["Items"], key=lambda item: (item["pk"], item["sk"]))
        # When record_event runs against the recording table instead
        recorded = recorded_items(world, objects)
    # Then it recorded the same object and history items (the pair registry is an update)
    written = [item for item in via_record_event if item["pk"] != "PAIRS"]
    assert sorted(recorded, key=lambda item: (item["pk"], item["sk"])) == written


def test_cost_model_prices_one_job_and_the_measured_calls() -> None:
    cost = cost_per_10000_failures(
        ingest_calls_per_event={"dynamodb.GetItem": 1, "dynamodb.PutItem": 3},
        remediation_calls={"s3.HeadObject": 1000, "dynamodb.PutItem": 2000, "dynamodb.GetItem": 1000},
        remediation_failures=1000,
        max_objects_per_job=1_000_000,
    )
    assert cost["usd"]["batch_operations_jobs"] == 0.25
    assert cost["usd"]["batch_operations_objects"] == 0.01
    assert cost["quantities"]["dynamodb_write_request_units"] == 50_000
    assert cost["usd"]["s3_head_and_get_requests"] == pytest.approx(0.004)
