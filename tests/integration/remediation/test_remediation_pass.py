"""A remediation pass against moto S3 + the ledger table, with s3control stubbed (moto lacks it)."""

from __future__ import annotations

import time
from urllib.parse import quote

from replimend.models import ObjectState
from tests.integration.remediation.conftest import ACCOUNT, DEST, MANIFESTS, SOURCE, World


def test_due_failures_become_one_job_with_a_manifest_and_objects_in_job(world: World) -> None:
    # Given three failed objects (one key with a space and a comma) of one source
    versions = {key: world.fail(key) for key in ("a.txt", "dir/b c,d.txt", "e/é.txt")}
    world.expect_create_job("job-1")
    # When a pass runs
    result = world.remediation().run()
    # Then exactly one job started, with a CSV manifest of the three rows (URL-encoded, versions)
    assert result.jobs == ["job-1"]
    (pair,) = result.sources
    assert (pair.planned, pair.marked_in_job, pair.skipped) == (3, 3, 0)
    rows = world.manifest_rows(pair.manifest_keys[0])
    assert sorted(rows) == sorted(f"{SOURCE},{quote(k, safe='')},{v}" for k, v in versions.items())
    # And CreateJob named that manifest by ARN and its unquoted ETag, with a content token
    (request,) = world.create_job_requests
    head = world.s3.head_object(Bucket=MANIFESTS, Key=pair.manifest_keys[0])
    assert head["ServerSideEncryption"] == "AES256"
    assert request["Manifest"]["Location"] == {
        "ObjectArn": f"arn:aws:s3:::{MANIFESTS}/{pair.manifest_keys[0]}",
        "ETag": head["ETag"].strip('"'),
    }
    assert request["ClientRequestToken"] in pair.manifest_keys[0]
    assert request["AccountId"] == ACCOUNT
    # And every object is IN_JOB with the job id, the job recorded, no pending marker left
    for key, version in versions.items():
        record = world.ledger.get_failure(_ref(key, version))
        assert record is not None and (record.state, record.job_id) == (ObjectState.IN_JOB, "job-1")
    job = world.ledger.get_job("job-1")
    assert job is not None and job.object_count == 3 and job.region == "us-east-1"
    assert list(world.s3.list_objects_v2(Bucket=MANIFESTS, Prefix="pending/").get("Contents", [])) == []


def test_a_second_pass_starts_nothing_for_objects_already_in_a_job(world: World) -> None:
    world.fail("a.txt")
    world.expect_create_job("job-1")
    world.remediation().run()
    # When another pass runs (no CreateJob stubbed: a call would fail the test)
    result = world.remediation().run()
    assert result.jobs == []


def test_gone_versions_become_obsolete_and_replicated_ones_done(world: World) -> None:
    # Given one failure whose version was deleted, one whose version never existed
    gone = world.fail("gone.txt")
    world.s3.delete_object(Bucket=SOURCE, Key="gone.txt", VersionId=gone)
    world.fail("never.txt", version="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", create=False)
    live = world.fail("live.txt")
    world.expect_create_job("job-1")
    # When a pass runs
    result = world.remediation().run()
    # Then only the live object is in the job; the others are OBSOLETE
    (pair,) = result.sources
    assert (pair.planned, pair.obsolete) == (1, 2)
    assert world.state_of("gone.txt", gone) is ObjectState.OBSOLETE
    assert world.state_of("never.txt", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY") is ObjectState.OBSOLETE
    assert world.state_of("live.txt", live) is ObjectState.IN_JOB


def test_replication_status_completed_closes_as_done(world: World) -> None:
    # Given a failure whose source now reports COMPLETED (moto has no replication: patch HEAD's answer)
    version = world.fail("done.txt")

    def completed(params: dict, **_: object) -> None:
        params.setdefault("_completed", True)

    from replimend.ports import SourceVersionStatus

    remediation = world.remediation()
    remediation.objects.source_version_status = lambda b, k, v: SourceVersionStatus.REPLICATED  # type: ignore[method-assign]
    # When a pass runs / Then no job, the object is DONE
    result = remediation.run()
    assert result.jobs == [] and result.sources[0].done == 1
    assert world.state_of("done.txt", version) is ObjectState.DONE


def test_dry_run_plans_but_writes_and_starts_nothing(world: World) -> None:
    version = world.fail("a.txt")
    world.fail("b.txt", reason="AssumeRoleNotPermitted")  # gated
    # When a dry run runs
    result = world.remediation().run(dry_run=True)
    # Then the plan names the manifest it would write, and nothing changed
    (pair,) = result.sources
    assert result.dry_run and pair.planned == 1 and pair.blocked == 1 and len(pair.manifest_keys) == 1
    assert result.jobs == [] and world.create_job_requests == []
    assert world.s3.list_objects_v2(Bucket=MANIFESTS).get("KeyCount", 0) == 0
    assert world.state_of("a.txt", version) is ObjectState.FAILED


def test_objects_are_split_only_at_the_per_job_maximum(world: World) -> None:
    for number in range(5):
        world.fail(f"k{number}")
    world.expect_create_job("job-1")
    world.expect_create_job("job-2")
    world.expect_create_job("job-3")
    result = world.remediation(max_objects_per_job=2).run()
    assert result.jobs == ["job-1", "job-2", "job-3"]
    assert [len(world.manifest_rows(k)) for k in result.sources[0].manifest_keys] == [2, 2, 1]


def test_the_run_budget_bounds_the_objects_planned(world: World) -> None:
    for number in range(5):
        world.fail(f"k{number}")
    world.expect_create_job("job-1")
    result = world.remediation(max_objects_per_run=3).run()
    assert result.sources[0].planned == 3 and result.truncated is not None


def test_a_passed_deadline_starts_no_new_work(world: World) -> None:
    world.fail("a.txt")
    result = world.remediation().run(deadline=time.monotonic() - 1)
    assert result.jobs == [] and result.truncated == "time budget of the invocation reached"


def test_a_version_failed_for_two_destinations_is_one_row_of_one_job(world: World) -> None:
    # Given a version that failed towards two destinations, and another towards one of them
    version = world.fail("a.txt")
    world.fail("a.txt", version=version, destination="other-dst")
    other = world.fail("b.txt", destination="other-dst")
    world.expect_create_job("job-1")
    # When a pass runs
    result = world.remediation().run()
    # Then one job for the source, each version once in its manifest (a task replicates to every
    # destination), and every destination record of those versions IN_JOB in it
    assert result.jobs == ["job-1"]
    (source,) = result.sources
    assert (source.planned, source.marked_in_job) == (2, 3)
    assert sorted(source.destinations) == [DEST, "other-dst"]
    assert len(world.manifest_rows(source.manifest_keys[0])) == 2
    for key, ver, destination in (
        ("a.txt", version, DEST),
        ("a.txt", version, "other-dst"),
        ("b.txt", other, "other-dst"),
    ):
        assert world.state_of(key, ver, destination) is ObjectState.IN_JOB
    job = world.ledger.get_job("job-1")
    assert (
        job is not None and job.destination_bucket is None and sorted(job.destinations) == [DEST, "other-dst"]
    )


def test_a_version_waits_while_one_of_its_destinations_is_still_broken(world: World) -> None:
    # Given a version that failed towards a destination whose cause is not fixed, and towards one
    # that needs no fix; and another version towards the second only
    version = world.fail("a.txt", reason="DstBucketUnversioned", destination="broken-dst")
    world.fail("a.txt", version=version, destination="other-dst")
    other = world.fail("b.txt", destination="other-dst")
    world.expect_create_job("job-1")
    # When a pass runs
    result = world.remediation().run()
    # Then the version with a broken destination waits, both its records (its task would fail and
    # burn the other destination's attempt); the other version goes
    (source,) = result.sources
    assert result.jobs == ["job-1"] and source.planned == 1 and source.blocked == 1
    assert source.waiting_for_other_destination == 1
    assert world.state_of("a.txt", version, "broken-dst") is ObjectState.BLOCKED
    assert world.state_of("a.txt", version, "other-dst") is ObjectState.FAILED
    assert world.state_of("b.txt", other, "other-dst") is ObjectState.IN_JOB


def _ref(key: str, version: str | None):  # type: ignore[no-untyped-def]
    from replimend.models import ObjectRef

    return ObjectRef(SOURCE, key, version, DEST)
