"""Realistic SQS message bodies built from the sample events in events/, with distinct objects.

Every parseable message body of events/*.json is a template (direct S3 documents, SNS envelopes,
raw SNS deliveries, SNS→Lambda messages, test events). Copies get a distinct key and sequencer per
message, and failure events rotate through the documented failure reasons (plus an unknown one), so
the parser, the classifier and the ledger see a different object every time.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.common import EVENTS_DIR

FAILED_REPLICATION = "Replication:OperationFailedReplication"
UNKNOWN_REASON = "BenchReasonNobodyDocumented"


@dataclass(frozen=True)
class Template:
    """One message body and what it is, with how often it appears in the realistic mix."""

    name: str  # events/<file>#<n>
    form: str  # s3 | sns-envelope | test-event
    body: dict[str, Any]
    weight: int


def _form(body: dict[str, Any]) -> str:
    if body.get("Type") == "Notification":
        return "sns-envelope"
    if body.get("Event") == "s3:TestEvent":
        return "test-event"
    return "s3"


def _bodies_of(document: dict[str, Any]) -> list[str]:
    records = document.get("Records") or []
    if records and "body" in records[0]:
        return [str(record["body"]) for record in records]  # a Lambda SQS event
    if records and "Sns" in records[0]:
        return [str(record["Sns"]["Message"]) for record in records]  # SNS → Lambda
    return [json.dumps(document)]  # a direct S3 document, as an SQS body


def _s3_records(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [record for record in body.get("Records", []) if isinstance(record, dict) and "s3" in record]


def _weight(body: dict[str, Any]) -> int:
    """A failure storm is mostly failure events; threshold, other S3 and test events are a trickle."""
    inner = json.loads(body["Message"]) if _form(body) == "sns-envelope" else body
    names = {str(record.get("eventName")) for record in _s3_records(inner)}
    if _form(body) == "test-event":
        return 1
    if names == {FAILED_REPLICATION}:
        return 20
    return 3


def load_templates() -> list[Template]:
    """Every body of events/*.json that parses (the deliberately malformed one is left out)."""
    from replimend.errors import MalformedEventError
    from replimend.events import parse_message_body

    templates = []
    for path in sorted(EVENTS_DIR.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        for number, text in enumerate(_bodies_of(document)):
            try:
                parse_message_body(text)
            except MalformedEventError:
                continue
            body = json.loads(text)
            templates.append(Template(f"{path.name}#{number}", _form(body), body, _weight(body)))
    if not templates:
        raise RuntimeError(f"no parseable sample events in {EVENTS_DIR}")
    return templates


def _failure_reasons() -> list[str]:
    from replimend.reasons import REASONS

    return [*sorted(REASONS), UNKNOWN_REASON]


def _vary_s3_document(document: dict[str, Any], number: int, reasons: Sequence[str], *, storm: bool) -> None:
    for index, record in enumerate(_s3_records(document)):
        obj = record["s3"]["object"]
        obj["key"] = f"bench/{number // 1000:04d}/object+{number:07d}-{index}.bin"  # '+' is an encoded space
        obj["sequencer"] = f"0066DA1CBF{number:08X}{index:02X}"
        data = record.get("replicationEventData")
        if record.get("eventName") == FAILED_REPLICATION and isinstance(data, dict) and not storm:
            data["failureReason"] = reasons[(number + index) % len(reasons)]


def vary(template: Template, number: int, reasons: Sequence[str], *, storm: bool = False) -> str:
    """The template's body for object ``number`` (same number → same body → same event ids)."""
    body = copy.deepcopy(template.body)
    if template.form == "sns-envelope":
        inner = json.loads(body["Message"])
        _vary_s3_document(inner, number, reasons, storm=storm)
        body["Message"] = json.dumps(inner)
    elif template.form == "s3":
        _vary_s3_document(body, number, reasons, storm=storm)
    return json.dumps(body)


@dataclass
class Workload:
    name: str
    bodies: list[str]
    forms: Counter[str]


def realistic_mix(messages: int, *, seed: int = 20240905) -> Workload:
    """``messages`` bodies drawn from every template by weight, each naming a distinct object."""
    templates = load_templates()
    reasons = _failure_reasons()
    chooser = random.Random(seed)
    picks = chooser.choices(templates, weights=[t.weight for t in templates], k=messages)
    bodies = [vary(template, number, reasons) for number, template in enumerate(picks)]
    return Workload("realistic_mix", bodies, Counter(t.form for t in picks))


def failure_storm(messages: int) -> Workload:
    """``messages`` failure events of one (source, destination), one reason, distinct objects."""
    template = next(
        t for t in load_templates() if t.name.startswith("sqs-failed-replication.json") and t.form == "s3"
    )
    bodies = [vary(template, number, (), storm=True) for number in range(messages)]
    return Workload("failure_storm", bodies, Counter({template.form: messages}))


def sqs_batches(bodies: Sequence[str], batch_size: int) -> list[dict[str, Any]]:
    """Lambda SQS events of ``batch_size`` records (the record envelope of events/sqs-*.json)."""
    sample = json.loads((EVENTS_DIR / "sqs-failed-replication.json").read_text(encoding="utf-8"))
    envelope = {name: value for name, value in sample["Records"][0].items() if name != "body"}
    records = []
    for number, body in enumerate(bodies):
        record = copy.deepcopy(envelope)
        record["messageId"] = f"bench-{number:08d}"
        record["receiptHandle"] = f"bench-receipt-{number:08d}"
        record["body"] = body
        records.append(record)
    return [{"Records": records[i : i + batch_size]} for i in range(0, len(records), batch_size)]
