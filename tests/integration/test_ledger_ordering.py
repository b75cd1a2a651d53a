"""The DynamoDB ledger honours the lifecycle's ordering rules: any interleaving and duplication of
events ends in the same record as one in-order delivery (the pure property, here through moto)."""

from __future__ import annotations

import itertools
from typing import Any

import boto3
from hypothesis import HealthCheck, given, settings
from moto import mock_aws

from replimend.ledger import Ledger
from replimend.models import ReplicationEvent
from replimend.reasons import classify_failure
from replimend_local.sam_template import load_template, table_create_kwargs
from tests.unit.test_lifecycle import REF, deliveries

_names = itertools.count()


def _final(ledger: Ledger) -> tuple[Any, ...]:
    r = ledger.get_failure(REF)
    assert r is not None
    events = {h.event_id for h in ledger.history(REF.source_bucket, REF.key) if h.kind == "event"}
    return (r.state, r.failure_reason, r.action, r.last_sequencer, r.last_seen, r.first_seen, events)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_any_interleaving_and_duplication_ends_in_the_same_item(
    case: tuple[list[ReplicationEvent], list[ReplicationEvent]],
) -> None:
    in_order, shuffled = case
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        results = []
        for events in (in_order, shuffled):
            table = dynamodb.create_table(
                **table_create_kwargs(load_template(), "Ledger", f"t{next(_names)}")
            )
            ledger = Ledger(table, index_shards=2)
            for e in events:
                ledger.record_event(e, classify_failure(e))
            results.append(_final(ledger))
    assert results[0] == results[1]
