"""The pipeline end to end through the local runtime: real S3 state decides, the replication engine
emits the failure event, the FailureQueue feeds the ingest handler wired from template.yaml, and the
ledger records it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from replimend.models import Action, FailureRecord, ObjectRef, ObjectState
from tests.e2e.e2e_stack import DESTINATION_REGION, Stack, replication_rule

pytestmark = pytest.mark.e2e

UNICODE_KEY = "incoming/Été 2024/rapport + annexe #1.pdf"


def queue_depth(stack: Stack, output: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.runtime.outputs[output],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_upload_to_a_misconfigured_bucket_is_recorded_failed_with_its_reason(stack: Stack) -> None:
    # Given an enrolled bucket whose destination had versioning suspended after the rule was saved
    source, destination, _role = stack.replicated_bucket_pair(
        "e2e-unversioned", destination_versioning="Suspended"
    )
    # When objects are uploaded (one with spaces, '+' and non-ASCII characters)
    s3 = stack.client("s3")
    versions = {
        key: s3.put_object(Bucket=source, Key=key, Body=b"x")["VersionId"] for key in (UNICODE_KEY, "a.txt")
    }
    stack.runtime.drain()
    # Then S3 (the engine) marked them FAILED and ingest recorded each under its real key and version
    for key, version_id in versions.items():
        assert s3.head_object(Bucket=source, Key=key, VersionId=version_id)["ReplicationStatus"] == "FAILED"
        record = stack.ledger.get_failure(ObjectRef(source, key, version_id, destination))
        assert record is not None, key
        assert record.failure_reason == "DstBucketUnversioned"
        assert record.action == Action.RETRY_AFTER_FIX
        assert record.state in (ObjectState.FAILED, ObjectState.BLOCKED)
        assert record.destination_bucket_arn == f"arn:aws:s3:::{destination}"
    # And one incident is open for the cause, and the queue is empty (test event ignored, events consumed)
    incidents = stack.ledger.list_incidents(open_only=True)
    assert [(i.source_bucket, i.destination_bucket, i.failure_reason) for i in incidents] == [
        (source, destination, "DstBucketUnversioned")
    ]
    assert queue_depth(stack, "FailureQueueUrl") == 0
    assert queue_depth(stack, "FailureDeadLetterQueueUrl") == 0
    # And the object's history starts with the observed event
    history = stack.ledger.history(source, UNICODE_KEY)
    assert history and history[0].kind == "event" and history[0].reason == "DstBucketUnversioned"
    ingest_runs = [i for i in stack.runtime.invocations if i.function_id == "IngestFunction"]
    assert ingest_runs and all(i.ok for i in ingest_runs)


def test_each_cause_gets_its_own_reason(stack: Stack) -> None:
    # Given a role that may not write replicas, and a healthy pair for contrast
    denied_source, denied_destination, _ = stack.replicated_bucket_pair("e2e-denied", allow_replicate=False)
    healthy_source, healthy_destination, _ = stack.replicated_bucket_pair("e2e-healthy")
    s3 = stack.client("s3")
    denied_version = s3.put_object(Bucket=denied_source, Key="k", Body=b"1")["VersionId"]
    healthy_version = s3.put_object(Bucket=healthy_source, Key="k", Body=b"1")["VersionId"]
    # When the pipeline runs
    stack.runtime.drain()
    # Then the denied object is recorded with DstPutObjectNotPermitted; the healthy one replicated live
    record = stack.ledger.get_failure(ObjectRef(denied_source, "k", denied_version, denied_destination))
    assert record is not None and record.failure_reason == "DstPutObjectNotPermitted"
    assert (
        stack.ledger.get_failure(ObjectRef(healthy_source, "k", healthy_version, healthy_destination)) is None
    )
    assert s3.head_object(Bucket=healthy_source, Key="k")["ReplicationStatus"] == "COMPLETED"
    replica = stack.client("s3", DESTINATION_REGION).get_object(Bucket=healthy_destination, Key="k")
    assert replica["Body"].read() == b"1" and replica["ReplicationStatus"] == "REPLICA"


def test_duplicate_delivery_changes_nothing(stack: Stack) -> None:
    # Given a recorded failure
    source, destination, _ = stack.replicated_bucket_pair("e2e-dup", destination_versioning="Suspended")
    version = stack.client("s3").put_object(Bucket=source, Key="k", Body=b"x")["VersionId"]
    stack.runtime.drain()
    ref = ObjectRef(source, "k", version, destination)
    before = stack.ledger.get_failure(ref)
    history_before = stack.ledger.history(source, "k")
    assert before is not None
    # When S3 delivers the same failure again (at-least-once), twice
    sqs = stack.client("sqs")
    event = {
        "Records": [
            {
                "eventVersion": "2.2",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2030-01-01T00:00:00.000Z",
                "eventName": "Replication:OperationFailedReplication",
                "s3": {
                    "bucket": {"name": source, "arn": f"arn:aws:s3:::{source}"},
                    "object": {"key": "k", "versionId": version, "sequencer": "00", "size": 1, "eTag": "x"},
                },
                "replicationEventData": {
                    "replicationRuleId": "all",
                    "destinationBucket": f"arn:aws:s3:::{destination}",
                    "s3Operation": "OBJECT_PUT",
                    "requestTime": "2030-01-01T00:00:00.000Z",
                    "failureReason": "DstBucketUnversioned",
                },
            }
        ]
    }
    for _ in range(2):
        sqs.send_message(QueueUrl=stack.runtime.outputs["FailureQueueUrl"], MessageBody=json.dumps(event))
    stack.runtime.drain()
    # Then the object's state is unchanged and nothing reached the DLQ
    after = stack.ledger.get_failure(ref)
    assert after is not None and after.state == before.state and after.failure_reason == before.failure_reason
    assert queue_depth(stack, "FailureDeadLetterQueueUrl") == 0
    assert len(stack.ledger.history(source, "k")) >= len(history_before)


def test_unparseable_messages_are_retried_then_dead_lettered_without_losing_the_batch(stack: Stack) -> None:
    # Given a good failure event and a garbage message in the same queue
    source, destination, _ = stack.replicated_bucket_pair("e2e-poison", destination_versioning="Suspended")
    version = stack.client("s3").put_object(Bucket=source, Key="good", Body=b"x")["VersionId"]
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.runtime.outputs["FailureQueueUrl"], MessageBody="{not json")
    # When the runtime delivers until quiet
    stack.runtime.drain()
    # Then the good event is recorded, and the garbage went to the DLQ after maxReceiveCount (5) receives
    assert stack.ledger.get_failure(ObjectRef(source, "good", version, destination)) is not None
    dead = sqs.receive_message(
        QueueUrl=stack.runtime.outputs["FailureDeadLetterQueueUrl"],
        AttributeNames=["All"],
        MaxNumberOfMessages=10,
    )["Messages"]
    assert [m["Body"] for m in dead] == ["{not json"]
    assert queue_depth(stack, "FailureQueueUrl") == 0
    deliveries = [
        i for i in stack.runtime.invocations if i.function_id == "IngestFunction" and "failed" in i.summary
    ]
    assert len(deliveries) == 5


# ------------------------------------------------------------------------------------------------
# Remediation: fix -> remediate (schedule) -> Batch Replication job -> track_jobs -> REPLICATED


def jobs_by_pair(stack: Stack) -> dict[tuple[str, str | None], list]:
    pairs: dict[tuple[str, str | None], list] = {}
    for job in stack.ledger.list_jobs():
        pairs.setdefault((job.source_bucket, job.destination_bucket), []).append(job)
    return pairs


def mark_fixed(stack: Stack, source: str) -> None:
    for incident in stack.ledger.list_incidents(open_only=True):
        if incident.source_bucket == source:
            stack.ledger.set_incident_fixed(
                incident.source_bucket,
                incident.destination_bucket,
                incident.failure_reason,
                actor="operator:test",
            )


def test_fixed_causes_are_repaired_with_one_job_per_pair_per_pass(stack: Stack) -> None:
    s3 = stack.client("s3")
    # Given two broken pairs with recorded failures
    unversioned, unversioned_dst, _ = stack.replicated_bucket_pair(
        "e2e-fix-a", destination_versioning="Suspended"
    )
    denied, denied_dst, denied_role = stack.replicated_bucket_pair("e2e-fix-b", allow_replicate=False)
    uploads = {
        (unversioned, unversioned_dst): [UNICODE_KEY, "a/1.txt", "a/2.txt", "a/3.txt"],
        (denied, denied_dst): ["b/1.txt", "b/2.txt"],
    }
    versions = {
        (source, key): s3.put_object(Bucket=source, Key=key, Body=f"{source}/{key}".encode())["VersionId"]
        for (source, _dst), keys in uploads.items()
        for key in keys
    }
    stack.runtime.drain()
    # When the schedule fires before anyone fixed anything
    stack.runtime.advance(minutes=15)
    # Then the gate holds every object: no job
    assert stack.ledger.list_jobs() == []
    for (source, destination), keys in uploads.items():
        for key in keys:
            record = stack.ledger.get_failure(ObjectRef(source, key, versions[(source, key)], destination))
            assert record is not None and record.state in (ObjectState.FAILED, ObjectState.BLOCKED)

    # When the operator fixes both causes and says so, and the schedule fires again
    stack.client("s3", DESTINATION_REGION).put_bucket_versioning(
        Bucket=unversioned_dst, VersioningConfiguration={"Status": "Enabled"}
    )
    iam = stack.client("iam")
    policy = iam.get_role_policy(RoleName=denied_role, PolicyName="replication")["PolicyDocument"]
    policy["Statement"][-1]["Action"] = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    iam.put_role_policy(RoleName=denied_role, PolicyName="replication", PolicyDocument=json.dumps(policy))
    mark_fixed(stack, unversioned)
    mark_fixed(stack, denied)
    stack.runtime.advance(minutes=15)

    # Then exactly one job per (source, destination) ran, covering all of that pair's objects
    pairs = jobs_by_pair(stack)
    assert set(pairs) == set(uploads)
    for pair, keys in uploads.items():
        (job,) = pairs[pair]
        assert job.object_count == len(keys)
        assert job.status == "Complete" and job.tasks_succeeded == len(keys) and job.tasks_failed == 0
    # And every object is REPLICATED, its replica in the destination, its source version COMPLETED
    destination_s3 = stack.client("s3", DESTINATION_REGION)
    for (source, destination), keys in uploads.items():
        for key in keys:
            version = versions[(source, key)]
            record = stack.ledger.get_failure(ObjectRef(source, key, version, destination))
            assert record is not None and record.state == ObjectState.REPLICATED, (source, key)
            assert record.job_ids == [pairs[(source, destination)][0].job_id]
            assert (
                s3.head_object(Bucket=source, Key=key, VersionId=version)["ReplicationStatus"] == "COMPLETED"
            )
            replica = destination_s3.get_object(Bucket=destination, Key=key)
            assert replica["Body"].read() == f"{source}/{key}".encode()
    # And the audit trail tells the story
    story = [
        (e.from_state, e.to_state)
        for e in stack.ledger.history(unversioned, UNICODE_KEY)
        if e.kind == "transition"
    ]
    assert story[-2:] == [
        (ObjectState.FAILED, ObjectState.IN_JOB),
        (ObjectState.IN_JOB, ObjectState.REPLICATED),
    ]
    # And a further pass starts nothing new
    stack.runtime.advance(minutes=15)
    assert sum(len(jobs) for jobs in jobs_by_pair(stack).values()) == 2
    assert {i.function_id for i in stack.runtime.invocations if not i.ok} == set()


def test_a_version_deleted_before_repair_is_closed_obsolete_without_a_job(stack: Stack) -> None:
    s3 = stack.client("s3")
    source, destination, _ = stack.replicated_bucket_pair("e2e-gone", destination_versioning="Suspended")
    kept = s3.put_object(Bucket=source, Key="kept", Body=b"1")["VersionId"]
    gone = s3.put_object(Bucket=source, Key="gone", Body=b"2")["VersionId"]
    stack.runtime.drain()
    # Given the cause fixed, but one version deleted meanwhile
    stack.client("s3", DESTINATION_REGION).put_bucket_versioning(
        Bucket=destination, VersioningConfiguration={"Status": "Enabled"}
    )
    s3.delete_object(Bucket=source, Key="gone", VersionId=gone)
    mark_fixed(stack, source)
    # When remediation runs
    stack.runtime.advance(minutes=15)
    # Then the deleted version is OBSOLETE and the job held only the one that still exists
    gone_record = stack.ledger.get_failure(ObjectRef(source, "gone", gone, destination))
    kept_record = stack.ledger.get_failure(ObjectRef(source, "kept", kept, destination))
    assert gone_record is not None and gone_record.state == ObjectState.OBSOLETE and gone_record.job_ids == []
    assert kept_record is not None and kept_record.state == ObjectState.REPLICATED
    ((job,),) = jobs_by_pair(stack).values()
    assert job.object_count == 1


def test_a_cause_marked_fixed_but_still_broken_fails_the_job_and_returns_objects_to_failed(
    stack: Stack,
) -> None:
    s3 = stack.client("s3")
    # Given a role that still may not write replicas, although the operator marked the cause fixed
    source, destination, _ = stack.replicated_bucket_pair("e2e-liar", allow_replicate=False)
    version = s3.put_object(Bucket=source, Key="k", Body=b"1")["VersionId"]
    stack.runtime.drain()
    mark_fixed(stack, source)
    # When remediation runs the job
    stack.runtime.advance(minutes=15)
    # Then the job's task failed with the same reason S3 gives, and the object is back to FAILED, attempts + 1
    ((job,),) = jobs_by_pair(stack).values()
    assert job.tasks_failed == 1 and job.tasks_succeeded == 0
    record = stack.ledger.get_failure(ObjectRef(source, "k", version, destination))
    assert record is not None
    assert record.state in (ObjectState.FAILED, ObjectState.BLOCKED)
    assert record.attempts == 1
    assert record.failure_reason == "DstPutObjectNotPermitted"
    assert record.job_ids == [job.job_id]
    assert s3.head_object(Bucket=source, Key="k", VersionId=version)["ReplicationStatus"] == "FAILED"


@pytest.mark.parametrize("batch_events", [False, True], ids=["no-batch-events", "batch-events"])
def test_a_failed_task_is_charged_to_the_failing_destination_whether_or_not_batch_sends_events(
    stack: Stack, batch_events: bool
) -> None:
    # Given a source with a healthy destination and one the role may not write to (AWS documents
    # nothing about failure events for Batch Replication tasks: the emulator is run both ways)
    stack.aws.replication.batch_failure_events = batch_events
    s3 = stack.client("s3")
    name = f"e2e-multi-{'events' if batch_events else 'quiet'}"
    source, healthy, role = stack.replicated_bucket_pair(name)
    broken = f"{name}-dst2"
    destination_s3 = stack.client("s3", DESTINATION_REGION)
    destination_s3.create_bucket(
        Bucket=broken, CreateBucketConfiguration={"LocationConstraint": DESTINATION_REGION}
    )
    destination_s3.put_bucket_versioning(Bucket=broken, VersioningConfiguration={"Status": "Enabled"})
    second = replication_rule("to-broken", broken, {})
    second["Priority"] = 2
    s3.put_bucket_replication(
        Bucket=source,
        ReplicationConfiguration={
            "Role": f"arn:aws:iam::{stack.aws.account_id}:role/{role}",
            "Rules": [replication_rule("to-healthy", healthy, {}), second],
        },
    )
    version = s3.put_object(Bucket=source, Key="k", Body=b"1")["VersionId"]
    stack.runtime.drain()
    assert stack.ledger.get_failure(ObjectRef(source, "k", version, healthy)) is None
    # When the operator claims the cause fixed though it is not, and remediation runs the job
    mark_fixed(stack, source)
    stack.runtime.advance(minutes=15)
    # Then one job for the source, its task failed, and the failure is the broken destination's only
    ((job,),) = jobs_by_pair(stack).values()
    assert job.source_bucket == source and job.tasks_failed == 1
    record = stack.ledger.get_failure(ObjectRef(source, "k", version, broken))
    assert record is not None and record.state in (ObjectState.FAILED, ObjectState.BLOCKED)
    assert record.attempts == 1 and record.failure_reason == "DstPutObjectNotPermitted"
    assert record.job_ids == [job.job_id]
    # S3's failure events reached the ledger: the live one, and the task's when batch sends them
    events = [e for e in stack.ledger.history(source, "k") if e.kind == "event"]
    assert len(events) == (2 if batch_events else 1), events
    # the healthy destination never failed: no record, its replica present
    assert stack.ledger.get_failure(ObjectRef(source, "k", version, healthy)) is None
    assert destination_s3.head_object(Bucket=healthy, Key="k", VersionId=version)
    assert {i.function_id for i in stack.runtime.invocations if not i.ok} == set()


def test_a_bucket_outside_the_stacks_source_buckets_cannot_be_redriven(stack: Stack) -> None:
    # Given a fixed cause on a bucket the stack was not deployed for (not in SourceBucketArns)
    s3 = stack.client("s3")
    source, destination, _ = stack.replicated_bucket_pair(
        "rogue", destination_versioning="Suspended", admit_by_hand=True
    )
    version = s3.put_object(Bucket=source, Key="k", Body=b"1")["VersionId"]
    stack.runtime.drain()
    stack.client("s3", DESTINATION_REGION).put_bucket_versioning(
        Bucket=destination, VersioningConfiguration={"Status": "Enabled"}
    )
    mark_fixed(stack, source)
    # When remediation runs
    stack.runtime.advance(minutes=15)
    # Then the template's batch role may not initiate replication there: the task fails, nothing is copied
    ((job,),) = jobs_by_pair(stack).values()
    assert job.tasks_failed == 1 and job.tasks_succeeded == 0
    record = stack.ledger.get_failure(ObjectRef(source, "k", version, destination))
    assert record is not None and record.state != ObjectState.REPLICATED
    assert record.failure_reason == "InitiateReplicationNotPermitted" and record.attempts == 1


def test_a_cause_claimed_fixed_but_still_broken_is_retried_after_backoff_then_given_up(
    stack_factory: Callable[..., Stack],
) -> None:
    # Given a stack allowing 3 attempts, 10 minutes apart then doubling, and a role that still may
    # not write replicas although a runbook marks the cause fixed before every pass
    stack = stack_factory(
        LogLevel="WARNING", SourceBucketArns="arn:aws:s3:::e2e-*-src", MaxAttempts=3, BackoffBaseSeconds=600
    )
    s3 = stack.client("s3")
    source, destination, _ = stack.replicated_bucket_pair("e2e-hopeless", allow_replicate=False)
    version = s3.put_object(Bucket=source, Key="k", Body=b"1")["VersionId"]
    stack.runtime.drain()
    ref = ObjectRef(source, "k", version, destination)

    def run_pass() -> FailureRecord:
        mark_fixed(stack, source)
        stack.runtime.advance(minutes=15)
        record = stack.ledger.get_failure(ref)
        assert record is not None
        return record

    # When the first pass runs: the job fails the object, which waits 10 minutes of simulated time
    start = stack.runtime.clock.now()
    first = run_pass()
    assert first.state == ObjectState.FAILED and first.attempts == 1
    assert first.next_attempt_at is not None
    assert (
        timedelta(minutes=10)
        <= first.next_attempt_at - (start + timedelta(minutes=15))
        < timedelta(minutes=11)
    )
    # Then the next pass (15 minutes later, the backoff elapsed) retries it: 20 minutes to wait now
    second = run_pass()
    assert second.state == ObjectState.FAILED and second.attempts == 2
    assert second.job_ids[-1] != first.job_ids[-1]
    # And a pass inside the backoff starts no job
    jobs_before = len(stack.ledger.list_jobs())
    third = run_pass()
    assert third.attempts == 2 and len(stack.ledger.list_jobs()) == jobs_before
    # And the pass after it gives the object up at MaxAttempts (escalated), one job per attempt
    last = run_pass()
    assert last.state == ObjectState.GAVE_UP and last.attempts == 3 and len(last.job_ids) == 3
    assert last.failure_reason == "DstPutObjectNotPermitted"
    assert len(stack.ledger.list_jobs()) == 3
    # And the account lived at the simulated time: the ledger's story, the jobs and S3 agree with the clock
    history = [e for e in stack.ledger.history(source, "k") if e.kind == "transition"]
    assert [e.at for e in history] == sorted(e.at for e in history)
    assert history[-1].at >= start + timedelta(minutes=60)
    for job in stack.ledger.list_jobs():
        assert job.created_at is not None and job.finished_at is not None
        assert start + timedelta(minutes=15) <= job.created_at <= job.finished_at
    assert datetime.now(UTC) >= stack.runtime.clock.now()
    later = s3.put_object(Bucket=source, Key="later", Body=b"2")
    head = s3.head_object(Bucket=source, Key="later", VersionId=later["VersionId"])
    assert head["LastModified"] >= stack.runtime.clock.now() - timedelta(seconds=1)
    assert {i.function_id for i in stack.runtime.invocations if not i.ok} == set()
