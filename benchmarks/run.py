"""``make bench``: parse, ingest and remediation benchmarks against moto, with call counts and cost.

    python -m benchmarks.run --out bench-results/results.json

Environment: BENCH_FAILURES (remediation sizes, default "1000,10000"), BENCH_SPLIT ("failures:limit"
for the job-splitting run, default "10000:2500"; "0" skips it), BENCH_MESSAGES (ingest messages per
workload, default 500), BENCH_PARSE_MESSAGES (default 20000), BENCH_SEEDING ("batch" or
"record_event"), BENCH_COST_FAILURES (failures of the DynamoDB cost lifecycle, default 1000),
BENCH_COLD_START_REPEATS (fresh interpreters per cold-start figure, default 7; 0 skips it),
BENCH_MANIFEST_OBJECTS (objects of the manifest figure, default 1000000; 0 skips it),
BENCH_STORM_EVENTS (failures of the end-to-end storm, default 2000; 0 skips it; `make bench-storm`
runs the storm alone, e.g. BENCH_STORM_EVENTS=100000, into the last full run's results).
Nothing reaches AWS: fake credentials, moto in-process, CreateJob answered by a hook.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import machine_info, use_fake_aws

SUMMARY_NAME = "summary.md"
DEFAULT_STORM_EVENTS = 2_000


def _int_env(name: str, default: int) -> int:
    text = os.environ.get(name, str(default))
    try:
        value = int(text)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, not {text!r}") from exc
    if value < 0:
        raise SystemExit(f"{name} must not be negative, not {value}")
    return value


def _split_from_environment() -> tuple[int, int] | None:
    text = os.environ.get("BENCH_SPLIT", "10000:2500").strip()
    if text in {"", "0"}:
        return None
    try:
        failures, limit = (int(part) for part in text.split(":"))
    except ValueError as exc:
        raise SystemExit(
            f"BENCH_SPLIT must be 'failures:limit' (e.g. 10000:2500) or 0, not {text!r}"
        ) from exc
    return failures, limit


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_all(
    *,
    parse_messages: int,
    ingest_messages: int,
    failure_counts: list[int],
    split: tuple[int, int] | None,
    seeding: str,
    cost_failures: int = 1000,
    cold_start_repeats: int = 7,
    manifest_objects: int = 1_000_000,
    storm_events: int = DEFAULT_STORM_EVENTS,
) -> dict[str, Any]:
    from benchmarks.cold_start import run_cold_start
    from benchmarks.cost_bench import run_cost
    from benchmarks.ingest_bench import run_ingest
    from benchmarks.manifest_bench import run_manifest
    from benchmarks.parse_bench import run_parse
    from benchmarks.remediation_bench import run_remediation
    from benchmarks.storm_bench import run_storm

    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine_info()}
    _log(f"parse + classify: {parse_messages} messages")
    results["parse"] = run_parse(parse_messages)
    _log(f"ingest handler against moto: {ingest_messages} messages per workload")
    results["ingest"] = run_ingest(ingest_messages)
    if cold_start_repeats:
        _log(f"cold start: each handler and the floor, median of {cold_start_repeats} fresh interpreters")
        results["cold_start"] = run_cold_start(cold_start_repeats)
    if manifest_objects:
        _log(f"manifest: {manifest_objects} objects built (spooled) and uploaded")
        results["manifest_1m"] = run_manifest(manifest_objects)
    if storm_events:
        _log(f"storm: {storm_events} failures of one source, end to end through the local runtime")
        results["storm"] = run_storm(storm_events)
        _log(f"  {results['storm']['seconds']} s, {results['storm']['jobs']} job(s)")
    remediation = []
    for failures in failure_counts:
        _log(f"remediation: {failures} failures of one pair ({seeding} seeding)")
        remediation.append(run_remediation(failures, seeding=seeding))
        _log(f"  {remediation[-1]['seconds']} s, {remediation[-1]['jobs']} job(s)")
    results["remediation"] = remediation
    if split:
        _log(f"remediation split: {split[0]} failures, MAX_OBJECTS_PER_JOB={split[1]}")
        results["remediation_split"] = run_remediation(
            split[0], max_objects_per_job=split[1], seeding=seeding
        )
    results["scaling_ratio"] = scaling(remediation)
    _log(f"DynamoDB cost of a failure's lifecycle: {cost_failures} failures, and the floor")
    results["cost"] = run_cost(cost_failures)
    cost = results["cost"]
    _log(f"  {cost['wru_per_failure']} WRU/failure (floor {cost['floor_wru_per_failure']})")
    results["ok"] = _all_ok(results)
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    return results


def _all_ok(results: dict[str, Any]) -> bool:
    storm = results.get("storm")
    return bool(
        all(run["ok"] for run in results["remediation"])
        and results.get("remediation_split", {}).get("ok", True)
        and results["cost"]["ok"]
        and (storm is None or (storm["lost"] == 0 and storm["jobs"] == storm["min_jobs"]))
    )


def _storm_only(out: Path, events: int) -> int:
    """The storm alone (it takes about 0.06 s per failure here), put into the results of the last
    full run with its own date and machine; the other figures are left as they were measured."""
    from benchmarks.storm_bench import run_storm

    if not out.exists():
        raise SystemExit(f"{out} does not exist: run make bench first")
    results = json.loads(out.read_text(encoding="utf-8"))
    _log(f"storm: {events} failures of one source, end to end through the local runtime")
    storm = run_storm(events)
    storm["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    storm["machine"] = machine_info()
    results["storm"] = storm
    results["ok"] = _all_ok(results)
    _write(out, results)
    return 0 if results["ok"] else 1


def _write(out: Path, results: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    summary = summary_markdown(results)
    (out.parent / SUMMARY_NAME).write_text(summary, encoding="utf-8")
    print(summary)
    print(f"results: {out}, summary: {out.parent / SUMMARY_NAME}")


def scaling(remediation: list[dict[str, Any]]) -> dict[str, Any] | None:
    """(seconds per object at the largest N) / (at the smallest N): near 1.0 means linear."""
    if len(remediation) < 2:
        return None
    small = min(remediation, key=lambda run: run["failures"])
    large = max(remediation, key=lambda run: run["failures"])
    return {
        "ratio": round(large["seconds_per_object"] / small["seconds_per_object"], 3),
        "small_failures": small["failures"],
        "large_failures": large["failures"],
        "calls_per_object_small": round(small["calls_total"] / small["failures"], 4),
        "calls_per_object_large": round(large["calls_total"] / large["failures"], 4),
        "meaning": "seconds per object at large N / at small N, one run; near 1.0 is linear",
    }


def summary_markdown(results: dict[str, Any]) -> str:
    machine, parse = results["machine"], results["parse"]
    lines = [
        "# replimend benchmarks",
        "",
        f"Python {machine['python']}, {machine['cpu_count']} CPUs, load average at start "
        f"{machine['load_average_at_start']}, moto {machine['moto']} in-process. "
        "A shared, noisy machine: trust the ratios and the call counts (exact, they carry over to AWS), "
        "not the absolute seconds.",
        "",
        "## Parse + classify (pure CPU)",
        "",
        f"- {parse['events']} events ({parse['messages']} SQS bodies, forms {parse['delivery_forms']}): "
        f"**{parse['events_per_second_best']:,} events/s** best of {parse['repeats']} "
        f"(median {parse['events_per_second_median']:,}), {parse['microseconds_per_event_best']} µs/event",
        "",
        "## Ingest handler (functions/ingest/app.py) against moto DynamoDB",
        "",
        f"Realistic mix, new events: **{results['ingest']['events_per_s']} events/s against a floor of "
        f"{results['ingest']['floor_events_per_s']}** (each body json-decoded, one conditional PutItem per "
        f"event, same moto backend): handler time / floor time **{results['ingest']['time_ratio']}x**.",
        "",
        "| workload | pass | events | events/s | DynamoDB calls/event | calls by operation per event "
        "| time in AWS calls | handler/parse time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for workload in results["ingest"]["workloads"]:
        for run in workload["passes"]:
            per_event = ", ".join(
                f"{name.split('.')[1]} {value}" for name, value in run["calls_per_event"].items()
            )
            lines.append(
                f"| {workload['workload']} | {run['pass']} | {run['events']} | {run['events_per_second']} "
                f"| {run['dynamodb_calls_per_event']} | {per_event} "
                f"| {round(run['share_of_time_in_aws_calls'] * 100)} % "
                f"| {run['handler_to_parse_time_ratio']} x |"
            )
    lines += [
        "",
        "moto's in-process DynamoDB emulation dominates the handler time (the 'time in AWS calls' "
        "column, serialisation included); parsing is a fraction of a percent. The events/s are "
        "moto's speed, not DynamoDB's.",
        "",
        "## Remediation: N failures of one (source, destination), one pass",
        "",
        "| failures | MAX_OBJECTS_PER_JOB | jobs | objects per job | API calls (by service) | calls/object "
        "| seeding s (objects + ledger) | pass s | ms/object |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    runs = list(results["remediation"])
    if results.get("remediation_split"):
        runs.append(results["remediation_split"])
    for run in runs:
        seeding = run["seeding"]
        lines.append(
            f"| {run['failures']:,} | {run['max_objects_per_job']:,} | {run['jobs']} "
            f"| {run['objects_per_job']} | {run['calls_total']:,} {run['calls_by_service']} "
            f"| {round(run['calls_total'] / run['failures'], 3)} "
            f"| {seeding['seconds_source_objects']} + {seeding['seconds_ledger']} ({seeding['mode']}) "
            f"| {run['seconds']} | {run['milliseconds_per_object']} |"
        )
    largest = max(results["remediation"], key=lambda run: run["failures"])
    lines += [
        "",
        f"Calls of the {largest['failures']:,}-failure pass: `{json.dumps(largest['calls'])}`",
        "",
    ]
    if results.get("scaling_ratio"):
        scale = results["scaling_ratio"]
        lines.append(
            f"Scaling ratio (s/object at {scale['large_failures']:,} ÷ at {scale['small_failures']:,}): "
            f"**{scale['ratio']}** (1.0 = linear); calls/object {scale['calls_per_object_small']} → "
            f"{scale['calls_per_object_large']}."
        )
    if any(run["seeding"]["mode"] == "batch" for run in runs):
        lines.append(
            "Seeding mode `batch`: Ledger.record_event computed every item, written with BatchWriteItem "
            "(skips only the always-true put conditions; the pass itself is unchanged)."
        )
    lines += ["", *cold_start_markdown(results.get("cold_start"))]
    if results.get("storm"):
        storm = results["storm"]
        lines += [
            "",
            f"## Storm: {storm['events']:,} failures of one source, end to end through the local runtime",
            "",
            f"**lost {storm['lost']}, {storm['ledger_objects']:,} objects in the ledger, "
            f"{storm['replicated']:,} REPLICATED; {storm['jobs']} job(s) against a minimum of "
            f"{storm['min_jobs']}** ({storm['create_job_calls']} job(s) S3 accepted); {storm['seconds']} s "
            f"(uploads and ingest {storm['ingest_seconds']} s, "
            f"{round(storm['seconds'] / max(1, storm['events']), 3)} s per failure), "
            f"{storm['failed_invocations']} failed invocations"
            + (f", {storm['passes_with_jobs']} pass(es) with a job" if "passes_with_jobs" in storm else "")
            + (
                f"; invocations longer than their function's timeout (Lambda would stop them): "
                f"{', '.join(storm['over_timeout_invocations'])}"
                if storm.get("over_timeout_invocations")
                else ""
            )
            + (f"; measured {storm['measured_at']} (`make bench-storm`)" if "measured_at" in storm else "")
            + ".",
        ]
    if results.get("manifest_1m"):
        manifest = results["manifest_1m"]
        lines += [
            "",
            f"## Manifest of {manifest['objects']:,} objects, built and uploaded",
            "",
            f"**{manifest['seconds']} s, peak RSS {manifest['peak_rss_mb']} MB above baseline** "
            f"(building alone {manifest['build_seconds']} s, {manifest['build_peak_rss_mb']} MB; the rest is "
            f"moto receiving the upload in-process); {manifest['spool_bytes_per_object']} bytes spooled to "
            f"the spool files per object; manifest {manifest['manifest_bytes']:,} bytes.",
        ]
    lines += [
        "",
        *cost_markdown(results["cost"]),
        "",
        f"All invariants held: {results['ok']}. Wall time {results['wall_seconds']} s.",
        "",
    ]
    return "\n".join(lines)


def cold_start_markdown(cold: dict[str, Any] | None) -> list[str]:
    if not cold:
        return []
    lines = [
        "## Cold start: importing each handler module in a fresh interpreter",
        "",
        f"Against the floor ({cold['floor']}), and against that floor plus creating the AWS clients the "
        f"handler creates at import; median of {cold['repeats']} runs in `{cold['python']}`.",
        "",
        "| function | import s | floor s | ratio | its clients | floor + clients s | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, figure in cold.items():
        if isinstance(figure, dict):
            lines.append(
                f"| {name} | {figure['import_s']} | {figure['floor_s']} | {figure['ratio']} "
                f"| {', '.join(figure['clients'])} | {figure['floor_with_clients_s']} "
                f"| {figure['ratio_with_clients']} |"
            )
    return lines


def cost_markdown(cost: dict[str, Any]) -> list[str]:
    """The DynamoDB cost section: the lifecycle against the floor, and where the units go."""
    per_failure = cost["breakdown"]["per_failure"]
    floor = cost["breakdown"]["floor_per_failure"]
    lines = [
        f"## DynamoDB cost of one failure's lifecycle ({cost['failures']:,} failures: ingest, one pass, "
        "the job's report tracked to REPLICATED)",
        "",
        f"**{cost['wru_per_failure']} WRU + {cost['rru_per_failure']} RRU per failure against a floor of "
        f"{cost['floor_wru_per_failure']} WRU ({cost['wru_ratio']}x)**; "
        f"${cost['usd_per_million_failures']:,} per million failures against "
        f"${cost['floor_usd_per_million_failures']:,} "
        f"({cost['usd_ratio']}x, Batch Operations included); {cost['bytes_stored_per_failure']:,} bytes "
        f"stored per failure (floor {cost['floor_bytes_stored_per_failure']:,}).",
        "",
        "| per failure | WRU | of which table | indexes | RRU | requests |",
        "|---|---|---|---|---|---|",
    ]
    for label, groups in (("phase", per_failure["by_phase"]), ("request", per_failure["by_request_type"])):
        for name, tally in groups.items():
            lines.append(
                f"| {label} {name} | {tally['wru']} | {tally['wru_table']} | {tally['wru_indexes']} "
                f"| {tally['rru']} | {tally['requests']} |"
            )
    lines += [
        f"| floor | {floor['by_phase']['floor']['wru']} | {floor['by_phase']['floor']['wru_table']} "
        f"| {floor['by_phase']['floor']['wru_indexes']} | {floor['by_phase']['floor']['rru']} "
        f"| {floor['by_phase']['floor']['requests']} |",
        "",
        f"WRU per failure by index: `{json.dumps(per_failure['by_index_wru'])}`. "
        "Billed by benchmarks/dynamodb_meter.py (item sizes, table and index writes, reads before "
        f"filters; AWS doc pages cited there). {cost['price_source']}.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("bench-results/results.json"))
    parser.add_argument(
        "--storm-only",
        action="store_true",
        help="only the storm (BENCH_STORM_EVENTS), put into the existing results (make bench-storm)",
    )
    args = parser.parse_args(argv)
    use_fake_aws()
    if args.storm_only:
        return _storm_only(args.out, _int_env("BENCH_STORM_EVENTS", DEFAULT_STORM_EVENTS) or 1)
    from benchmarks.remediation_bench import SEEDING_MODES, failure_counts_from_environment

    seeding = os.environ.get("BENCH_SEEDING", "batch")
    if seeding not in SEEDING_MODES:
        raise SystemExit(f"BENCH_SEEDING must be one of {', '.join(SEEDING_MODES)}, not {seeding!r}")
    try:
        failure_counts = failure_counts_from_environment()
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    results = run_all(
        parse_messages=_int_env("BENCH_PARSE_MESSAGES", 20_000) or 1,
        ingest_messages=_int_env("BENCH_MESSAGES", 500) or 1,
        failure_counts=failure_counts,
        split=_split_from_environment(),
        seeding=seeding,
        cost_failures=_int_env("BENCH_COST_FAILURES", 1000) or 1,
        cold_start_repeats=_int_env("BENCH_COLD_START_REPEATS", 7),
        manifest_objects=_int_env("BENCH_MANIFEST_OBJECTS", 1_000_000),
        storm_events=_int_env("BENCH_STORM_EVENTS", DEFAULT_STORM_EVENTS),
    )
    _write(args.out, results)
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
