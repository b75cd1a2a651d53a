"""Ingest under redelivery, reordering and throttling, through the real handler: the ledger ends as a
single in-order delivery leaves it, and nothing reaches the DLQ that should not."""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from replimend.errors import AwsCallError
from replimend.ledger import table as table_module
from replimend.ledger.objects import record_from_item
from replimend_local.sam_template import load_template, table_create_kwargs
from tests.conftest import load_event
from tests.integration.test_ingest import FakeLambdaContext, emf_documents, load_ingest_app, metric_total

T0 = datetime(2024, 9, 5, 21, 0, tzinfo=UTC)
REASONS = ["DstPutObjectNotPermitted", "DstVersionNotFound", "SrcVersionNotFound", "NoSuchReasonYet"]
MAX_RECEIVES = 5  # template.yaml: the FailureQueue's redrive policy


def s3_body(n: int, rng: random.Random) -> str:
    """One failure event; several share an object (different sequencers, times and reasons)."""
    template = json.loads(load_event("sqs-failed-replication.json")["Records"][0]["body"])
    record = template["Records"][0]
    record["s3"]["object"].update(
        key=f"data/{n % 7}+file {n % 7}.bin", versionId=f"v{n % 7:03d}", sequencer=f"0066DA1CBF104C{n:04X}"
    )
    record["eventTime"] = (T0 + timedelta(seconds=rng.randrange(3600))).strftime("%Y-%m-%dT%H:%M:%S.%f")[
        :-3
    ] + "Z"
    record["replicationEventData"]["failureReason"] = rng.choice(REASONS)
    return json.dumps(template)


def sqs_record(body: str, message_id: str, receives: int) -> dict[str, Any]:
    record = copy.deepcopy(load_event("sqs-failed-replication.json")["Records"][0])
    record.update(messageId=message_id, body=body)
    record["attributes"]["ApproximateReceiveCount"] = str(receives)
    return record


def snapshot(table: Any) -> dict[str, Any]:
    """What a delivery order must not change: every object record, and which incidents exist."""
    objects, incidents = {}, set()
    for item in table.scan()["Items"]:
        if str(item["sk"]).startswith("V#"):
            r = record_from_item(item)
            objects[str(r.ref)] = (
                r.state,
                r.failure_reason,
                r.action,
                r.last_sequencer,
                r.last_seen,
                r.first_seen,
                r.event_ids,
            )
        elif str(item["pk"]).startswith("I#"):
            incidents.add(str(item["pk"]))
    return {"objects": objects, "incidents": incidents}


def deliver(app: Any, messages: list[tuple[str, str]], *, batch: int = 10) -> dict[str, int]:
    """Deliver like the SQS event source: batches, partial failures redelivered, a failed invocation
    redelivering its whole batch. How many times each message was received."""
    receives = {message_id: 0 for message_id, _ in messages}
    pending = list(messages)
    while pending:
        current, pending = pending[:batch], pending[batch:]
        for message_id, _ in current:
            receives[message_id] += 1
            assert receives[message_id] < MAX_RECEIVES, f"{message_id} would reach the DLQ"
        event = {"Records": [sqs_record(body, mid, receives[mid]) for mid, body in current]}
        try:
            response = app.lambda_handler(event, FakeLambdaContext())
            failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        except AwsCallError:
            failed = {mid for mid, _ in current}  # the batch-end flush failed: the whole batch returns
        pending += [(mid, body) for mid, body in current if mid in failed]
    return receives


def fresh_app(monkeypatch: pytest.MonkeyPatch, name: str) -> tuple[Any, Any]:
    table = boto3.resource("dynamodb", region_name="us-east-1").create_table(
        **table_create_kwargs(load_template(), "Ledger", name)
    )
    monkeypatch.setenv("LEDGER_TABLE", name)
    monkeypatch.setenv("LEDGER_INDEX_SHARDS", "4")
    return load_ingest_app(), table


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_event_delivered_one_to_three_times_shuffled_ends_as_one_delivery(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    messages = [(f"m-{n}", s3_body(n, rng)) for n in range(40)]
    with mock_aws():
        once_app, once_table = fresh_app(monkeypatch, "once")
        deliver(
            once_app,
            sorted(messages, key=lambda m: json.loads(m[1])["Records"][0]["s3"]["object"]["sequencer"]),
        )
        many_app, many_table = fresh_app(monkeypatch, "many")
        copies = [m for m in messages for _ in range(rng.randint(1, 3))]
        rng.shuffle(copies)
        deliver(many_app, copies)
        expected = snapshot(once_table)
        assert len(expected["objects"]) == 7 and expected["incidents"]
        assert snapshot(many_table) == expected


def test_throttled_writes_fail_only_their_messages_and_redelivery_records_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(7)
    messages = [(f"m-{n}", s3_body(n, rng)) for n in range(60)]
    with mock_aws():
        clean_app, clean_table = fresh_app(monkeypatch, "clean")
        deliver(clean_app, messages)
        # Given DynamoDB throttling one write in ten (after the SDK's own retries gave up)
        faults = random.Random(11)
        real_call: Callable[..., dict[str, Any]] = table_module.Table.call
        throttled = 0

        def flaky(self: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
            nonlocal throttled
            if operation in {"PutItem", "UpdateItem"} and faults.random() < 0.1:
                throttled += 1
                raise AwsCallError(operation, "ProvisionedThroughputExceededException", "Rate exceeded")
            return real_call(self, operation, **kwargs)

        monkeypatch.setattr(table_module.Table, "call", flaky)
        flaky_app, flaky_table = fresh_app(monkeypatch, "flaky")
        receives = deliver(flaky_app, messages)
        # Then some messages were redelivered, none would reach the DLQ, and the ledger is whole
        assert throttled > 0 and max(receives.values()) > 1
        monkeypatch.setattr(table_module.Table, "call", real_call)
        assert snapshot(flaky_table) == snapshot(clean_table)


def test_dynamodb_throttling_injected_below_the_ledger_is_redelivered_visible_and_never_dead_lettered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(5)
    messages = [(f"m-{n}", s3_body(n, rng)) for n in range(60)]
    with mock_aws():
        clean_app, clean_table = fresh_app(monkeypatch, "clean")
        deliver(clean_app, messages)
        # Given DynamoDB answering one call in ten with a throttling error, injected through botocore's
        # before-call hook (so below the ledger's own code, as the SDK raises it once its retries give up)
        faults = random.Random(13)
        throttled: Counter[str] = Counter()

        def throttle(event_name: str, **_: Any) -> None:
            if faults.random() < 0.1:
                operation = event_name.rsplit(".", 1)[-1]
                throttled[operation] += 1
                raise ClientError(
                    {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation
                )

        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
        assert session is not None
        session.events.register("before-call.dynamodb.*", throttle)  # clients made from now on
        try:
            flaky_app, flaky_table = fresh_app(monkeypatch, "flaky")
            capsys.readouterr()
            caplog.clear()
            receives = deliver(flaky_app, messages)
        finally:
            session.events.unregister("before-call.dynamodb.*", throttle)
        output = capsys.readouterr().out
        # Then messages were failed and redelivered, none would have reached the DLQ
        assert sum(throttled.values()) > 0 and max(receives.values()) > 1
        # and every failed message is counted and logged
        failures = metric_total(emf_documents(output), "RecordFailures")
        logged = [r for r in caplog.records if r.getMessage() == "message not recorded; left for redelivery"]
        assert failures > 0 and len(logged) == failures
        assert all("ThrottlingException" in str(getattr(r, "error", "")) for r in logged)
        # and the ledger ends exactly as without the faults
        assert snapshot(flaky_table) == snapshot(clean_table)
