"""The audit archive in the embedded AWS: the ledger's stream -> the archive function -> the audit bucket."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from typing import Any

import pytest

from tests.e2e.e2e_stack import DESTINATION_REGION, Stack
from tests.e2e.test_pipeline import mark_fixed

pytestmark = pytest.mark.e2e


def archived_lines(stack: Stack) -> list[dict[str, Any]]:
    s3 = stack.client("s3")
    bucket = stack.runtime.outputs["AuditBucketName"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="history/").get("Contents", [])]
    return [
        json.loads(line)
        for key in keys
        for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).splitlines()
    ]


def test_the_archive_receives_every_history_line_of_a_pipeline_run(stack: Stack) -> None:
    # Given a broken pair whose failures are held, then fixed and repaired by a Batch Replication job
    s3 = stack.client("s3")
    source, destination, _ = stack.replicated_bucket_pair("e2e-archive", destination_versioning="Suspended")
    keys = ["a.txt", "<b>&amp;.txt", "Été/rapport #1.pdf"]
    for key in keys:
        s3.put_object(Bucket=source, Key=key, Body=b"x")
    stack.runtime.drain()
    stack.runtime.advance(minutes=15)
    stack.client("s3", DESTINATION_REGION).put_bucket_versioning(
        Bucket=destination, VersioningConfiguration={"Status": "Enabled"}
    )
    mark_fixed(stack, source)
    stack.runtime.advance(minutes=30)
    # When the runtime has delivered the ledger's stream (drain() polls it like Lambda's mapping)
    stack.runtime.drain()
    # Then every history line in the ledger is in the archive, once
    ledger_lines = Counter(
        (e.ref.key, e.at.isoformat(), e.kind, e.to_state and str(e.to_state), e.event_id, e.job_id)
        for key in keys
        for e in stack.ledger.history(source, key)
    )
    archive = archived_lines(stack)
    archived = Counter(
        (
            line["object_key"],
            line["written_at"].replace("Z", "+00:00"),
            line["kind"],
            line["to_state"],
            line["event_id"],
            line["job_id"],
        )
        for line in archive
    )
    assert any(e[3] == "REPLICATED" for e in ledger_lines)  # the run went all the way
    assert archived == ledger_lines
    # And the archive function ran from the stream without a failure
    runs = [i for i in stack.runtime.invocations if i.function_id == "ArchiveFunction"]
    assert runs and all(i.ok and i.result == {"batchItemFailures": []} for i in runs)


def test_with_object_lock_every_archive_object_is_retained(stack_factory: Any) -> None:
    # Given a stack deployed with a 30-day compliance retention on the audit bucket
    stack = stack_factory(
        LogLevel="WARNING",
        SourceBucketArns="arn:aws:s3:::e2e-*-src",
        AuditObjectLockDays="30",
        AuditObjectLockMode="COMPLIANCE",
    )
    source, _destination, _ = stack.replicated_bucket_pair("e2e-locked", destination_versioning="Suspended")
    # When a failure is recorded and the stream delivered
    stack.client("s3").put_object(Bucket=source, Key="k", Body=b"x")
    stack.runtime.drain()
    # Then its lines are archived, each object locked in compliance mode
    s3 = stack.client("s3")
    bucket = stack.runtime.outputs["AuditBucketName"]
    retention = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["Rule"]
    assert (retention["DefaultRetention"]["Mode"], retention["DefaultRetention"]["Days"]) == (
        "COMPLIANCE",
        30,
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="history/")["Contents"]]
    assert keys and archived_lines(stack)
    for key in keys:
        assert s3.head_object(Bucket=bucket, Key=key)["ObjectLockMode"] == "COMPLIANCE"
