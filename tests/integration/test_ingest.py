"""The ingest function end to end against moto: SQS batch in, ledger items and metrics out."""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from replimend.errors import MalformedEventError
from replimend.events import parse_message_body
from replimend.ingest.recorder import IngestResult, event_type_dimension, ingest_message, record_events
from replimend.ingest.sqs_batch import BatchFailedError
from replimend.ledger import STATE_FOR_ACTION, Ledger, RecordOutcome
from replimend.models import ObjectRef, ObjectState, ReplicationEvent
from replimend.reasons import classify_failure
from tests.conftest import load_event
from tests.integration.ledger_helpers import failure_event

APP_PATH = Path(__file__).resolve().parents[2] / "functions" / "ingest" / "app.py"
SHARDS = "4"


class FakeLambdaContext:
    function_name = "replimend-IngestFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:replimend-IngestFunction"
    aws_request_id = "52fdfc07-2182-454f-963f-5f0f9a621d72"
    log_group_name = "/aws/lambda/replimend-IngestFunction"
    log_stream_name = "2024/09/05/[$LATEST]abcdef"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def load_ingest_app() -> ModuleType:
    """Import functions/ingest/app.py afresh (its cold-start code reads the environment)."""
    spec = importlib.util.spec_from_file_location(f"ingest_app_{uuid.uuid4().hex}", APP_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def ingest_app(ledger_table: Any, ledger_table_name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("LEDGER_TABLE", ledger_table_name)
    monkeypatch.setenv("LEDGER_INDEX_SHARDS", SHARDS)
    return load_ingest_app()


@pytest.fixture
def ledger(ledger_table: Any) -> Ledger:
    return Ledger(ledger_table, index_shards=int(SHARDS))


def events_of(sqs_event: dict[str, Any], *, skip: set[str] = frozenset()) -> list[ReplicationEvent]:  # type: ignore[assignment]
    return [
        event
        for record in sqs_event["Records"]
        if record["messageId"] not in skip
        for event in parse_message_body(record["body"])
    ]


def ref_of(event: ReplicationEvent) -> ObjectRef:
    assert event.source_bucket and event.key and event.destination_bucket
    return ObjectRef(event.source_bucket, event.key, event.version_id, event.destination_bucket)


def object_count(table: Any) -> int:
    return sum(1 for item in table.scan()["Items"] if str(item["sk"]).startswith("V#"))


def emf_documents(output: str) -> list[dict[str, Any]]:
    documents = []
    for raw in output.splitlines():
        line = raw.strip()
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metric_total(documents: list[dict[str, Any]], name: str, **dimensions: str) -> float:
    total = 0.0
    for document in documents:
        if name not in document:
            continue
        if all(document.get(key) == value for key, value in dimensions.items()):
            value = document[name]
            total += sum(value) if isinstance(value, list) else value
    return total


# ------------------------------------------------------------------ the handler


def test_a_batch_of_failures_is_recorded(
    ingest_app: ModuleType, ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an SQS batch of three replication failure messages
    sqs_event = load_event("sqs-failed-replication.json")
    # When the ingest function handles it
    response = ingest_app.lambda_handler(sqs_event, FakeLambdaContext())
    # Then no message failed and every event is an object in the state its reason's action gives
    assert response == {"batchItemFailures": []}
    events = events_of(sqs_event)
    assert len(events) == 3
    for event in events:
        record = ledger.get_failure(ref_of(event))
        assert record is not None and record.state is STATE_FOR_ACTION[classify_failure(event).action]
        assert record.failure_reason == event.failure_reason
        assert any(
            h.event_id == event.event_id for h in ledger.history(event.source_bucket or "", event.key or "")
        )
    # And the metrics say so
    documents = emf_documents(capsys.readouterr().out)
    assert metric_total(documents, "EventsReceived", EventType="FailedReplication") == 3
    assert metric_total(documents, "RecordsWritten") == 3


def test_a_malformed_message_fails_alone(
    ingest_app: ModuleType, ledger: Ledger, ledger_table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a batch whose middle message is not a valid S3 event
    sqs_event = load_event("sqs-mixed-with-malformed.json")
    malformed_id = "059f36b4-87a3-44ab-83d2-661975830a84"
    with pytest.raises(MalformedEventError):
        parse_message_body(next(r["body"] for r in sqs_event["Records"] if r["messageId"] == malformed_id))
    # When the ingest function handles it
    response = ingest_app.lambda_handler(sqs_event, FakeLambdaContext())
    # Then only that message is reported failed (SQS retries it, then the DLQ takes it)
    assert response == {"batchItemFailures": [{"itemIdentifier": malformed_id}]}
    # And the other messages' events are in the ledger
    recorded = events_of(sqs_event, skip={malformed_id})
    assert len(recorded) == 2
    for event in recorded:
        assert ledger.get_failure(ref_of(event)) is not None
    assert object_count(ledger_table) == 2
    assert metric_total(emf_documents(capsys.readouterr().out), "ParseFailures") == 1


def test_a_redelivered_batch_changes_nothing(ingest_app: ModuleType, ledger_table: Any) -> None:
    # Given a batch already ingested
    sqs_event = load_event("sqs-failed-replication.json")
    ingest_app.lambda_handler(sqs_event, FakeLambdaContext())
    before = sorted(json.dumps(item, sort_keys=True, default=str) for item in ledger_table.scan()["Items"])
    # When SQS delivers it again
    response = ingest_app.lambda_handler(copy.deepcopy(sqs_event), FakeLambdaContext())
    # Then the table is unchanged
    assert response == {"batchItemFailures": []}
    after = sorted(json.dumps(item, sort_keys=True, default=str) for item in ledger_table.scan()["Items"])
    assert after == before


def test_a_batch_where_every_message_is_malformed_fails_the_invocation(ingest_app: ModuleType) -> None:
    # Given a batch with only the malformed message
    sqs_event = load_event("sqs-mixed-with-malformed.json")
    sqs_event["Records"] = [r for r in sqs_event["Records"] if r["messageId"].endswith("a84")]
    # Then the whole invocation fails (SQS retries the batch, Lambda counts an error)
    with pytest.raises(BatchFailedError):
        ingest_app.lambda_handler(sqs_event, FakeLambdaContext())


@pytest.mark.parametrize("name", ["sqs-sns-envelope.json", "sqs-raw-sns.json", "sqs-test-event.json"])
def test_every_sqs_delivery_form_is_accepted(ingest_app: ModuleType, ledger: Ledger, name: str) -> None:
    sqs_event = load_event(name)
    response = ingest_app.lambda_handler(sqs_event, FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    for event in events_of(sqs_event):
        if event.event_type.startswith("Replication:OperationFailed"):
            assert ledger.get_failure(ref_of(event)) is not None


def test_the_handler_refuses_to_start_without_its_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from replimend.errors import ConfigurationError

    monkeypatch.delenv("LEDGER_TABLE", raising=False)
    with pytest.raises(ConfigurationError, match="LEDGER_TABLE"):
        load_ingest_app()


# ------------------------------------------------------------------ ingest_message / record_events


def test_an_unknown_reason_is_recorded_escalated_and_logged(
    ledger: Ledger, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a failure event whose reason the registry does not know
    body = json.dumps(load_event("s3-unknown-reason.json"))
    (event,) = parse_message_body(body)
    # When it is ingested
    with caplog.at_level(logging.WARNING):
        result = ingest_message(body, ledger)
    # Then it is recorded as ESCALATED (not dropped), counted and logged at warning
    assert result.outcomes == {RecordOutcome.CREATED: 1} and result.unknown_reasons == 1
    record = ledger.get_failure(ref_of(event))
    assert record is not None and record.state is ObjectState.ESCALATED
    assert record.failure_reason == event.failure_reason
    (warning,) = [r for r in caplog.records if "unknown failure reason" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert warning.failure_reason == event.failure_reason and warning.key == event.key  # type: ignore[attr-defined]
    documents = emf_documents(capsys.readouterr().out)
    assert metric_total(documents, "EventsReceived", FailureReason="Unknown") == 1


def test_record_events_counts_outcomes(ledger: Ledger) -> None:
    # Given two events, one of them twice
    first, second = failure_event(key="a"), failure_event(key="b")
    # When they are recorded
    result = record_events([first, second, first], ledger)
    # Then the counts say two written, one duplicate
    assert result.outcomes == {RecordOutcome.CREATED: 2, RecordOutcome.DUPLICATE: 1}
    assert (result.events, result.written) == (3, 2)
    total = IngestResult()
    total.add(result)
    total.add(result)
    assert total.events == 6


def test_event_type_dimensions_are_bounded() -> None:
    assert event_type_dimension("Replication:OperationFailedReplication") == "FailedReplication"
    assert event_type_dimension("Replication:OperationNotTracked") == "NotTracked"
    assert event_type_dimension("s3:TestEvent") == "TestEvent"
    assert event_type_dimension("Replication:OperationSomethingNew") == "UnknownReplication"
    assert event_type_dimension("ObjectCreated:Put") == "OtherS3Event"


def test_the_template_grants_ingest_exactly_the_calls_it_makes(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from replimend_local.sam_template import load_template

    # Given every kind of event ingest handles, including a redelivery
    calls: set[str] = set()
    original = ledger._table.call

    def spy(operation: str, **kwargs: Any) -> dict[str, Any]:
        calls.add(operation)
        return original(operation, **kwargs)

    monkeypatch.setattr(ledger._table, "call", spy)
    for name in ("sqs-failed-replication.json", "sqs-sns-envelope.json", "sqs-test-event.json"):
        for record in load_event(name)["Records"] * 2:
            ingest_message(record["body"], ledger)
    ingest_message(json.dumps(load_event("s3-threshold-events.json")), ledger)
    # Then the IngestFunction policy allows each DynamoDB action used, and no other
    statements = load_template()["Resources"]["IngestFunction"]["Properties"]["Policies"][0]["Statement"]
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {a for a in actions if a.startswith("dynamodb:")} == {
        f"dynamodb:{operation}" for operation in calls
    }
    # and, for a batch's escalation alerts, publishing to the alert topic (encrypted with its key)
    assert {a for a in actions if not a.startswith("dynamodb:")} == {
        "sns:Publish",
        "kms:GenerateDataKey*",
        "kms:Decrypt",
    }


def test_a_batch_escalating_objects_tells_people_once_per_incident(ingest_app: ModuleType) -> None:
    # Given a batch with three objects failing with a reason nobody knows (one of them delivered twice)
    record = load_event("s3-unknown-reason.json")["Records"][0]

    def message(key: str, n: int) -> dict[str, Any]:
        body = copy.deepcopy(record)
        body["s3"]["object"]["key"] = key
        return {"messageId": f"m{n}", "receiptHandle": "r", "body": json.dumps({"Records": [body]}),
                "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}  # fmt: skip

    sent: list[tuple[str, str]] = []

    class Recorder:
        def publish(self, subject: str, text: str) -> None:
            sent.append((subject, text))

    ingest_app.notifier = Recorder()  # type: ignore[attr-defined]
    batch = {"Records": [message(k, n) for n, k in enumerate(["a", "b", "c", "a"])]}
    # When ingest handles it, Then one alert says three objects of that incident were escalated
    assert ingest_app.lambda_handler(batch, FakeLambdaContext()) == {"batchItemFailures": []}
    ((subject, text),) = sent
    assert "objects need a person" in subject
    (event,) = parse_message_body(json.dumps({"Records": [record]}))
    assert "3 object(s) escalated" in text and f"({event.failure_reason})" in text
    # And the same batch redelivered escalates nothing new: no alert
    ingest_app.lambda_handler(batch, FakeLambdaContext())
    assert len(sent) == 1


def test_ingest_alerts_go_to_the_topic_it_is_given(
    ledger_table: Any, ledger_table_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_TABLE", ledger_table_name)
    monkeypatch.setenv("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts")
    assert load_ingest_app().notifier is not None
    monkeypatch.delenv("ALERT_TOPIC_ARN")
    assert load_ingest_app().notifier is None
