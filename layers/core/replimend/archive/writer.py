"""Archive objects: gzip JSON Lines under date and hour partitions, one object per partition a
batch of stream records touches.

Key: <prefix>/dt=YYYY-MM-DD/hour=HH/<first sequence>-<last sequence>-<digest>.jsonl.gz, the
sequence numbers of the batch's records and a digest of their event ids and stream: the same batch
redelivered writes the same keys with the same bytes (gzip without a timestamp), so a retry
overwrites instead of duplicating. Lambda's event for a DynamoDB stream names no shard, and the
stream documentation promises sequence numbers ordered within a shard only, so the digest keeps
two shards' batches apart whatever their numbers. A batch that Lambda splits on retry (bisect)
writes under other keys; every line carries ``line_id`` (sequence number and index) for Athena
to de-duplicate on.

Lambda's stream checkpointing: the records before the first one reported in batchItemFailures
count as done, so only those are written; the first unreadable record and everything after it are
left to the retry (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from replimend.ledger.stream import StreamLine, StreamRecordError, lines_of_record
from replimend.ledger.table import NO_DESTINATION, format_time
from replimend.observability import logger
from replimend.ports import ArchiveStore

DEFAULT_PREFIX = "history"


@dataclass(frozen=True)
class ArchiveBatch:
    """What one batch of stream records became."""

    records: int  # stream records read (before the first unreadable one)
    lines: int  # history lines archived
    keys: tuple[str, ...]  # archive objects written
    failed_sequence_number: str | None = None  # the first record left for Lambda to retry

    def batch_item_failures(self) -> dict[str, Any]:
        """Lambda's partial batch response for a stream: retry from the first unreadable record."""
        failures = [{"itemIdentifier": self.failed_sequence_number}] if self.failed_sequence_number else []
        return {"batchItemFailures": failures}


class ArchiveWriter:
    def __init__(self, store: ArchiveStore, bucket: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._store = store
        self._bucket = bucket
        self._prefix = prefix.strip("/")

    def write(self, records: Sequence[Mapping[str, Any]]) -> ArchiveBatch:
        read: list[Mapping[str, Any]] = []
        lines: list[StreamLine] = []
        failed: str | None = None
        for record in records:
            try:
                lines.extend(lines_of_record(record))
            except StreamRecordError as exc:
                failed = _sequence_number(record)
                logger.error("stream record left for retry", extra={"error": str(exc)})
                if failed is None:
                    raise  # nothing to name in batchItemFailures: fail the whole batch
                break
            read.append(record)
        keys: list[str] = []
        if lines:
            stem = _stem(read)
            by_partition: dict[tuple[str, str], list[StreamLine]] = defaultdict(list)
            for line in lines:
                by_partition[hour_partition(line)].append(line)
            for (day, hour), group in sorted(by_partition.items()):
                key = f"{self._prefix}/dt={day}/hour={hour}/{stem}.jsonl.gz"
                self._store.put_bytes(
                    self._bucket, key, _jsonl_gzip(group), content_type="application/x-ndjson"
                )
                keys.append(key)
        return ArchiveBatch(
            records=len(read), lines=len(lines), keys=tuple(keys), failed_sequence_number=failed
        )


def _sequence_number(record: Mapping[str, Any]) -> str | None:
    stream = record.get("dynamodb")
    number = stream.get("SequenceNumber") if isinstance(stream, Mapping) else None
    return str(number) if number else None


def _stem(records: Sequence[Mapping[str, Any]]) -> str:
    numbers = [_sequence_number(r) or "" for r in records]
    identity = hashlib.sha256()
    for record in records:
        identity.update(f"{record.get('eventSourceARN', '')}\n{record.get('eventID', '')}\n".encode())
    return f"{numbers[0]}-{numbers[-1]}-{identity.hexdigest()[:12]}"


def line_json(line: StreamLine) -> dict[str, Any]:
    """A line as archived: the Glue table's columns (template.yaml, AuditHistoryTable)."""
    entry = line.entry
    ref = entry.ref
    return {
        "written_at": entry.at.isoformat().replace("+00:00", "Z"),
        "kind": entry.kind,
        "source_bucket": ref.source_bucket,
        "object_key": ref.key,
        "version_id": ref.version_id,
        "destination_bucket": None if ref.destination_bucket == NO_DESTINATION else ref.destination_bucket,
        "from_state": str(entry.from_state) if entry.from_state else None,
        "to_state": str(entry.to_state) if entry.to_state else None,
        "reason": entry.reason,
        "failure_reason": entry.failure_reason,
        "actor": entry.actor,
        "job_id": entry.job_id,
        "event_id": entry.event_id,
        "detail": entry.detail,
        "line_id": line.line_id,
    }


def hour_partition(line: StreamLine) -> tuple[str, str]:
    """(dt, hour) of a line's time: YYYY-MM-DD and HH, UTC."""
    text = format_time(line.entry.at)  # 20240905T211503.000000Z
    return f"{text[0:4]}-{text[4:6]}-{text[6:8]}", text[9:11]


def _jsonl_gzip(lines: Sequence[StreamLine]) -> bytes:
    text = "".join(
        json.dumps(line_json(line), ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines
    )
    return gzip.compress(text.encode("utf-8"), mtime=0)  # no timestamp: a retry writes the same bytes
