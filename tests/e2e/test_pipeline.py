"""The pipeline end to end through the local runtime: real S3 state decides, the replication engine
emits the failure event, the FailureQueue feeds the ingest handler wired from template.yaml, and the
ledger records it."""

from __future__ import annotations

import json

import pytest
from e2e_stack import DESTINATION_REGION, Stack

from replimend.models import Action, ObjectRef, ObjectState

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
