"""`make bench` at tiny sizes (one run shared by the tests), so the benchmark code cannot rot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import run as bench_run
from benchmarks.cost import lifecycle_usd
from benchmarks.cost_bench import COST_KEYS, merge_into, run_cost
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
        env.setenv("BENCH_COST_FAILURES", "5")
        env.setenv("BENCH_COLD_START_REPEATS", "1")
        env.setenv("BENCH_MANIFEST_OBJECTS", "50")
        env.setenv("BENCH_STORM_EVENTS", "3")
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
        "cost",
    }
    assert results["machine"]["cpu_count"] >= 1
    assert results["ok"] is True
    summary = (directory / "summary.md").read_text()
    assert "# replimend benchmarks" in summary
    assert "DynamoDB cost of one failure's lifecycle" in summary


def test_the_storm_alone_replaces_only_the_storm_of_the_last_run(
    bench: tuple[dict[str, Any], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the results of a full run, copied
    results, directory = bench
    out = directory / "storm-only" / "results.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results))
    monkeypatch.setenv("BENCH_STORM_EVENTS", "2")
    # When make bench-storm runs
    assert bench_run.main(["--storm-only", "--out", str(out)]) == 0
    # Then the storm is the new one, dated, and everything else is as it was
    again = json.loads(out.read_text())
    assert again["storm"]["events"] == again["storm"]["ledger_objects"] == 2
    assert again["storm"]["measured_at"] and again["storm"]["machine"]["cpu_count"] >= 1
    assert {k: v for k, v in again.items() if k not in ("storm", "ok")} == {
        k: v for k, v in results.items() if k not in ("storm", "ok")
    }
    assert "make bench-storm" in (out.parent / "summary.md").read_text()


def test_the_storm_alone_needs_a_full_run_first(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="run make bench first"):
        bench_run.main(["--storm-only", "--out", str(tmp_path / "absent.json")])


def test_ingest_is_measured_against_its_floor_in_the_same_run(bench: tuple[dict[str, Any], Path]) -> None:
    ingest = bench[0]["ingest"]
    assert ingest["events_per_s"] > 0 and ingest["floor_events_per_s"] > 0
    assert ingest["time_ratio"] > 0
    assert "floor" in (bench[1] / "summary.md").read_text()


def test_cold_start_of_every_function_is_a_ratio_to_the_floor(bench: tuple[dict[str, Any], Path]) -> None:
    cold = bench[0]["cold_start"]
    for name in ("ingest", "remediate", "track_jobs"):
        figure = cold[name]
        assert figure["import_s"] > 0 and figure["floor_s"] > 0
        assert figure["ratio"] == pytest.approx(figure["import_s"] / figure["floor_s"], abs=0.02)
        # every function writes to the ledger, so its DynamoDB client is among those found at import
        assert "dynamodb" in figure["clients"]
        assert figure["floor_with_clients_s"] > 0
        assert figure["ratio_with_clients"] == pytest.approx(
            figure["import_s"] / figure["floor_with_clients_s"], abs=0.02
        )
    assert "Cold start" in (bench[1] / "summary.md").read_text()


def test_the_manifest_figure_uploads_every_row_and_measures_memory(
    bench: tuple[dict[str, Any], Path],
) -> None:
    manifest = bench[0]["manifest_1m"]
    assert manifest["objects"] == 50 and manifest["seconds"] > 0
    assert manifest["manifest_bytes"] > 50 * len("replimend-bench-source,")
    assert manifest["peak_rss_mb"] >= 0 and manifest["spool_bytes_per_object"] > 100


def test_the_storm_loses_nothing_and_starts_the_minimum_of_jobs(bench: tuple[dict[str, Any], Path]) -> None:
    storm = bench[0]["storm"]
    assert storm["events"] == storm["ledger_objects"] == storm["replicated"] == 3
    assert storm["lost"] == 0 and storm["jobs"] == storm["min_jobs"] == storm["create_job_calls"] == 1
    assert storm["failed_invocations"] == 0


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
    # A new retry_after_fix failure: one conditional put, no read (its history is on the item); per
    # batch, one activity page and one incident update; the pair registry once per container
    assert new["calls"] == {"dynamodb.PutItem": STORM_EVENTS + 1, "dynamodb.UpdateItem": 2}
    assert storm["ledger_items_written"] == STORM_EVENTS + 3  # + the page, the incident, the pair registry
    # A redelivery changes nothing: each conditional put fails (and returns the item), nothing else
    assert redelivered["calls"]["dynamodb.PutItem"] == STORM_EVENTS
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
        # one conditional IN_JOB update per object (its history line is on the item); the job record,
        # its token and one activity page once per pass
        assert run["calls"]["dynamodb.UpdateItem"] == failures
        assert run["calls"]["dynamodb.PutItem"] == 3
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


def test_cost_model_prices_units_and_one_job_per_million_objects() -> None:
    usd = lifecycle_usd(wru_per_failure=4, rru_per_failure=2, max_objects_per_job=1_000_000)
    assert usd == {"dynamodb_writes": 2.5, "dynamodb_reads": 0.25, "batch_operations": 1.25, "total": 4.0}
    split = lifecycle_usd(wru_per_failure=0, rru_per_failure=0, max_objects_per_job=250_000)
    assert split["batch_operations"] == 4 * 0.25 + 1.00


def test_cost_benchmark_measures_the_lifecycle_against_a_lower_floor() -> None:
    # When 50 failures go through ingest, one pass and the tracked report, then the floor
    cost = run_cost(50)
    # Then every figure is there, the lifecycle held, and the floor is below the measured cost
    assert set(cost) >= {"failures", *COST_KEYS, "breakdown", "price_source"}
    assert cost["failures"] == 50
    assert cost["ok"], cost["invariants"]
    assert cost["floor_wru_per_failure"] == 4  # put (+ due index) and update (- due index)
    assert 0 < cost["floor_wru_per_failure"] <= cost["wru_per_failure"]
    assert cost["floor_usd_per_million_failures"] <= cost["usd_per_million_failures"]
    assert cost["wru_ratio"] >= 1 and cost["usd_ratio"] >= 1
    assert cost["bytes_stored_per_failure"] > cost["floor_bytes_stored_per_failure"] > 0
    per_failure = cost["breakdown"]["per_failure"]
    assert set(per_failure["by_phase"]) == {"ingest", "remediate", "track"}
    assert "table" in per_failure["by_index_wru"]
    assert sum(per_failure["by_index_wru"].values()) == pytest.approx(cost["wru_per_failure"], abs=0.01)


def test_a_cost_run_merges_into_the_results_document(bench: tuple[dict[str, Any], Path]) -> None:
    results, directory = bench
    # Given the document make bench wrote, with an old estimate in it
    path = directory / "results.json"
    document = json.loads(path.read_text())
    document["cost_per_10000_failures_usd"] = {"total_usd": 0.3}
    path.write_text(json.dumps(document))
    # When a cost run is merged into it
    merge_into(path, {**results["cost"], "wru_per_failure": 12.5})
    # Then the cost block replaces the estimate, the rest is kept, and the summary says it
    merged = json.loads(path.read_text())
    assert merged["cost"]["wru_per_failure"] == 12.5
    assert "cost_per_10000_failures_usd" not in merged
    assert merged["parse"] == results["parse"]
    assert "**12.5 WRU + " in (directory / "summary.md").read_text()
