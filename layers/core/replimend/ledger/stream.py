"""The ledger's DynamoDB stream: which history lines a stream record wrote.

History lines live on the object item (``h``, see ``ledger/history.py``); when it grows past its
inline limit the older lines move to an ``H#`` overflow item. A stream record of an object item
with NEW_AND_OLD_IMAGES carries the lines before and after the write, so the lines it wrote are
those of the new image that the old one did not have (each line is unique: a transition line
carries the item version, an event line its event id, and a duplicate event writes nothing).
Overflow items are skipped: their lines were on the object item first, and archived from there.
Observe-only event items (``E#``) are written once; a rewrite of one has nothing new.

Stream record shape (DynamoDB JSON images, a SequenceNumber per record):
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_StreamRecord.html
and the Lambda event that carries them:
https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from replimend.ledger import history
from replimend.ledger.objects import ref_from_keys
from replimend.ledger.table import NO_DESTINATION, NULL_VERSION
from replimend.models import HistoryEntry, ObjectRef

_DESERIALIZER = TypeDeserializer()


class StreamRecordError(ValueError):
    """A stream record that cannot be read (not the ledger's, or without the images it needs)."""


@dataclass(frozen=True)
class StreamLine:
    """One history line a stream record wrote, and where in the stream it was written."""

    entry: HistoryEntry
    sequence_number: str
    index: int  # its place among the lines of its stream record

    @property
    def line_id(self) -> str:
        """Unique per line, stable across redeliveries: Athena can de-duplicate on it."""
        return f"{self.sequence_number}:{self.index}"


def lines_of_record(record: Mapping[str, Any]) -> list[StreamLine]:
    """The history lines one stream record wrote, oldest first (none for other items and deletes)."""
    stream = record.get("dynamodb")
    if not isinstance(stream, Mapping) or not stream.get("SequenceNumber"):
        raise StreamRecordError(f"stream record {record.get('eventID')!r} has no dynamodb.SequenceNumber")
    sequence_number = str(stream["SequenceNumber"])
    name = record.get("eventName")
    if name == "REMOVE":  # TTL expiry or a delete: the lines were archived when written
        return []
    if name not in ("INSERT", "MODIFY"):
        raise StreamRecordError(f"stream record {sequence_number}: unknown eventName {name!r}")
    new = _image(stream, "NewImage", sequence_number)
    if new is None:
        raise StreamRecordError(
            f"stream record {sequence_number} has no NewImage: the stream must be NEW_AND_OLD_IMAGES"
        )
    pk, sk = str(new.get("pk", "")), str(new.get("sk", ""))
    if not pk.startswith("O#") or not sk.startswith(("V#", "E#")):
        return []  # incidents, jobs, activity pages, pairs, overflow items
    old = _image(stream, "OldImage", sequence_number)
    if name == "MODIFY" and old is None:
        raise StreamRecordError(
            f"stream record {sequence_number} has no OldImage: the stream must be NEW_AND_OLD_IMAGES"
        )
    before = {str(text) for text in (old or {}).get("h", [])}
    texts = [str(text) for text in new.get("h", [])]
    try:
        entries = history.decode_all(_ref(pk, sk, new), texts)
    except (ValueError, TypeError, KeyError) as exc:
        raise StreamRecordError(f"stream record {sequence_number}: unreadable history line: {exc}") from exc
    fallback_reason = new.get("rsn")
    written = [
        entry if entry.failure_reason or entry.kind == "event" else _with_reason(entry, fallback_reason)
        for text, entry in zip(texts, entries, strict=True)
        if text not in before
    ]
    return [StreamLine(entry, sequence_number, index) for index, entry in enumerate(written)]


def _image(stream: Mapping[str, Any], name: str, sequence_number: str) -> dict[str, Any] | None:
    image = stream.get(name)
    if image is None:
        return None
    try:
        return {key: _DESERIALIZER.deserialize(value) for key, value in image.items()}
    except (TypeError, ValueError, AttributeError) as exc:
        raise StreamRecordError(
            f"stream record {sequence_number}: {name} is not DynamoDB JSON: {exc}"
        ) from exc


def _ref(pk: str, sk: str, item: Mapping[str, Any]) -> ObjectRef:
    if sk.startswith("E#"):
        source_bucket, key = pk[2:].split("#", 1)
        version = item.get("ver")
        version_id = None if version in (None, NULL_VERSION) else str(version)
        return ObjectRef(source_bucket, key, version_id, str(item.get("dst", NO_DESTINATION)))
    return ref_from_keys(pk, sk)


def _with_reason(entry: HistoryEntry, reason: Any) -> HistoryEntry:
    return dataclasses.replace(entry, failure_reason=str(reason) if reason else None)
