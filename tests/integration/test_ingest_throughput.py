"""Throughput of the ingest function against moto (run with -s to see the rate).

moto is far slower than DynamoDB, so the number is a floor for regressions, not a capacity figure:
it counts what our code asks of the table per event (a read and three or four writes).
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from replimend.ledger import Ledger
from replimend.models import ObjectState
from tests.conftest import load_event
from tests.integration.test_ingest import FakeLambdaContext, load_ingest_app

MESSAGES = 100
BATCH = 10


def synthetic_batches(count: int, batch_size: int) -> list[dict[str, Any]]:
    """``count`` distinct failure messages built from events/sqs-failed-replication.json, in SQS batches."""
    template_event = load_event("sqs-failed-replication.json")
    template_record = template_event["Records"][0]
    body = json.loads(template_record["body"])
    records = []
    for n in range(count):
        document = copy.deepcopy(body)
        s3 = document["Records"][0]["s3"]
        s3["object"]["key"] = f"bench/{n:06d}.bin"
        s3["object"]["sequencer"] = f"0066DA1CBF{n:08X}"
        record = copy.deepcopy(template_record)
        record["messageId"] = f"bench-{n:06d}"
        record["body"] = json.dumps(document)
        records.append(record)
    return [{"Records": records[i : i + batch_size]} for i in range(0, count, batch_size)]


def test_ingest_throughput_against_moto(
    ledger_table: Any,
    ledger_table_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDGER_TABLE", ledger_table_name)
    monkeypatch.setenv("LEDGER_INDEX_SHARDS", "16")
    app = load_ingest_app()
    batches = synthetic_batches(MESSAGES, BATCH)
    context = FakeLambdaContext()

    started = time.perf_counter()
    for batch in batches:
        assert app.lambda_handler(batch, context) == {"batchItemFailures": []}
    first_pass = time.perf_counter() - started

    started = time.perf_counter()
    for batch in batches:  # SQS redelivers everything: all duplicates
        assert app.lambda_handler(batch, context) == {"batchItemFailures": []}
    redelivery = time.perf_counter() - started

    ledger = Ledger(ledger_table, index_shards=16)
    assert len(list(ledger.failures_in_state(ObjectState.FAILED))) == MESSAGES
    capsys.readouterr()  # drop the EMF lines
    with capsys.disabled():
        print(
            f"\ningest against moto: {MESSAGES / first_pass:.0f} new events/s, "
            f"{MESSAGES / redelivery:.0f} redelivered events/s ({MESSAGES} events, batches of {BATCH})"
        )
