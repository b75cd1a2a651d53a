"""One backfill run against moto's DynamoDB and S3: the gate, never overlapping (ledger, ListJobs,
concurrent triggers), the job recorded for tracking, and stuck-PENDING objects from S3 Inventory."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from replimend.backfill.pending import ANY_DESTINATION, STUCK_PENDING
from replimend.backfill.planner import BACKFILL_BLOCKED, GeneratorFilter, job_tag
from replimend.models import JobRecord
from replimend.ports import ListedJob
from tests.integration.backfill.conftest import DEST, MANIFESTS, REPORTS, SOURCE, World


def test_a_healthy_source_gets_one_generated_manifest_job_recorded_for_tracking(world: World) -> None:
    # Given an enrolled source whose rules pass diagnosis
    # When the scheduled run backfills it
    result = world.backfill().run()

    # Then one job is started over S3's generated manifest, FAILED eligible objects only
    [source] = result.sources
    assert source.outcome == "started" and result.jobs == ["job-1"]
    [request] = world.jobs.created
    generator = request["ManifestGenerator"]["S3JobManifestGenerator"]
    assert generator["SourceBucket"] == f"arn:aws:s3:::{SOURCE}"
    assert generator["ManifestOutputLocation"]["Bucket"] == f"arn:aws:s3:::{MANIFESTS}"
    assert generator["Filter"] == {"EligibleForReplication": True, "ObjectReplicationStatuses": ["FAILED"]}
    assert request["Report"]["Bucket"] == f"arn:aws:s3:::{REPORTS}"
    assert request["ClientRequestToken"] == source.token
    # And the ledger holds it as a backfill job, active, so track_jobs polls it
    [job] = world.ledger.active_jobs(SOURCE)
    assert job.job_id == "job-1" and job.kind == "backfill" and job.destinations == [DEST]
    assert job.report_prefix == f"backfill-reports/{SOURCE}"


def test_an_active_replimend_job_of_the_source_holds_the_backfill(world: World) -> None:
    # Given a remediation job of the source still running (in the ledger)
    world.ledger.create_job(JobRecord("remediation-1", SOURCE, DEST, "Active", "tok", 3, region="us-east-1"))
    # When a backfill runs / Then it starts nothing and says why
    [source] = world.backfill().run().sources
    assert source.outcome == "skipped" and "remediation-1" in source.detail
    assert world.jobs.created == []


def test_a_job_only_list_jobs_knows_holds_the_backfill_too(world: World) -> None:
    # Given another replimend deployment's job over this source, not in this ledger
    world.jobs.listed.append(
        ListedJob("elsewhere", "Active", f"replimend:abc re-drive 2 versions of {SOURCE} to 1")
    )
    [source] = world.backfill().run().sources
    assert source.outcome == "skipped" and "elsewhere" in source.detail and world.jobs.created == []


def test_a_second_trigger_while_the_first_starts_its_job_starts_nothing(world: World) -> None:
    # Given a trigger that holds the source's lease while it checks ListJobs
    first, second = world.backfill(), world.backfill()
    inner: list[str] = []

    def second_trigger_fires() -> None:
        [outcome] = second.run(scan_pending=False).sources
        inner.append(outcome.outcome + ": " + outcome.detail)

    world.jobs.on_list = second_trigger_fires
    # When both run
    [outcome] = first.run(scan_pending=False).sources
    # Then exactly one job exists; the other trigger saw the lease
    assert outcome.outcome == "started" and len(world.jobs.created) == 1
    assert inner == ["skipped: another backfill run is starting a job for this source"]
    # And a later trigger (lease released) sees the active job instead
    [later] = world.backfill().run(job_filter=GeneratorFilter(statuses=("NONE",))).sources
    assert later.outcome == "skipped" and "job-1" in later.detail and len(world.jobs.created) == 1


def test_concurrent_triggers_in_threads_start_one_job(world: World) -> None:
    # Given four triggers released at once
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def trigger() -> None:
        backfill = world.backfill()
        barrier.wait()
        outcomes.extend(s.outcome for s in backfill.run(scan_pending=False).sources)

    threads = [threading.Thread(target=trigger) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then one started and the others started nothing
    assert sorted(outcomes) == ["skipped", "skipped", "skipped", "started"]
    assert len(world.jobs.created) == 1


def test_a_job_a_crashed_run_started_is_recorded_not_started_again(world: World) -> None:
    # Given a run that died after CreateJob (S3 has the job, the ledger does not)
    backfill = world.backfill()
    [dry] = backfill.run(dry_run=True, scan_pending=False).sources
    assert dry.outcome == "dry_run" and world.jobs.created == []
    from replimend.backfill.planner import request_token, window_of

    token = request_token(SOURCE, backfill.default_filter(), window_of(world.clock()))
    world.jobs.listed.append(ListedJob("orphan", "Active", f"{job_tag(token)} backfill {SOURCE} FAILED"))
    # When the next trigger runs
    [source] = backfill.run(scan_pending=False).sources
    # Then it records that job for tracking and starts none
    assert source.outcome == "recovered" and source.job_id == "orphan" and world.jobs.created == []
    assert [j.job_id for j in world.ledger.active_jobs(SOURCE)] == ["orphan"]


def test_a_source_whose_rules_fail_their_checks_is_blocked_and_reported_on_the_incident(world: World) -> None:
    # Given a destination without versioning (every task would fail)
    world.reader.buckets[DEST]["versioning"] = "Suspended"
    # When the backfill runs
    [source] = world.backfill().run(scan_pending=False).sources
    # Then no job starts, and the block is on the source's BackfillBlocked incident with the check
    assert source.outcome == "blocked" and "destination_versioning" in source.detail
    assert world.jobs.created == []
    incident = world.ledger.get_incident(SOURCE, DEST, BACKFILL_BLOCKED)
    assert incident is not None and not incident.fixed
    assert any(c["name"] == "destination_versioning" and c["status"] == "FAIL" for c in incident.last_checks)
    assert len(world.alerts.sent) == 1 and BACKFILL_BLOCKED in world.alerts.sent[0][0]
    # And once fixed, the next run resolves the incident by diagnosis and starts the job
    world.reader.buckets[DEST]["versioning"] = "Enabled"
    [again] = world.backfill().run(scan_pending=False).sources
    assert again.outcome == "started"
    resolved = world.ledger.get_incident(SOURCE, DEST, BACKFILL_BLOCKED)
    assert resolved is not None and resolved.resolved_by == "diagnosis"


def test_metrics_off_does_not_block_the_backfill_made_for_it(world: World) -> None:
    assert world.reader.config is not None
    world.reader.config["Rules"][0]["Destination"].pop("Metrics")
    [source] = world.backfill().run(scan_pending=False).sources
    assert source.outcome == "started"


def test_a_source_in_another_region_is_skipped_with_the_reason(world: World) -> None:
    world.reader.buckets[SOURCE]["region"] = "eu-west-1"
    [source] = world.backfill().run(scan_pending=False).sources
    assert source.outcome == "skipped" and "Region" in source.detail and world.jobs.created == []


def test_a_dry_run_prints_the_filter_and_an_estimate_from_the_inventory_and_writes_nothing(
    world: World,
) -> None:
    world.write_inventory(
        [
            '"src","a.txt","v1","true","false","1","2024-01-01T00:00:00.000Z",""',
            '"src","b.txt","v2","true","false","1","2024-01-01T00:00:00.000Z",""',
            '"src","c.txt","v3","true","false","1","2024-01-01T00:00:00.000Z","COMPLETED"',
        ]
    )
    [source] = world.backfill().run(job_filter=GeneratorFilter(statuses=("NONE",)), dry_run=True).sources
    assert source.outcome == "dry_run" and source.filter["ObjectReplicationStatuses"] == ["NONE"]
    assert source.cost is not None and source.cost["estimated_objects"] == 2
    assert source.cost["job_fee_usd"] == 0.25
    assert world.jobs.created == [] and world.ledger.list_jobs() == []


def test_objects_pending_past_the_threshold_are_an_incident_with_one_alert(world: World) -> None:
    # Given an inventory listing one object PENDING for days and one just written
    now = world.clock()
    world.write_inventory(
        [
            '"src","stuck%20one.txt","v1","true","false","5","2024-09-01T00:00:00.000Z","PENDING"',
            f'"src","fresh.txt","","true","false","5","{now.isoformat()}","PENDING"',
            '"src","done.txt","v3","true","false","5","2024-09-01T00:00:00.000Z","COMPLETED"',
        ]
    )
    # When two scheduled runs read it
    [first] = world.backfill().run().sources
    [second] = world.backfill().run().sources
    # Then the old one is reported stuck (its key decoded), the fresh one is not
    assert first.pending is not None and first.pending["stuck_count"] == 1 and first.pending["pending"] == 2
    assert first.pending["stuck"][0]["key"] == "stuck one.txt"
    incident = world.ledger.get_incident(SOURCE, ANY_DESTINATION, STUCK_PENDING)
    assert incident is not None and not incident.fixed and "1 object(s)" in (incident.last_diagnosis or "")
    # And one alert, not one per run
    assert [s for s, _ in world.alerts.sent if "PENDING" in s] == [
        "replimend: 1 object(s) stuck PENDING (src)"
    ]
    assert second.pending is not None and second.pending["stuck_count"] == 1


def test_without_an_inventory_the_pending_report_says_so(world: World) -> None:
    [source] = world.backfill().run(scan_pending=True).sources
    assert source.pending is not None and source.pending["note"] == "no inventory configuration"
    assert world.ledger.get_incident(SOURCE, ANY_DESTINATION, STUCK_PENDING) is None


def test_the_since_filter_reaches_the_request(world: World) -> None:
    since = datetime(2026, 11, 1, tzinfo=UTC)
    world.backfill().run(
        job_filter=GeneratorFilter(statuses=("NONE", "FAILED"), created_after=since, prefixes=("d/",))
    )
    generator = world.jobs.created[0]["ManifestGenerator"]["S3JobManifestGenerator"]
    assert generator["Filter"]["CreatedAfter"] == since
    assert generator["Filter"]["KeyNameConstraint"] == {"MatchAnyPrefix": ["d/"]}
