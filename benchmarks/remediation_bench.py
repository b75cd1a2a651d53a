"""Benchmark 3: one remediation pass over N failures of one (source, destination) in moto.

The ledger is seeded the way ingest records failures (``Ledger.record_event``), and every failed
source version really exists in a versioned moto bucket, so the pass's HEAD checks find them. One
``Remediation.run()`` then plans the pair, HEAD-checks each object, writes the manifest and its
pending marker, calls CreateJob and marks each object IN_JOB. moto has no S3 Batch Operations:
CreateJob is answered in-process by a botocore ``before-call`` hook (replimend_local.hooks, as the
local mode does) that hands out one JobId per ClientRequestToken and keeps each request.

Seeding modes:
- ``record_event``: one ``Ledger.record_event`` call per failure, each a real conditional write.
- ``batch``: ``Ledger.record_event`` runs against a recording table that keeps the items it would
  put (the object item and its two history lines); they are then written with BatchWriteItem,
  25 per request. The items are byte-for-byte what record_event writes (the smoke test checks it);
  what is skipped is only the per-item condition, which always holds for a fresh key. Updates (the
  pair registry, incidents) still go to the table. Faster in moto only; the pass is identical.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.common import (
    ACCOUNT,
    REGION,
    CallCounter,
    by_service,
    create_ledger_table,
    mocked_aws,
    per_unit,
    quiet_powertools_output,
    rounded,
)

SOURCE = "bench-source"
DEST = "bench-destination"
MANIFESTS = "replimend-bench-manifests"
REPORTS = "replimend-bench-reports"
REASON = "DstVersionNotFound"  # action retry: no incident gate, the storm goes straight to a job
INDEX_SHARDS = 16
EVENT_TIME = datetime(2024, 9, 5, 21, 4, 32, 527000, tzinfo=UTC)
SEEDING_MODES = ("record_event", "batch")
_BATCH_WRITE_SIZE = 25


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class BatchOperationsResponder:
    """CreateJob as S3 answers it: one JobId per ClientRequestToken (a retry gets the same id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.job_ids: dict[str, str] = {}

    def __call__(self, params: dict[str, Any], _context: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.requests.append(params)
            token = str(params["ClientRequestToken"])
            if token not in self.job_ids:
                self.job_ids[token] = f"bench-job-{len(self.job_ids) + 1:04d}"
            return {"JobId": self.job_ids[token]}


class RecordingTable:
    """Stands in for the ledger's table while seeding: puts are kept, updates and reads go through.

    GetItem answers "no item": every seeded key is fresh (the benchmark names distinct objects).
    """

    def __init__(self, table: Any) -> None:
        self._table = table
        self.name = table.name
        self.items: list[dict[str, Any]] = []

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def put_item(self, *, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.items.append(Item)
        return {}

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        return dict(self._table.update_item(**kwargs))

    def query(self, **kwargs: Any) -> dict[str, Any]:
        return dict(self._table.query(**kwargs))


def failure_event(key: str, version_id: str) -> Any:
    from replimend.models import FAILED_REPLICATION, ReplicationEvent

    identity = f"{SOURCE}|{key}|{version_id}|{DEST}|{REASON}"
    return ReplicationEvent(
        event_type=FAILED_REPLICATION,
        event_id=hashlib.sha256(identity.encode()).hexdigest()[:32],
        source_bucket=SOURCE,
        key=key,
        version_id=version_id,
        sequencer="0066DA1CBF104C0D51",
        region=REGION,
        event_time=EVENT_TIME,
        destination_bucket_arn=f"arn:aws:s3:::{DEST}",
        destination_bucket=DEST,
        rule_id="rule-1",
        failure_reason=REASON,
        s3_operation="OBJECT_PUT",
    )


def classification() -> Any:
    from replimend.models import Classification
    from replimend.reasons import reason_entry

    entry = reason_entry(REASON)
    return Classification(entry.action, entry.category, REASON, known=True)


@dataclass
class World:
    """moto buckets and table, the clients the pass uses, and the counter on all of them."""

    session: Any
    table: Any
    s3: Any
    s3control: Any
    counter: CallCounter
    responder: BatchOperationsResponder
    seeding_clock: FixedClock
    timings: dict[str, float] = field(default_factory=dict)

    def ledger(self, table: Any = None) -> Any:
        from replimend.ledger import Ledger

        return Ledger(table or self.table, index_shards=INDEX_SHARDS, clock=self.seeding_clock)

    def settings(self, max_objects_per_job: int) -> Any:
        from replimend.settings import RemediationSettings

        return RemediationSettings.model_validate(
            {
                "LEDGER_TABLE": self.table.name,
                "LEDGER_INDEX_SHARDS": str(INDEX_SHARDS),
                "ACCOUNT_ID": ACCOUNT,
                "MANIFEST_BUCKET": MANIFESTS,
                "REPORT_BUCKET": REPORTS,
                "BATCH_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/replimend-batch",
                "MAX_OBJECTS_PER_JOB": str(max_objects_per_job),
            }
        )


@contextlib.contextmanager
def remediation_world() -> Iterator[World]:
    import boto3
    from botocore.config import Config

    from replimend_local import hooks

    responder = BatchOperationsResponder()
    with mocked_aws():
        session = boto3.Session(region_name=REGION)
        # CreateJob answered in-process; installed before the s3control client is made.
        hooks.install(session, hooks.emulated_operation("s3-control", "CreateJob", responder))
        table = create_ledger_table(session)
        # As remediation's wiring builds it: a pool larger than the HEAD threads.
        s3 = session.client("s3", config=Config(max_pool_connections=32, retries={"mode": "standard"}))
        for bucket in (SOURCE, MANIFESTS, REPORTS):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=SOURCE, VersioningConfiguration={"Status": "Enabled"})
        s3control = session.client("s3control")
        counter = CallCounter()
        for client in (s3, s3control, table.meta.client):
            counter.attach(client.meta.events)
        yield World(session, table, s3, s3control, counter, responder, FixedClock(EVENT_TIME))


def object_key(number: int) -> str:
    return f"storm/{number // 1000:03d}/object {number:06d}.bin"


def put_source_objects(world: World, failures: int) -> list[tuple[str, str]]:
    """The failed versions, really written to the versioned source bucket (HEAD must find them)."""
    keys = []
    for number in range(failures):
        key = object_key(number)
        version = world.s3.put_object(Bucket=SOURCE, Key=key, Body=b"x")["VersionId"]
        keys.append((key, str(version)))
    return keys


def seed_with_record_event(world: World, objects: list[tuple[str, str]]) -> None:
    ledger, how = world.ledger(), classification()
    for key, version in objects:
        ledger.record_event(failure_event(key, version), how)


def recorded_items(world: World, objects: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The items record_event puts for ``objects`` (updates already applied to the table)."""
    recording = RecordingTable(world.table)
    ledger, how = world.ledger(recording), classification()
    for key, version in objects:
        ledger.record_event(failure_event(key, version), how)
    return recording.items


def seed_with_batch_writes(world: World, objects: list[tuple[str, str]]) -> None:
    items = recorded_items(world, objects)
    with world.table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as writer:
        for item in items:
            writer.put_item(Item=item)


SEEDERS: dict[str, Callable[[World, list[tuple[str, str]]], None]] = {
    "record_event": seed_with_record_event,
    "batch": seed_with_batch_writes,
}


def run_remediation(
    failures: int, *, max_objects_per_job: int | None = None, seeding: str = "batch"
) -> dict[str, Any]:
    """Seed ``failures`` failures of one pair, run one pass, report jobs, calls and seconds."""
    from replimend.aws.s3 import S3Objects, S3Storage
    from replimend.aws.s3control import BatchJobs
    from replimend.models import ObjectRef, ObjectState
    from replimend.remediate.gate import IncidentFlagGate
    from replimend.remediate.remediation import Remediation

    if seeding not in SEEDERS:
        raise ValueError(f"seeding must be one of {', '.join(SEEDERS)}")
    job_limit = max_objects_per_job or 1_000_000  # template.yaml's MaxObjectsPerJob default
    with remediation_world() as world:
        gc.collect()
        started = time.perf_counter()
        objects = put_source_objects(world, failures)
        put_seconds = time.perf_counter() - started
        started = time.perf_counter()
        SEEDERS[seeding](world, objects)
        ledger_seconds = time.perf_counter() - started
        seeding_calls = world.counter.snapshot()

        ledger = world.ledger()
        remediation = Remediation(
            ledger=ledger,
            gate=IncidentFlagGate(ledger),
            objects=S3Objects(world.s3),
            storage=S3Storage(world.s3),
            jobs=BatchJobs(lambda region: world.s3control, ACCOUNT),
            settings=world.settings(job_limit),
            clock=FixedClock(EVENT_TIME + timedelta(minutes=5)),
        )
        undo_quiet = quiet_powertools_output()
        try:
            world.counter.reset()
            gc.collect()
            started = time.perf_counter()
            result = remediation.run()
            pass_seconds = time.perf_counter() - started
        finally:
            undo_quiet()
        calls = world.counter.snapshot()
        seconds_in_calls = world.counter.seconds_in_calls
        refs = [ObjectRef(SOURCE, key, version, DEST) for key, version in objects]
        in_job = sum(1 for r in ledger.get_failures(refs) if r.state is ObjectState.IN_JOB)
        manifest_rows = [
            sum(1 for _ in world.s3.get_object(Bucket=MANIFESTS, Key=key)["Body"].iter_lines())
            for source in result.sources
            for key in source.manifest_keys
        ]
        job_sizes = sorted((job.object_count for job in ledger.list_jobs()), reverse=True)

    (pair,) = result.sources
    expected_jobs = math.ceil(failures / job_limit)
    invariants = {
        "jobs_expected": expected_jobs,
        "jobs_equal_ceil_failures_over_limit": len(result.jobs) == expected_jobs,
        "create_job_calls_equal_jobs": calls.get("s3-control.CreateJob", 0) == len(result.jobs),
        "every_failure_planned_once": pair.planned == failures and sum(manifest_rows) == failures,
        "every_failure_in_job": in_job == failures == pair.marked_in_job,
        "one_head_per_failure": calls.get("s3.HeadObject", 0) == failures,
        "no_errors": not pair.errors and result.truncated is None,
    }
    total_calls = sum(calls.values())
    return {
        "failures": failures,
        "max_objects_per_job": job_limit,
        "seeding": {
            "mode": seeding,
            "bypasses_record_event_conditions": seeding == "batch",
            "seconds_source_objects": rounded(put_seconds),
            "seconds_ledger": rounded(ledger_seconds),
            "calls": seeding_calls,
        },
        "jobs": len(result.jobs),
        "objects_per_job": job_sizes,
        "manifest_rows": manifest_rows,
        "calls": calls,
        "calls_by_service": by_service(calls),
        "calls_total": total_calls,
        "calls_per_object": per_unit(calls, failures),
        "seconds": rounded(pass_seconds),
        "seconds_per_object": pass_seconds / failures,
        "milliseconds_per_object": rounded(pass_seconds / failures * 1000, 3),
        "seconds_in_aws_calls": rounded(seconds_in_calls),
        "invariants": invariants,
        "ok": all(value for name, value in invariants.items() if name != "jobs_expected"),
    }


def failure_counts_from_environment(default: str = "1000,10000") -> list[int]:
    text = os.environ.get("BENCH_FAILURES", default)
    try:
        counts = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as exc:
        raise ValueError(f"BENCH_FAILURES must be comma-separated integers, not {text!r}") from exc
    if not counts or any(count < 1 for count in counts):
        raise ValueError(f"BENCH_FAILURES must name at least one positive count, not {text!r}")
    return counts
