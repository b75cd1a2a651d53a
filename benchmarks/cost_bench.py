"""Benchmark 4: what DynamoDB bills for one failure's whole lifecycle, against a floor, in one run.

    python -m benchmarks.cost_bench --failures 1000

N failures of one source bucket (realistic keys of 30-60 bytes, each a real version in a versioned
moto bucket) go through the real code paths, built by ``lifecycle_driver.build_pipeline`` (the only
module that imports replimend): every failure event is recorded by the ingest path, one
remediation pass puts them in a job (CreateJob answered in-process, as in remediation_bench), the
job's completion report is written in AWS's format with every task succeeded, and the job tracker
applies it on the job's status events (REPLICATED). ``DynamoDBMeter`` bills every DynamoDB request
of the lifecycle as DynamoDB would (table and index write units, read units, storage).

The floor, measured in the same run by the same meter on the same moto backend: a table with one
sparse KEYS_ONLY due-work index; each of the same SQS bodies json-decoded and written with one
conditional PutItem of a <= 1 KB item that carries the due-index keys; then one UpdateItem per
object outcome of the same completion report that removes the due keys. Batch Operations costs
the same for both: $0.25 per job + $1.00 per million objects, jobs = ceil(failures / MaxObjectsPerJob).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from benchmarks.common import ACCOUNT, EVENTS_DIR, REGION, create_ledger_table, mocked_aws, rounded
from benchmarks.cost import PRICE_SOURCE, PRICES_USD, lifecycle_usd
from benchmarks.dynamodb_meter import DynamoDBMeter, item_size

SOURCE = "cost-bench-source"
DEST = "cost-bench-destination"
MANIFESTS = "replimend-cost-manifests"
REPORTS = "replimend-cost-reports"
FLOOR_TABLE = "replimend-cost-floor"
REASON = "DstVersionNotFound"  # action retry: no incident gate, as in remediation_bench
INDEX_SHARDS = 16  # template.yaml's LedgerIndexShards default
SQS_BATCH_SIZE = 10  # template.yaml: the FailureQueue event source's BatchSize
EVENT_TIME = datetime(2024, 9, 5, 21, 4, 32, 527000, tzinfo=UTC)
#: The status events S3 Batch Operations sends for a job that runs to completion (aws-facts.md §4.3).
JOB_EVENTS = (("JobCreated", "New"), ("JobStatusChanged", "Preparing"), ("JobStatusChanged", "Active"),
              ("JobStatusChanged", "Complete"))  # fmt: skip
COST_KEYS = (
    "wru_per_failure",
    "rru_per_failure",
    "floor_wru_per_failure",
    "wru_ratio",
    "usd_per_million_failures",
    "floor_usd_per_million_failures",
    "usd_ratio",
    "bytes_stored_per_failure",
)


def object_key(number: int) -> str:
    """A realistic key of 30-60 bytes (a space included, as '+' in events)."""
    return f"exports/2024/09/05/tenant-{number % 37:02d}/part {number:06d}.json.gz"


def failure_bodies(objects: list[tuple[str, str]]) -> list[str]:
    """One SQS body per failed version: events/sqs-failed-replication.json's S3 document, varied."""
    sample = json.loads((EVENTS_DIR / "sqs-failed-replication.json").read_text(encoding="utf-8"))
    template = json.loads(sample["Records"][0]["body"])
    bodies = []
    for number, (key, version) in enumerate(objects):
        document = copy.deepcopy(template)
        record = document["Records"][0]
        record["eventTime"] = (EVENT_TIME + timedelta(milliseconds=number)).strftime("%Y-%m-%dT%H:%M:%S.%f")[
            :-3
        ] + "Z"
        record["s3"]["bucket"].update(name=SOURCE, arn=f"arn:aws:s3:::{SOURCE}")
        record["s3"]["object"].update(
            key=quote_plus(key, safe="/"), versionId=version, sequencer=f"0066DA1CC0{number:08X}"
        )
        record["replicationEventData"].update(
            destinationBucket=f"arn:aws:s3:::{DEST}", failureReason=REASON, replicationRuleId="rule-1"
        )
        bodies.append(json.dumps(document))
    return bodies


class BatchOperations:
    """CreateJob and DescribeJob as S3 answers them, for jobs this benchmark runs to completion."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}  # job id -> CreateJob params
        self.status: dict[str, str] = {}
        self.tasks: dict[str, int] = {}
        self._tokens: dict[str, str] = {}

    def create_job(self, params: dict[str, Any], _context: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            token = str(params["ClientRequestToken"])
            if token not in self._tokens:
                job_id = f"cost-job-{len(self._tokens) + 1:04d}"
                self._tokens[token] = job_id
                self.jobs[job_id] = params
                self.status[job_id] = "New"
            return {"JobId": self._tokens[token]}

    def describe_job(self, params: dict[str, Any], _context: dict[str, Any]) -> dict[str, Any]:
        from replimend_local.hooks import EmulatedError

        job_id = str(params["JobId"])
        if job_id not in self.jobs:
            raise EmulatedError("NotFoundException", f"job {job_id} not found", 404)
        request, tasks = self.jobs[job_id], self.tasks.get(job_id, 0)
        return {
            "Job": {
                "JobId": job_id,
                "Status": self.status[job_id],
                "Description": request.get("Description"),
                "Operation": request["Operation"],
                "Manifest": request["Manifest"],
                "Report": request["Report"],
                "Priority": request["Priority"],
                "RoleArn": request["RoleArn"],
                "ProgressSummary": {
                    "TotalNumberOfTasks": tasks,
                    "NumberOfTasksSucceeded": tasks,
                    "NumberOfTasksFailed": 0,
                },
                "CreationTime": EVENT_TIME,
                "TerminationDate": EVENT_TIME + timedelta(minutes=30),
            }
        }

    def hooks(self) -> list[Any]:
        from replimend_local import hooks

        return [
            *hooks.emulated_operation("s3-control", "CreateJob", self.create_job),
            *hooks.emulated_operation("s3-control", "DescribeJob", self.describe_job),
        ]

    def complete(self, s3: Any) -> list[tuple[str, str, str]]:
        """Run every job: each task succeeds; writes the completion reports; returns the objects."""
        from replimend_local.batch_operations.manifests import (
            TaskResult,
            read_manifest,
            write_completion_report,
        )

        done = []
        for job_id, request in self.jobs.items():
            entries = read_manifest(s3, request["Manifest"])
            results = [TaskResult(entry, True, 200, "", "Successful") for entry in entries]
            write_completion_report(
                s3, job_id=job_id, report=request["Report"], results=results, created=EVENT_TIME
            )
            self.tasks[job_id] = len(entries)
            done += [(entry.bucket, entry.key, entry.version_id or "null") for entry in entries]
        return done


def job_event(job_id: str, event_name: str, status: str) -> dict[str, Any]:
    """A Batch Operations job event as EventBridge delivers it (aws-facts.md §4.3)."""
    return {
        "version": "0",
        "id": f"{job_id}-{status}",
        "detail-type": "AWS Service Event via CloudTrail",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": EVENT_TIME.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": {
            "eventVersion": "1.05",
            "eventSource": "s3.amazonaws.com",
            "eventName": event_name,
            "awsRegion": REGION,
            "eventType": "AwsServiceEvent",
            "serviceEventDetails": {
                "jobId": job_id,
                "jobArn": f"arn:aws:s3:{REGION}:{ACCOUNT}:job/{job_id}",
                "status": status,
                "jobEventId": hashlib.md5(f"{job_id}{status}".encode()).hexdigest(),  # noqa: S324 - an id
                "failureCodes": [],
                "statusChangeReason": [],
            },
        },
    }


def pipeline_environment(table: str) -> dict[str, str]:
    """The functions' variables as template.yaml sets them (defaults where the template has them)."""
    return {
        "LEDGER_TABLE": table,
        "LEDGER_INDEX_SHARDS": str(INDEX_SHARDS),
        "HISTORY_RETENTION_DAYS": "0",
        "ACCOUNT_ID": ACCOUNT,
        "MANIFEST_BUCKET": MANIFESTS,
        "REPORT_BUCKET": REPORTS,
        "BATCH_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/replimend-batch",
    }


# --------------------------------------------------------------------------- the floor


def create_floor_table(client: Any) -> None:
    client.create_table(
        TableName=FLOOR_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "due_pk", "due_sk")
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "DueWork",
                "KeySchema": [
                    {"AttributeName": "due_pk", "KeyType": "HASH"},
                    {"AttributeName": "due_sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def floor_key(bucket: str, key: str, version: str, destination: str) -> dict[str, Any]:
    return {"pk": {"S": f"{bucket}#{key}"}, "sk": {"S": f"{version}#{destination}"}}


def floor_item(body: str) -> dict[str, Any]:
    """The least an event needs to be remembered and found as due work: one item, <= 1 KB."""
    from urllib.parse import unquote_plus

    record = json.loads(body)["Records"][0]
    s3, data = record["s3"], record["replicationEventData"]
    bucket, key = s3["bucket"]["name"], unquote_plus(s3["object"]["key"])
    version, destination = s3["object"].get("versionId") or "null", data["destinationBucket"].split(":::")[-1]
    shard = (
        int.from_bytes(hashlib.blake2b(f"{key}\0{version}".encode(), digest_size=2).digest()) % INDEX_SHARDS
    )
    item = {
        **floor_key(bucket, key, version, destination),
        "reason": {"S": data["failureReason"]},
        "seen": {"S": record["eventTime"]},
        "seq": {"S": s3["object"]["sequencer"]},
        "rule": {"S": data["replicationRuleId"]},
        "due_pk": {"S": f"{bucket}#{destination}#{shard}"},
        "due_sk": {"S": f"{record['eventTime']}#{key}#{version}"},
    }
    if item_size(item) > 1024:
        raise ValueError(f"floor item over 1 KB ({item_size(item)} B): {key!r}")
    return item


def run_floor(client: Any, bodies: list[str], outcomes: list[tuple[str, str, str]]) -> None:
    create_floor_table(client)
    for body in bodies:
        client.put_item(
            TableName=FLOOR_TABLE, Item=floor_item(body), ConditionExpression="attribute_not_exists(pk)"
        )
    for bucket, key, version in outcomes:
        client.update_item(
            TableName=FLOOR_TABLE,
            Key=floor_key(bucket, key, version, DEST),
            UpdateExpression="SET outcome = :o REMOVE due_pk, due_sk",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":o": {"S": "REPLICATED"}},
        )


# --------------------------------------------------------------------------- the run


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Powertools' log lines and EMF documents go to /dev/null (they are still produced)."""
    from benchmarks.common import quiet_powertools_output

    undo = quiet_powertools_output()
    try:
        with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
            yield
    finally:
        undo()


def _per_failure(report: dict[str, Any], failures: int) -> dict[str, Any]:
    """The meter's report with every unit count divided by the number of failures."""

    def scale(tally: dict[str, Any]) -> dict[str, Any]:
        return {
            "requests": round(tally["requests"] / failures, 4),
            "wru": round(tally["wru"] / failures, 4),
            "wru_table": round(tally["wru_table"] / failures, 4),
            "wru_indexes": {name: round(units / failures, 4) for name, units in tally["wru_indexes"].items()},
            "rru": round(tally["rru"] / failures, 4),
            "failed_conditions": round(tally["failed_conditions"] / failures, 4),
        }

    return {
        "by_request_type": {name: scale(tally) for name, tally in report["by_request_type"].items()},
        "by_index_wru": {name: round(units / failures, 4) for name, units in report["by_index_wru"].items()},
        "by_phase": {name: scale(tally) for name, tally in report["by_phase"].items()},
    }


def run_cost(failures: int = 1000) -> dict[str, Any]:
    """The measured lifecycle and the floor for ``failures`` failures; the ``cost`` results block."""
    import boto3

    from benchmarks.lifecycle_driver import build_pipeline
    from replimend_local import hooks

    if failures < 1:
        raise ValueError("failures must be positive")
    started = time.perf_counter()
    batch = BatchOperations()
    meter = DynamoDBMeter()
    with mocked_aws():
        setup = boto3.Session(region_name=REGION)  # unmetered: the world, the reports, the floor's table
        table = create_ledger_table(setup)
        s3 = setup.client("s3")
        for bucket in (SOURCE, MANIFESTS, REPORTS):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=SOURCE, VersioningConfiguration={"Status": "Enabled"})
        objects = []
        for number in range(failures):
            key = object_key(number)
            objects.append((key, str(s3.put_object(Bucket=SOURCE, Key=key, Body=b"x")["VersionId"])))
        bodies = failure_bodies(objects)

        # The pipeline's clients come from a fresh default session with the meter and CreateJob/DescribeJob.
        boto3.setup_default_session(region_name=REGION)
        assert boto3.DEFAULT_SESSION is not None
        meter.attach(boto3.DEFAULT_SESSION.events)
        hooks.install(boto3.DEFAULT_SESSION, batch.hooks())
        tracked: list[Any] = []
        try:
            with _quiet():
                pipeline = build_pipeline(pipeline_environment(table.name))
                with meter.phase("ingest"):
                    messages = [(body, f"cost-message-{n:07d}") for n, body in enumerate(bodies)]
                    for start in range(0, len(messages), SQS_BATCH_SIZE):
                        pipeline.ingest(messages[start : start + SQS_BATCH_SIZE])
                with meter.phase("remediate"):
                    remediation = pipeline.remediate()
                outcomes = batch.complete(s3)  # S3 Batch Operations' part: not DynamoDB
                with meter.phase("track"):
                    for job_id in batch.jobs:
                        for event_name, status in JOB_EVENTS:
                            batch.status[job_id] = status
                            tracked.append(pipeline.track(job_event(job_id, event_name, status)))
        finally:
            boto3.DEFAULT_SESSION = None
        measured = meter.report()
        measured_storage = meter.storage(table.name, REGION)

        meter.reset()
        floor_client = setup.client("dynamodb")
        meter.attach(floor_client.meta.events)
        with meter.phase("floor"):
            run_floor(floor_client, bodies, outcomes)
        floor = meter.report()
        floor_storage = meter.storage(FLOOR_TABLE, REGION)

    jobs = len(batch.jobs)
    limit = pipeline.max_objects_per_job
    invariants = {
        "one_source_planned_every_failure": remediation.pairs == 1 and remediation.planned == failures,
        "every_failure_marked_in_job": remediation.marked_in_job == failures,
        "no_remediation_errors": remediation.errors == 0,
        "jobs_equal_ceil_failures_over_limit": jobs == math.ceil(failures / limit),
        "every_task_in_a_report": len(outcomes) == failures,
        "every_failure_replicated": sum(counts.replicated for counts in tracked) == failures,
        "no_tracking_errors": not any(counts.errors for counts in tracked),
    }
    return cost_block(
        failures=failures,
        jobs=jobs,
        max_objects_per_job=limit,
        measured=measured,
        floor=floor,
        measured_storage=measured_storage,
        floor_storage=floor_storage,
        invariants=invariants,
        seconds=time.perf_counter() - started,
    )


def cost_block(
    *,
    failures: int,
    jobs: int,
    max_objects_per_job: int,
    measured: dict[str, Any],
    floor: dict[str, Any],
    measured_storage: dict[str, Any],
    floor_storage: dict[str, Any],
    invariants: dict[str, bool],
    seconds: float,
) -> dict[str, Any]:
    wru = measured["total"]["wru"] / failures
    rru = measured["total"]["rru"] / failures
    floor_wru = floor["total"]["wru"] / failures
    floor_rru = floor["total"]["rru"] / failures
    usd = lifecycle_usd(wru_per_failure=wru, rru_per_failure=rru, max_objects_per_job=max_objects_per_job)
    floor_usd = lifecycle_usd(
        wru_per_failure=floor_wru, rru_per_failure=floor_rru, max_objects_per_job=max_objects_per_job
    )
    return {
        "failures": failures,
        "wru_per_failure": round(wru, 3),
        "rru_per_failure": round(rru, 3),
        "floor_wru_per_failure": round(floor_wru, 3),
        "wru_ratio": round(wru / floor_wru, 2),
        "usd_per_million_failures": round(usd["total"], 2),
        "floor_usd_per_million_failures": round(floor_usd["total"], 2),
        "usd_ratio": round(usd["total"] / floor_usd["total"], 2),
        "bytes_stored_per_failure": round(measured_storage["total_bytes"] / failures, 1),
        "floor_rru_per_failure": round(floor_rru, 3),
        "floor_bytes_stored_per_failure": round(floor_storage["total_bytes"] / failures, 1),
        "jobs": jobs,
        "max_objects_per_job": max_objects_per_job,
        "usd_per_million_failures_lines": {"measured": usd, "floor": floor_usd},
        "breakdown": {
            "per_failure": _per_failure(measured, failures),
            "floor_per_failure": _per_failure(floor, failures),
            "measured": measured,
            "floor": floor,
        },
        "storage": {"measured": measured_storage, "floor": floor_storage},
        "prices_usd": PRICES_USD,
        "price_source": PRICE_SOURCE,
        "method": [
            "every DynamoDB request of the lifecycle (ingest of each event, one remediation pass, the "
            "job tracker on the job's status events) billed by benchmarks/dynamodb_meter.py from the "
            "items before and after it, read from moto's backend (AWS doc pages cited there)",
            f"failure reason {REASON} (action retry: no incident gate), one source bucket and destination",
            "floor: one conditional PutItem (<= 1 KB, sparse KEYS_ONLY due index keys) per event and "
            "one UpdateItem removing the due keys per object outcome, no reads",
            "usd per million failures: WRU and RRU per failure x 1e6 at on-demand prices + Batch "
            "Operations for a million objects (ceil(1e6 / MaxObjectsPerJob) jobs); storage "
            "(~$0.25 per GB-month) and S3 requests are not included",
        ],
        "invariants": invariants,
        "ok": all(invariants.values()),
        "seconds": rounded(seconds, 1),
    }


def merge_into(results_path: Path, block: dict[str, Any]) -> None:
    """Put ``block`` as ``cost`` into the results document ``benchmarks.run`` wrote, and rewrite its
    summary.md (so the cost figures can be refreshed without rerunning every benchmark)."""
    from benchmarks.run import SUMMARY_NAME, summary_markdown

    results = json.loads(results_path.read_text(encoding="utf-8"))
    results.pop("cost_per_10000_failures_usd", None)  # the call-count estimate this block supersedes
    results["cost"] = block
    runs = [
        *results.get("remediation", []),
        *([results["remediation_split"]] if "remediation_split" in results else []),
    ]
    results["ok"] = all(run["ok"] for run in runs) and block["ok"]
    results_path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (results_path.parent / SUMMARY_NAME).write_text(summary_markdown(results), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--failures", type=int, default=1000)
    parser.add_argument(
        "--merge",
        type=Path,
        help="results.json written by benchmarks.run: set its cost block, rewrite summary.md",
    )
    args = parser.parse_args(argv)
    block = run_cost(args.failures)
    print(json.dumps({name: block[name] for name in ("failures", *COST_KEYS, "ok")}, indent=1))
    print(json.dumps(block["breakdown"]["per_failure"], indent=1))
    if args.merge:
        merge_into(args.merge, block)
    return 0 if block["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
