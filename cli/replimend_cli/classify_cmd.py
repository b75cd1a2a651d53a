"""`replimend classify [FILE ...]`: parse event documents in any delivery form and say what each record is.

Input, from files or stdin (``-``, the default): an event document (direct S3, SQS, SNS, SNS→SQS,
s3:TestEvent), JSON Lines of such documents (one per line), or the output of ``aws sqs
receive-message`` (``{"Messages": [{"MessageId", "ReceiptHandle", "Body", ...}]}``: the way to triage
the dead-letter queue). Output is JSON Lines by default, one object per S3 record in input order;
other tools rely on its fields. A record or message that cannot be parsed prints
``{"error": ..., "source": ...}`` on its line (the source names the file with several inputs, the line
of JSON Lines, the message) and the rest are still classified; the exit status is then 1. A file that
cannot be opened is a usage error (exit 2), reported before anything is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from replimend.events import MAX_DOCUMENT_CHARS, parse_document
from replimend.models import ReplicationEvent, UnparseableRecord
from replimend.reasons import classify_failure, entry_for
from replimend_cli import UsageError
from replimend_cli.output import JSON, Column, add_output_arguments, emit

EXIT_OK = 0
EXIT_UNPARSEABLE = 1
#: What CSV prints, in order: the contract fields, then an unparseable record's.
CSV_FIELDS = (
    "event_type", "action", "failure_reason", "known", "category", "source_bucket", "key", "version_id",
    "destination_bucket", "destination_bucket_arn", "rule_id", "region", "event_time", "sequencer",
    "event_id", "checks", "fix", "cli", "error", "source",
)  # fmt: skip
TABLE_COLUMNS = (
    Column("action", "action"),
    Column("reason", lambda row: row.get("failure_reason") or row.get("event_type")),
    Column("category", "category"),
    Column("source", "source_bucket"),
    Column("key", "key"),
    Column("version", "version_id"),
    Column("destination", "destination_bucket"),
    Column("error", lambda row: f"{row['source']}: {row['error']}" if "error" in row else None),
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="classify S3 replication events (any delivery form, JSON Lines, sqs receive-message output)",
        description="Parse S3 event documents (direct S3, SQS, SNS, SNS→SQS, s3:TestEvent; one per file, "
        "JSON Lines of them, or `aws sqs receive-message` output) and print, for every record in input "
        "order, one JSON object: event type, action, failure reason, category, object, destination, fix "
        'and AWS CLI commands. Records that cannot be parsed print {"error": ..., "source": ...} and make '
        "the exit status 1.",
    )
    parser.add_argument(
        "files", nargs="*", default=["-"], metavar="FILE", help="event files, or - for stdin (the default)"
    )
    add_output_arguments(parser, default=JSON)
    parser.set_defaults(func=run, needs_aws=False)


def run(args: argparse.Namespace) -> int:
    inputs = [(path, _read_input(path)) for path in args.files]  # every file readable before any output
    named = len(inputs) > 1
    status = EXIT_OK

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal status
        for path, raw in inputs:
            for item in parse_input(raw):
                if isinstance(item, UnparseableRecord):
                    status = EXIT_UNPARSEABLE
                yield describe(_relabel(item, source=f"{_name(path)}: {{}}") if named else item)

    emit(rows(), args.output, columns=TABLE_COLUMNS, title="Classified records", empty="no records",
         fields=CSV_FIELDS)  # fmt: skip
    return status


def classify_document(document: Any, out: TextIO) -> int:
    """Write one JSON line per record of ``document`` to ``out``; 1 if any could not be parsed."""
    status = EXIT_OK
    for item in parse_input(document):
        if isinstance(item, UnparseableRecord):
            status = EXIT_UNPARSEABLE
        out.write(json.dumps(describe(item), sort_keys=False) + "\n")
    return status


def parse_input(raw: Any) -> list[ReplicationEvent | UnparseableRecord]:
    """The records of one input: a document, JSON Lines of documents, or receive-message output."""
    text = _text(raw)
    if text is not None:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
            if len(lines) > 1 and _is_json(lines[0][1]):
                return [item for number, line in lines for item in _parse_line(line, number)]
        else:
            if _is_receive_message_output(document):
                return _parse_messages(document["Messages"])
    return parse_document(raw)


def _parse_line(line: str, number: int) -> list[ReplicationEvent | UnparseableRecord]:
    return [_relabel(item, source=f"line {number}: {{}}") for item in parse_input(line)]


def _relabel(
    item: ReplicationEvent | UnparseableRecord, *, source: str, error: tuple[str, str] | None = None
) -> ReplicationEvent | UnparseableRecord:
    """An unparseable record's source said where it is in this input (``{}``: the parser's own)."""
    if not isinstance(item, UnparseableRecord):
        return item
    message = item.error.replace(*error) if error else item.error
    return UnparseableRecord(error=message, source=source.replace("{}", item.source))


def _is_receive_message_output(document: Any) -> bool:
    # ReceiveMessage's result is {"Messages": [Message]} and a Message carries MessageId,
    # ReceiptHandle, MD5OfBody and Body (Amazon SQS API Reference, ReceiveMessage and Message).
    return (
        isinstance(document, dict)
        and "Records" not in document
        and isinstance(document.get("Messages"), list)
    )


def _parse_messages(messages: list[Any]) -> list[ReplicationEvent | UnparseableRecord]:
    results: list[ReplicationEvent | UnparseableRecord] = []
    for index, message in enumerate(messages):
        where = f"Messages[{index}]"
        if not isinstance(message, dict) or not isinstance(message.get("Body"), str):
            keys = (
                ", ".join(sorted(map(str, message))) if isinstance(message, dict) else type(message).__name__
            )
            results.append(
                UnparseableRecord(error=f"{where}: a message has a Body string (got {keys})", source=where)
            )
            continue
        message_id = message.get("MessageId")
        source = f"{where} MessageId={message_id}" if message_id else where
        # The Lambda SQS record carries the same body as receive-message's Body: parse it that way.
        record = {"messageId": message_id, "body": message["Body"], "eventSource": "aws:sqs"}
        results += [
            _relabel(item, source=source, error=("Records[0]", where))
            for item in parse_document({"Records": [record]})
        ]
    return results


def _text(raw: Any) -> str | None:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bytes | bytearray):
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return None  # parse_document names the bad byte
    return None


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def _name(path: str) -> str:
    return "stdin" if path == "-" else path


def describe(item: ReplicationEvent | UnparseableRecord) -> dict[str, Any]:
    """The output line for one parsed record (or the error for one that could not be parsed)."""
    if isinstance(item, UnparseableRecord):
        return {"error": item.error, "source": item.source}
    classification = classify_failure(item)
    entry = entry_for(item)
    return {
        "event_type": item.event_type,
        "action": classification.action.value,
        "failure_reason": item.failure_reason,
        "known": classification.known,
        "category": classification.category,
        "source_bucket": item.source_bucket,
        "key": item.key,
        "version_id": item.version_id,
        "destination_bucket": item.destination_bucket,
        "destination_bucket_arn": item.destination_bucket_arn,
        "rule_id": item.rule_id,
        "region": item.region,
        "event_time": item.event_time.isoformat() if item.event_time else None,
        "sequencer": item.sequencer,
        "event_id": item.event_id,
        "checks": list(entry.checks),
        "fix": entry.fix,
        "cli": entry.cli,
    }


def _read_input(path: str) -> bytes:
    if path == "-":
        return _read_limited(sys.stdin.buffer, "standard input")
    try:
        with open(path, "rb") as handle:
            return _read_limited(handle, path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not an event file") from None
    except PermissionError:
        raise UsageError(f"{path}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _read_limited(handle: Any, name: str) -> bytes:
    data = bytes(handle.read(MAX_DOCUMENT_CHARS + 1))
    if len(data) > MAX_DOCUMENT_CHARS:
        raise UsageError(f"{name}: larger than {MAX_DOCUMENT_CHARS} bytes; split the document")
    return data
