"""What a parser's accepted output must satisfy, shared by the hypothesis and the atheris fuzzing."""

from __future__ import annotations

from decimal import Decimal

from boto3.dynamodb.types import TypeSerializer

from replimend.events import MAX_KEY_BYTES, MAX_OBJECT_SIZE
from replimend.models import ReplicationEvent, UnparseableRecord


def assert_storable(event: ReplicationEvent) -> None:
    """What the parser accepts, DynamoDB (through boto3) and the ledger's keys accept too."""
    serializer = TypeSerializer()
    for name in event.__slots__:
        value = getattr(event, name)
        if isinstance(value, str):
            value.encode("utf-8")  # boto3 sends UTF-8: a lone surrogate would raise here
            assert value != "" or name == "event_type", name
        elif isinstance(value, int) and not isinstance(value, bool):
            serializer.serialize(value)  # raises decimal.Inexact/Rounded past 38 digits
            assert 0 <= value <= MAX_OBJECT_SIZE
            assert Decimal(value) == value
    if event.key is not None:
        assert 0 < len(event.key.encode("utf-8")) <= MAX_KEY_BYTES
    if event.event_time is not None:
        assert event.event_time.utcoffset() is not None
        assert 1970 <= event.event_time.year <= 2999


def assert_parsed(items: list[ReplicationEvent | UnparseableRecord]) -> None:
    assert isinstance(items, list)
    for item in items:
        if isinstance(item, UnparseableRecord):
            assert item.error
            item.error.encode("utf-8", "surrogatepass")
        else:
            assert isinstance(item, ReplicationEvent)
            assert_storable(item)
