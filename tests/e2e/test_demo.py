"""`replimend demo --report`: every scenario plays on the embedded AWS and the report tells the story."""

from __future__ import annotations

import io
import json
import re
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from replimend.reasons import REASONS, reason_entry
from replimend_cli import main
from replimend_local.demo import run_demo
from replimend_local.demo.scenarios import DEMO_KEYS, NOT_RECORDED, POISON_MESSAGE, SCENARIOS, ScenarioNames
from tests import chromium

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def demo_run(demo_dir: Path) -> tuple[int, dict, str, float]:
    report_path = demo_dir / "report.json"
    output = io.StringIO()
    started = time.monotonic()
    status = run_demo(
        report_path, console=Console(file=output, width=160), html_path=demo_dir / "report.html"
    )
    elapsed = time.monotonic() - started
    return status, json.loads(report_path.read_text(encoding="utf-8")), output.getvalue(), elapsed


def test_the_demo_passes_within_two_minutes(demo_run: tuple[int, dict, str, float]) -> None:
    status, report, _output, elapsed = demo_run
    assert status == 0, [o for o in report["objects"] if not o["ok"]]
    assert report["ok"] is True
    assert report["checks"] == {
        "objects_in_allowed_states": True,
        "one_job_per_pair_per_pass": True,
        "one_job_per_source_per_pass": True,
        "nothing_left_in_job": True,
        "archive_has_every_history_line": True,
        "poison_messages_alone_in_dead_letter_queue": True,
        "unknown_reasons_counted_by_ingest": True,
        "stuck_pending_reported_then_resumed": True,
    }
    assert elapsed < 120


def test_every_scenario_and_object_is_reported(demo_run: tuple[int, dict, str, float]) -> None:
    _status, report, _output, _elapsed = demo_run
    assert [s["slug"] for s in report["scenarios"]] == [s.slug for s in SCENARIOS]
    counts = Counter(o["scenario"] for o in report["objects"])
    # one object per key and destination its rules select
    assert counts == {
        s.slug: sum(len(s.targets(ScenarioNames(s.slug, "123456789012"), key)) for key in DEMO_KEYS)
        for s in SCENARIOS
    }
    assert counts["two-dest"] == 2 * len(DEMO_KEYS) and counts["fixed-apart"] == len(DEMO_KEYS)
    for obj in report["objects"]:
        assert obj["source_bucket"].endswith("-src")
        assert obj["destination_bucket"].startswith(obj["source_bucket"].removesuffix("-src"))
        assert obj["version_id"] and obj["key"] in DEMO_KEYS
        assert obj["final_state"] in obj["allowed_states"] and obj["final_state"] != "IN_JOB"


def test_failures_carry_the_reason_the_real_state_causes(demo_run: tuple[int, dict, str, float]) -> None:
    _status, report, output, _elapsed = demo_run
    expected = {s.slug: s.expected_reason for s in SCENARIOS}
    backfilled = {s.slug for s in SCENARIOS if s.backfill_statuses}
    for obj in report["objects"]:
        assert obj["failure_reason"] == obj["expected_reason"], obj
        if obj["scenario"] in backfilled:
            assert obj["detected_state"] is None  # no event: the ledger never heard of it
        elif obj["expected_reason"] is None:
            # S3 replicated it live: the ledger never heard of it (its own column says so)
            assert obj["final_state"] == NOT_RECORDED and obj["replica_present"]
            assert obj["found_by"] is None
        else:
            entry = reason_entry(obj["expected_reason"])
            detected = ("ESCALATED",) if entry.action == "escalate" else ("FAILED", "BLOCKED")
            assert obj["detected_state"] in detected, obj
            assert obj["category"] == entry.category and obj["action"] == entry.action
            assert obj["found_by"] == "event"
    # the operator sees each cause with its fix and CLI
    for reason in {r for r in expected.values() if r}:
        assert reason in output
    assert "aws s3api put-bucket-versioning" in output


def test_remediation_repairs_what_can_be_repaired(demo_run: tuple[int, dict, str, float]) -> None:
    _status, report, output, _elapsed = demo_run
    if not report["remediation"]:
        pytest.fail("the template has no remediate/track_jobs functions: remediation did not run")
    deleted = {(s.slug, key) for s in SCENARIOS for key in s.deleted_keys}
    unknown = {s.slug for s in SCENARIOS if s.expected_reason and s.expected_reason not in REASONS}
    unfixed = {
        s.slug for s in SCENARIOS if s.expected_reason and s.fix is None and not s.destinations
    } - unknown
    assert unfixed, "the demo should show the gate holding a cause nobody fixed"
    hopeless = {s.slug for s in SCENARIOS if s.fix_claimed_only}
    jobs = {job["job_id"]: job for job in report["jobs"] if job["kind"] == "remediation"}
    for obj in report["objects"]:
        if obj["failure_reason"] is None or obj["scenario"] in hopeless:
            continue
        if obj["scenario"] in unknown:
            # no job can help a reason replimend does not know: escalated to a person, never re-driven
            assert obj["final_state"] == "ESCALATED" and not obj["job_ids"] and obj["attempts"] == 0, obj
            continue
        if obj["scenario"] in unfixed:
            # the gate holds objects whose cause is still broken: no job, no replica
            assert obj["final_state"] in ("FAILED", "BLOCKED") and not obj["job_ids"], obj
            assert not obj["replica_present"] and obj["source_replication_status"] == "FAILED"
            continue
        if (obj["scenario"], obj["key"]) in deleted:
            assert obj["final_state"] == "OBSOLETE" and not obj["job_ids"], obj
            continue
        assert obj["final_state"] == "REPLICATED", obj
        assert obj["replica_present"] and obj["source_replication_status"] == "COMPLETED", obj
        # the job that repaired it counts as its attempt, as a failed one would
        assert obj["attempts"] == len(obj["job_ids"]) == 1, obj
        assert obj["job_ids"] and all(job_id in jobs for job_id in obj["job_ids"])
    # none for the unfixed pair; every repaired pair's objects in one job, in the pass after its fix
    repaired_pairs = {
        (o["source_bucket"], o["destination_bucket"])
        for o in report["objects"]
        if o["failure_reason"] and o["scenario"] not in unfixed | hopeless | unknown
    }
    repairing = [j for j in jobs.values() if (j["source_bucket"], j["destination_bucket"]) in repaired_pairs]
    assert {(j["source_bucket"], j["destination_bucket"]) for j in jobs.values()} == repaired_pairs | {
        (f"replimend-demo-{slug}-src", f"replimend-demo-{slug}-dst") for slug in hopeless
    }
    assert len(repairing) == len(repaired_pairs)
    fix_pass = {(o["source_bucket"], o["destination_bucket"]): o["fix_pass"] for o in report["objects"]}
    for job in repairing:
        number = fix_pass[(job["source_bucket"], job["destination_bucket"])]
        assert job["job_id"] in report["passes"][number - 1]["jobs_created"], job
    assert all(job["status"] == "Complete" and job["tasks_failed"] == 0 for job in repairing)
    # incidents: opened by ingest; resolved by diagnosis (nobody declared them fixed) except the one
    # left broken, held by its failing check (and the claimed fix, reopened by its failed jobs)
    for incident in report["incidents"]:
        scenario = incident["source_bucket"].removeprefix("replimend-demo-").removesuffix("-src")
        statuses = {check["name"]: check["status"] for check in incident["checks"]}
        if scenario in unfixed:
            assert incident["fixed"] is False and incident["resolved_by"] is None
            assert statuses["replication_role_destination_permissions"] == "FAIL", incident
            (failing,) = [c for c in incident["checks"] if c["status"] == "FAIL"]
            assert failing["fix"].startswith("aws iam put-role-policy --role-name replimend-demo-not-fixed-")
        elif scenario in hopeless:
            assert incident["fixed"] is False
        else:
            assert incident["fixed"] is True and incident["resolved_by"] == "diagnosis", incident
            assert incident["fixed_by"] == "diagnosis" and "FAIL" not in statuses.values()
    assert "Audit trail" in output


def test_backfill_replicates_what_no_event_reported(demo_run: tuple[int, dict, str, float]) -> None:
    _status, report, output, _elapsed = demo_run
    backfilled = {s.slug: s.backfill_statuses for s in SCENARIOS if s.backfill_statuses}
    assert backfilled, "the demo should show failures no event reported"
    outage_sources = {f"replimend-demo-{s.slug}-src" for s in SCENARIOS if s.outage_region}
    every = [job for job in report["jobs"] if job["kind"] == "backfill"]
    # the stuck-PENDING scan's backfill run: its FAILED filter selects nothing (PENDING is no filter value)
    for job in (job for job in every if job["source_bucket"] in outage_sources):
        assert job["status"] == "Failed" and job["tasks_succeeded"] == job["tasks_failed"] == 0, job
        assert job["failure_reasons"][0].startswith("NoKeysMatchingFilter"), job
    jobs = {job["job_id"]: job for job in every if job["source_bucket"] not in outage_sources}
    # one generated-manifest job per backfilled source, none for any other, each complete
    assert sorted(job["source_bucket"] for job in jobs.values()) == sorted(
        f"replimend-demo-{slug}-src" for slug in backfilled
    )
    assert all(job["status"] == "Complete" and job["tasks_failed"] == 0 for job in jobs.values())
    assert all(job["tasks_succeeded"] == len(DEMO_KEYS) for job in jobs.values())
    for obj in report["objects"]:
        if obj["scenario"] in backfilled:
            # found by the backfill job's report, replicated by it, never by an event
            assert obj["failure_reason"] is None and obj["found_by"] == "backfill", obj
            assert obj["final_state"] == "REPLICATED" and obj["replica_present"], obj
            assert obj["source_replication_status"] == "COMPLETED"
            assert [jobs[job_id]["source_bucket"] for job_id in obj["job_ids"]] == [obj["source_bucket"]]
        elif obj["found_by"] is not None:
            assert obj["found_by"] == "event"
    assert "Backfill" in output


def test_objects_stuck_pending_are_reported_from_the_inventory_then_resume(
    demo_run: tuple[int, dict, str, float],
) -> None:
    _status, report, output, _elapsed = demo_run
    outages = [s for s in SCENARIOS if s.outage_region]
    assert outages, "the demo should show objects stuck PENDING"
    for scenario in outages:
        source = f"replimend-demo-{scenario.slug}-src"
        found = report["stuck_pending"][scenario.slug]
        # the inventory delivered while the destination's Region was out listed every object PENDING,
        # older than the threshold: the backfill run reported them as a StuckPending incident
        assert found["inventory"].startswith(
            f"s3://replimend-demo-{scenario.slug}-inventory/inventory/{source}/replication-status/"
        )
        assert found["pending"] == found["stuck"] == len(DEMO_KEYS)
        assert found["stuck_keys"] == sorted(DEMO_KEYS) and found["incident"] == "StuckPending"
        # the Region came back, S3 resumed them, and the next inventory showed none: incident resolved
        assert found["resumed_completed"] == len(DEMO_KEYS) and found["stuck_after_resume"] == 0
        (incident,) = [i for i in report["incidents"] if i["source_bucket"] == source]
        assert incident["failure_reason"] == "StuckPending" and incident["destination_bucket"] == "-"
        assert incident["fixed"] is True and incident["fixed_by"] == "diagnosis"
        for obj in (o for o in report["objects"] if o["scenario"] == scenario.slug):
            # never a failure: no event, never in the ledger; replicated once the Region was back
            assert obj["final_state"] == NOT_RECORDED and obj["found_by"] is None, obj
            assert obj["source_replication_status"] == "COMPLETED" and obj["replica_present"], obj
    assert "objects stuck PENDING" in output and "StuckPending incident: open, alert sent" in output


def test_every_pass_starts_at_most_one_job_per_pair(demo_run: tuple[int, dict, str, float]) -> None:
    _status, report, output, _elapsed = demo_run
    assert report["passes"], "remediation ran no pass"
    jobs = {job["job_id"]: job for job in report["jobs"] if job["kind"] == "remediation"}
    seen: set[str] = set()
    for entry in report["passes"]:
        pairs = [tuple(pair) for pair in entry["pairs"]]
        assert len(pairs) == len(set(pairs)), entry
        assert entry["one_job_per_pair"] is True and set(entry["jobs_per_pair"].values()) <= {1}
        assert sum(entry["jobs_per_pair"].values()) == len(entry["jobs_created"])
        # every job of the ledger was started by exactly one pass, for the pair it names
        for job_id, pair in zip(entry["jobs_created"], pairs, strict=True):
            assert (jobs[job_id]["source_bucket"], jobs[job_id]["destination_bucket"]) == pair
            assert job_id not in seen
            seen.add(job_id)
    assert seen == set(jobs)
    assert "one per pair ✓" in output


def test_createjob_received_at_most_one_job_per_source_bucket_per_pass(
    demo_run: tuple[int, dict, str, float],
) -> None:
    _status, report, output, _elapsed = demo_run
    ledger_jobs = {job["job_id"]: job for job in report["jobs"]}
    received: list[str] = []
    for entry in report["passes"]:
        # counted from the jobs the emulated Batch Operations received, grouped by source bucket
        assert set(entry["created_jobs_per_source"].values()) <= {1}, entry
        assert sum(entry["created_jobs_per_source"].values()) == len(entry["created_jobs"])
        assert sorted(entry["created_jobs"]) == sorted(entry["jobs_created"])
        sources = {ledger_jobs[job_id]["source_bucket"] for job_id in entry["created_jobs"]}
        assert sources == set(entry["created_jobs_per_source"])
        received += entry["created_jobs"]
    remediation_jobs = {job_id for job_id, job in ledger_jobs.items() if job["kind"] == "remediation"}
    assert (
        len(received) == len(set(received)) and set(received) == remediation_jobs
    )  # backfill: outside passes
    assert "one per source ✓" in output


def test_a_healthy_destination_never_fails_while_the_broken_one_is_repaired(
    demo_run: tuple[int, dict, str, float],
) -> None:
    _status, report, _output, _elapsed = demo_run
    objects = [o for o in report["objects"] if o["scenario"] == "two-dest"]
    healthy = [o for o in objects if o["destination_bucket"].endswith("-ok")]
    broken = [o for o in objects if o["destination_bucket"].endswith("-broken")]
    assert len(healthy) == len(broken) == len(DEMO_KEYS)
    # the healthy destination got its replicas live and never entered the ledger
    for obj in healthy:
        assert obj["failure_reason"] is None and obj["final_state"] == NOT_RECORDED and not obj["job_ids"]
        assert obj["replica_present"] and obj["source_replication_status"] == "COMPLETED"
    # the broken one was repaired by one job for the source, in the pass after its fix
    (job_id,) = {job_id for obj in broken for job_id in obj["job_ids"]}
    (job,) = [j for j in report["jobs"] if j["job_id"] == job_id]
    assert job["source_bucket"] == "replimend-demo-two-dest-src"
    assert job["destinations"] == ["replimend-demo-two-dest-broken"]
    assert job["status"] == "Complete" and job["tasks_failed"] == 0
    assert job_id in report["passes"][0]["created_jobs"]
    for obj in broken:
        assert obj["failure_reason"] == "DstBucketUnversioned" and obj["final_state"] == "REPLICATED"
        assert obj["source_replication_status"] == "COMPLETED" and obj["replica_present"]


def test_destinations_fixed_apart_are_each_repaired_on_the_pass_after_their_fix(
    demo_run: tuple[int, dict, str, float],
) -> None:
    _status, report, _output, _elapsed = demo_run
    objects = [o for o in report["objects"] if o["scenario"] == "fixed-apart"]
    jobs = {job["job_id"]: job for job in report["jobs"]}
    passes_of = {job_id: e["pass"] for e in report["passes"] for job_id in e["created_jobs"]}
    by_destination: dict[str, set[str]] = {}
    for obj in objects:
        assert obj["failure_reason"] == "DstBucketUnversioned" and obj["final_state"] == "REPLICATED", obj
        (job_id,) = obj["job_ids"]
        assert passes_of[job_id] == obj["fix_pass"]
        assert jobs[job_id]["destinations"] == [obj["destination_bucket"]]
        by_destination.setdefault(obj["destination_bucket"], set()).add(job_id)
    # one job per destination's pass, each for the whole source
    assert sorted(len(ids) for ids in by_destination.values()) == [1, 1]
    first, second = (
        next(iter(by_destination[f"replimend-demo-fixed-apart-{s}"])) for s in ("first", "second")
    )
    assert first != second and passes_of[second] == passes_of[first] + 1
    assert jobs[first]["source_bucket"] == jobs[second]["source_bucket"] == "replimend-demo-fixed-apart-src"


def test_a_cause_only_claimed_fixed_is_retried_with_backoff_then_given_up(
    demo_run: tuple[int, dict, str, float],
) -> None:
    _status, report, output, _elapsed = demo_run
    (hopeless,) = [s for s in SCENARIOS if s.fix_claimed_only]
    max_attempts = report["max_attempts"]
    assert max_attempts == int(report["parameters"]["MaxAttempts"]) >= 2
    objects = [o for o in report["objects"] if o["scenario"] == hopeless.slug]
    assert len(objects) == len(DEMO_KEYS)
    jobs = {job["job_id"]: job for job in report["jobs"]}
    for obj in objects:
        # Then each object was in one job per attempt, each failing with the cause that persists
        assert obj["final_state"] == "GAVE_UP" and obj["ok"], obj
        assert obj["attempts"] == max_attempts
        assert obj["failure_reason"] == hopeless.expected_reason
        assert len(obj["job_ids"]) == max_attempts
        for job_id in obj["job_ids"]:
            assert jobs[job_id]["tasks_failed"] == len(DEMO_KEYS) and jobs[job_id]["tasks_succeeded"] == 0
        assert not obj["replica_present"] and obj["source_replication_status"] == "FAILED"
    # And the attempts were spread over passes by the backoff: a retry after it elapsed, and at least one
    # pass in which the objects waited (no job for the pair) between two attempts
    pair = [f"replimend-demo-{hopeless.slug}-src", f"replimend-demo-{hopeless.slug}-dst"]
    attempt_passes = [entry["pass"] for entry in report["passes"] if pair in entry["pairs"]]
    assert len(attempt_passes) == max_attempts
    assert attempt_passes[1] == attempt_passes[0] + 1  # first backoff (base) elapsed by the next pass
    assert attempt_passes[-1] - attempt_passes[0] > max_attempts - 1  # later backoffs doubled
    base = int(report["parameters"]["BackoffBaseSeconds"])
    retries = [
        (datetime.fromisoformat(entry["clock"]), moved)
        for entry in report["passes"]
        for moved in entry["objects_moved"]
        if moved["scenario"] == hopeless.slug and moved["state"] == "FAILED"
    ]
    assert {moved["attempts"] for _clock, moved in retries} == set(range(1, max_attempts))
    for clock, moved in retries:
        # the backoff was measured on the simulated clock of the pass that failed: base * 2**(attempts-1)
        delay = datetime.fromisoformat(moved["next_attempt_at"]) - clock
        expected = timedelta(seconds=base * 2 ** (moved["attempts"] - 1))
        assert expected <= delay < expected + timedelta(minutes=1), moved
    assert "given up: escalated to a person" in output and "backoff" in output


def test_the_cli_runs_the_demo_and_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = tmp_path / "nested" / "report.json"
    assert main(["demo", "--detect-only", "--report", str(report_path)]) == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["ok"] and report["remediation"] is False
    assert {o["final_state"] for o in report["objects"]} <= {NOT_RECORDED, "FAILED", "BLOCKED", "ESCALATED"}
    assert "Report written to" in capsys.readouterr().out


def test_the_archive_receives_every_history_line_written_during_the_demo(
    demo_run: tuple[int, dict, str, float],
) -> None:
    _status, report, _output, _elapsed = demo_run
    archive = report["archive"]
    assert archive["history_lines"] > len(report["objects"])  # every object has several lines
    assert archive["entries"] == archive["history_lines"]


def test_the_demos_html_report_renders_with_its_charts_in_chromium(
    demo_run: tuple[int, dict, str, float], demo_dir: Path
) -> None:
    _status, report, output, _elapsed = demo_run
    page = demo_dir / "report.html"
    assert f"Audit report written to {page.resolve()}" in " ".join(output.split())
    loaded = chromium.load(page, demo_dir / "profile")
    dom = chromium.Elements(loaded.dom)
    reasons = {o["failure_reason"] for o in report["objects"] if o["failure_reason"]}
    assert reasons and reasons <= dom.series()  # one series per failure reason the demo caused
    assert "time to repair" in dom.series() and len(dom.tags("rect")) > len(reasons)
    assert loaded.console == []
    # And its figures are the run's: the objects given up and repaired are all there
    figures = dict(re.findall(r'data-figure="([^"]+)"><strong>([^<]*)</strong>', loaded.dom))
    states = Counter(o["final_state"] for o in report["objects"])
    assert int(figures["given up"]) == states["GAVE_UP"] > 0
    # repairs are of failures the ledger recorded; what backfill found already replicated is not one
    repaired = sum(o["final_state"] == "REPLICATED" and o["found_by"] == "event" for o in report["objects"])
    assert int(figures["repaired"]) == repaired > 0


def test_a_malformed_message_fails_alone_and_ends_in_the_dead_letter_queue(
    demo_run: tuple[int, dict, str, float],
) -> None:
    _status, report, output, _elapsed = demo_run
    # Given one malformed message put on the FailureQueue among the failure events
    (poisoned,) = [s for s in SCENARIOS if s.poison]
    # Then, after maxReceiveCount failed receives, the dead-letter queue holds exactly it
    assert report["dead_letter_queue"] == {"expected": [POISON_MESSAGE], "held": [POISON_MESSAGE]}
    # And every failure event of the batches it rode in was recorded
    recorded = [o for o in report["objects"] if o["failure_reason"]]
    assert recorded and all(o["detected_state"] for o in recorded)
    # And its healthy bucket's objects replicated live, unknown to the ledger
    assert {o["final_state"] for o in report["objects"] if o["scenario"] == poisoned.slug} == {NOT_RECORDED}
    assert "FailureDeadLetterQueue holds 1 message, exactly the malformed one ✓" in output


def test_an_unknown_reason_is_recorded_escalated_and_counted(demo_run: tuple[int, dict, str, float]) -> None:
    _status, report, output, _elapsed = demo_run
    (unknown,) = [s for s in SCENARIOS if s.expected_reason and s.expected_reason not in REASONS]
    objects = [o for o in report["objects"] if o["scenario"] == unknown.slug]
    # Then every object is in the ledger, ESCALATED with the reason S3 sent, and S3 still says FAILED
    assert [o["final_state"] for o in objects] == ["ESCALATED"] * len(DEMO_KEYS)
    assert {o["failure_reason"] for o in objects} == {unknown.expected_reason}
    assert {o["source_replication_status"] for o in objects} == {"FAILED"}
    # And ingest counted each one in its UnknownReasons metric (the signal an alarm watches)
    assert report["unknown_reasons"] == {"events": len(DEMO_KEYS), "counted_by_ingest": len(DEMO_KEYS)}
    assert "recorded ESCALATED" in output
