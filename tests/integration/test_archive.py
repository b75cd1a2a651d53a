"""The audit archive: the ledger's DynamoDB stream (moto) -> ArchiveWriter -> gzip JSON Lines in S3."""

from __future__ import annotations

import gzip
import json
from typing import Any

import boto3
import pytest

from replimend.archive import ArchiveWriter
from replimend.aws.s3 import S3Storage
from replimend.ledger import Ledger
from replimend.lifecycle import CLOSED_STATES
from replimend.models import NOT_TRACKED, Action, ObjectRef, ObjectState
from tests.integration.ledger_helpers import RETRY, FakeClock, classified, failure_event

BUCKET = "audit-archive"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def s3(ledger_table: Any) -> Any:  # ledger_table keeps mock_aws active
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def stream_records(table: Any) -> list[dict[str, Any]]:
    """Every record of the table's stream, as Lambda delivers them (oldest first per shard)."""
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = table.latest_stream_arn
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not page["Records"]:
                break
            records += [{**r, "eventSourceARN": arn} for r in page["Records"]]
            iterator = page.get("NextShardIterator")
    return records


def archived(s3: Any) -> tuple[list[str], list[dict[str, Any]]]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    lines = [
        json.loads(line)
        for key in keys
        for line in gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).splitlines()
    ]
    return keys, lines


def a_busy_pipeline(ledger: Ledger, clock: FakeClock) -> list[str]:
    """Failures, a duplicate, an observe-only event, retries past the inline history, a reopen."""
    keys = ["photos/cat 1.png", "<script>alert(1)</script>", "deep/ünïcode#key"]
    for key in keys:
        ledger.record_event(failure_event(key=key), RETRY)
    ledger.record_event(failure_event(key=keys[0]), RETRY)  # a redelivered event: no new line
    ledger.record_event(
        failure_event(key=keys[2], event_type=NOT_TRACKED, reason=None), classified(Action.OBSERVE, None)
    )  # type: ignore[arg-type]
    ref = ObjectRef("src-bucket", keys[0], "v1", "dst-bucket")
    for attempt in range(1, 6):  # 11 transitions: the older lines overflow to H# items
        clock.advance(hours=1)
        record = ledger.get_failure(ref)
        assert record is not None
        record = ledger.transition(
            record, ObjectState.IN_JOB, reason="job", actor="remediate", job_id=f"j{attempt}"
        )
        ledger.transition(record, ObjectState.FAILED, reason="failed", actor="track_jobs", attempts=attempt)
    record = ledger.get_failure(ref)
    assert record is not None
    record = ledger.transition(record, ObjectState.IN_JOB, reason="job", actor="remediate", job_id="j6")
    ledger.transition(record, ObjectState.REPLICATED, reason="report: succeeded", actor="track_jobs")
    clock.advance(hours=2)
    ledger.record_event(failure_event(key=keys[0], at=clock.now), RETRY)  # reopens it
    return keys


def ledger_lines(ledger: Ledger, keys: list[str]) -> list[tuple[Any, ...]]:
    return sorted(
        (h.ref.key, h.at.isoformat(), h.kind, str(h.to_state), h.event_id, h.job_id, h.actor)
        for key in keys
        for h in ledger.history("src-bucket", key)
    )


def as_tuples(lines: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            line["object_key"],
            line["written_at"].replace("Z", "+00:00"),
            line["kind"],
            str(line["to_state"] and str(line["to_state"])),
            line["event_id"],
            line["job_id"],
            line["actor"],
        )
        for line in lines
    )


def test_the_archive_receives_every_history_line_once(ledger_table: Any, s3: Any, clock: FakeClock) -> None:
    # Given a ledger that went through a busy pipeline run
    ledger = Ledger(ledger_table, index_shards=2, clock=clock)
    keys = a_busy_pipeline(ledger, clock)
    records = stream_records(ledger_table)
    # When the stream is delivered in batches of 7 (as Lambda would, in order)
    writer = ArchiveWriter(S3Storage(s3), BUCKET)
    results = [writer.write(records[i : i + 7]) for i in range(0, len(records), 7)]
    # Then every line of every object's history is archived exactly once
    _, lines = archived(s3)
    assert as_tuples(lines) == ledger_lines(ledger, keys)
    assert sum(r.lines for r in results) == len(lines)
    assert len({line["line_id"] for line in lines}) == len(lines)
    assert all(r.batch_item_failures() == {"batchItemFailures": []} for r in results)
    # and the failure reason is carried on transition lines, hostile keys kept verbatim
    assert {line["failure_reason"] for line in lines if line["kind"] == "transition"} == {
        "DstPutObjectNotPermitted"
    }
    assert "<script>alert(1)</script>" in {line["object_key"] for line in lines}


def test_objects_are_partitioned_by_date_and_hour_and_a_redelivery_overwrites(
    ledger_table: Any, s3: Any, clock: FakeClock
) -> None:
    # Given lines written over several hours
    ledger = Ledger(ledger_table, index_shards=2, clock=clock)
    a_busy_pipeline(ledger, clock)
    records = stream_records(ledger_table)
    writer = ArchiveWriter(S3Storage(s3), BUCKET)
    # When the same batch is delivered twice
    first = writer.write(records)
    keys_once, lines_once = archived(s3)
    second = writer.write(records)
    keys_twice, lines_twice = archived(s3)
    # Then the second delivery rewrote the same keys with the same lines
    assert first.keys == second.keys and keys_once == keys_twice and lines_once == lines_twice
    # and each object sits in the partition of its lines' time
    for key in keys_once:
        body = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).decode()
        for line in map(json.loads, body.splitlines()):
            at = line["written_at"]
            assert key.startswith(f"history/dt={at[:10]}/hour={at[11:13]}/"), (key, at)
            assert key.endswith(".jsonl.gz")
    assert len({k.split("/")[2] for k in keys_once}) > 1  # several hours


def test_an_unreadable_record_is_reported_and_nothing_after_it_is_written(
    ledger_table: Any, s3: Any, clock: FakeClock
) -> None:
    # Given a batch whose third record is not NEW_AND_OLD_IMAGES (no OldImage on a MODIFY)
    ledger = Ledger(ledger_table, index_shards=2, clock=clock)
    a_busy_pipeline(ledger, clock)
    records = [
        r for r in stream_records(ledger_table) if str(r["dynamodb"]["Keys"]["sk"]["S"]).startswith("V#")
    ]
    modify = next(i for i, r in enumerate(records) if r["eventName"] == "MODIFY")
    broken = dict(records[modify])
    broken["dynamodb"] = {k: v for k, v in broken["dynamodb"].items() if k != "OldImage"}
    batch = [*records[:modify], broken, *records[modify + 1 :]]
    # When it is archived
    result = ArchiveWriter(S3Storage(s3), BUCKET).write(batch)
    # Then Lambda is told to retry from the broken record, and only the records before it are written
    assert result.batch_item_failures() == {
        "batchItemFailures": [{"itemIdentifier": broken["dynamodb"]["SequenceNumber"]}]
    }
    assert result.records == modify
    _, lines = archived(s3)
    assert {line["line_id"].split(":")[0] for line in lines} <= {
        r["dynamodb"]["SequenceNumber"] for r in records[:modify]
    }


def test_ttl_only_ever_expires_closed_objects(ledger_table: Any, clock: FakeClock) -> None:
    # Given a retention, an object whose history overflowed while it closed, and which then reopened
    ledger = Ledger(ledger_table, index_shards=2, history_retention_days=30, clock=clock)
    a_busy_pipeline(ledger, clock)
    ledger.record_event(failure_event(key="closed-for-good"), classified(Action.CLOSE_DONE, None))
    # Then the only items that can expire are object items in a closed state
    items = ledger_table.scan()["Items"]
    expiring = [i for i in items if "exp" in i]
    assert expiring, "a closed object expires"
    assert all(str(i["sk"]).startswith("V#") and ObjectState(i["st"]) in CLOSED_STATES for i in expiring)
    # and the reopened object, and the history lines that overflowed while it was closed, do not
    reopened = next(
        i for i in items if i["pk"] == "O#src-bucket#photos/cat 1.png" and str(i["sk"]).startswith("V#")
    )
    assert reopened["st"] == "FAILED" and "exp" not in reopened
    overflow = [i for i in items if str(i["sk"]).startswith("H#")]
    assert overflow and not any("exp" in i for i in overflow)
