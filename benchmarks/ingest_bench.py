"""Benchmark 2: the real ingest handler (functions/ingest/app.py) against moto's DynamoDB.

The handler runs unmodified, cold-started from the environment the template gives it, on Lambda SQS
events of 10 records. Calls are counted on boto3's default session (the one ``Ledger.from_settings``
uses), hooked before the handler module is imported, so every DynamoDB request the ledger makes is
counted exactly. The events/s figure is moto's, not DynamoDB's: what carries over to AWS is the
calls per event.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import time
import uuid
from types import ModuleType
from typing import Any

from benchmarks.common import (
    REGION,
    REPO_ROOT,
    CallCounter,
    create_ledger_table,
    mocked_aws,
    per_unit,
    quiet_powertools_output,
    rounded,
)
from benchmarks.parse_bench import time_parse
from benchmarks.workload import Workload, failure_storm, realistic_mix, sqs_batches
from replimend_local.sam.functions import environment

APP_PATH = REPO_ROOT / "functions" / "ingest" / "app.py"
BATCH_SIZE = 10  # the template's SQS event source batch size
INDEX_SHARDS = 16  # template.yaml's LedgerIndexShards default


class FakeLambdaContext:
    function_name = "replimend-IngestFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:replimend-IngestFunction"
    aws_request_id = "52fdfc07-2182-454f-963f-5f0f9a621d72"
    log_group_name = "/aws/lambda/replimend-IngestFunction"
    log_stream_name = "2024/09/05/[$LATEST]bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def load_ingest_app() -> ModuleType:
    """Import functions/ingest/app.py afresh: its cold-start code reads the environment."""
    spec = importlib.util.spec_from_file_location(f"bench_ingest_app_{uuid.uuid4().hex}", APP_PATH)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {APP_PATH}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _deliver(app: ModuleType, batches: list[dict[str, Any]]) -> float:
    context = FakeLambdaContext()
    gc.collect()
    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        started = time.perf_counter()
        for batch in batches:
            response = app.lambda_handler(batch, context)
            if response != {"batchItemFailures": []}:
                raise RuntimeError(f"ingest reported failed messages: {response}")
        return time.perf_counter() - started


def floor_seconds(table: Any, bodies: list[str]) -> float:
    """The floor under ingest: each body json-decoded and each of its events written with one
    conditional PutItem (no classification, history, indexes nor batch bookkeeping), same moto backend."""
    import json

    from replimend.events import parse_message_body

    keyed = [
        (body, [(e.source_bucket, e.key, e.version_id) for e in parse_message_body(body)]) for body in bodies
    ]
    client = table.meta.client
    gc.collect()
    started = time.perf_counter()
    for body, keys in keyed:
        json.loads(body)
        for bucket, key, version in keys:
            with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
                table.put_item(
                    Item={"pk": f"floor#{bucket}#{key}", "sk": f"V#{version}"},
                    ConditionExpression="attribute_not_exists(pk)",
                )
    return time.perf_counter() - started


def _pass_report(
    name: str, events: int, seconds: float, counter: CallCounter, parse_seconds: float
) -> dict[str, Any]:
    calls = counter.snapshot()
    return {
        "pass": name,
        "events": events,
        "seconds": rounded(seconds),
        "events_per_second": round(events / seconds) if seconds else None,
        "calls": calls,
        "calls_per_event": per_unit(calls, events),
        "dynamodb_calls_per_event": rounded(sum(calls.values()) / events, 3) if events else None,
        "seconds_in_aws_calls": rounded(counter.seconds_in_calls),
        "share_of_time_in_aws_calls": rounded(counter.seconds_in_calls / seconds, 3) if seconds else None,
        "handler_to_parse_time_ratio": rounded(seconds / parse_seconds, 1) if parse_seconds else None,
    }


def run_ingest_workload(workload: Workload, *, parse_repeats: int = 3) -> dict[str, Any]:
    """New events, then the same batches redelivered (all duplicates), through the real handler."""
    import boto3

    actions, parse_timing = time_parse(workload.bodies, parse_repeats)
    events = sum(actions.values())
    batches = sqs_batches(workload.bodies, BATCH_SIZE)
    counter = CallCounter()
    with mocked_aws():
        setup = boto3.Session(region_name=REGION)
        table = create_ledger_table(setup)
        # A fresh default session with the counter: Ledger.from_settings makes its client from it.
        boto3.setup_default_session(region_name=REGION)
        assert boto3.DEFAULT_SESSION is not None
        counter.attach(boto3.DEFAULT_SESSION.events)
        try:
            with environment(
                {
                    "LEDGER_TABLE": table.name,
                    "LEDGER_INDEX_SHARDS": str(INDEX_SHARDS),
                    "HISTORY_RETENTION_DAYS": "0",
                    "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"),
                }
            ):
                app = load_ingest_app()
            undo_quiet = quiet_powertools_output()
            try:
                counter.reset()
                new_seconds = _deliver(app, batches)
                new_pass = _pass_report("new", events, new_seconds, counter, parse_timing.best)
                items_after_new = _count_items(table)
                counter.reset()
                duplicate_seconds = _deliver(app, batches)  # SQS redelivers every message
                duplicate_pass = _pass_report(
                    "redelivered", events, duplicate_seconds, counter, parse_timing.best
                )
                items_after_duplicates = _count_items(table)
                floor = floor_seconds(
                    create_ledger_table(setup, f"floor-{uuid.uuid4().hex[:8]}"), workload.bodies
                )
            finally:
                undo_quiet()
        finally:
            boto3.DEFAULT_SESSION = None
    if items_after_duplicates != items_after_new:
        raise RuntimeError("redelivered duplicates changed the ledger: ingest is not idempotent")
    return {
        "workload": workload.name,
        "messages": len(workload.bodies),
        "events": events,
        "batch_size": BATCH_SIZE,
        "index_shards": INDEX_SHARDS,
        "delivery_forms": dict(sorted(workload.forms.items())),
        "events_by_action": dict(sorted(actions.items())),
        "parse_seconds_best": rounded(parse_timing.best, 4),
        "ledger_items_written": items_after_new,
        "passes": [new_pass, duplicate_pass],
        "floor": {
            "events_per_s": round(events / floor) if floor else None,
            "time_ratio": rounded(new_seconds / floor, 2) if floor else None,
        },
    }


def _count_items(table: Any) -> int:
    """Items in the table (a paginated Scan outside the counted session)."""
    count, kwargs = 0, {"Select": "COUNT"}
    while True:
        page = table.scan(**kwargs)
        count += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def run_ingest(messages: int, *, parse_repeats: int = 3) -> dict[str, Any]:
    """The realistic mix and a failure storm on one pair, each new then redelivered; the mix's new pass
    against its floor (``floor_seconds``) as the headline ratio."""
    mix = run_ingest_workload(realistic_mix(messages), parse_repeats=parse_repeats)
    new_pass = mix["passes"][0]
    return {
        "events_per_s": new_pass["events_per_second"],
        "floor_events_per_s": mix["floor"]["events_per_s"],
        "time_ratio": mix["floor"]["time_ratio"],
        "note": (
            "events/s are moto's speed (in-process DynamoDB emulation dominates the handler time, see "
            "share_of_time_in_aws_calls); the calls per event are exact and carry over to AWS"
        ),
        "workloads": [
            mix,
            run_ingest_workload(failure_storm(messages), parse_repeats=parse_repeats),
        ],
    }
