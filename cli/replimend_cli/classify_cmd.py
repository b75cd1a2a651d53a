"""`replimend classify [FILE|-]`: parse an event document in any delivery form and say what each record is.

Output is JSON Lines, one object per S3 record in input order; other tools rely on its fields. A record
or message that cannot be parsed prints ``{"error": ..., "source": ...}`` on its line and the rest are
still classified; the exit status is then 1. A file that cannot be opened is a usage error (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from replimend.events import MAX_DOCUMENT_CHARS, parse_document
from replimend.models import ReplicationEvent, UnparseableRecord
from replimend.reasons import classify_failure, entry_for
from replimend_cli import UsageError

EXIT_OK = 0
EXIT_UNPARSEABLE = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="classify S3 replication events (any delivery form) as JSON Lines",
        description="Parse an S3 event document (direct S3, SQS, SNS, SNS→SQS, s3:TestEvent) and print, "
        "for every record in input order, one JSON object: event type, action, failure reason, "
        "category, object, destination, fix and AWS CLI commands. Records that cannot be parsed print "
        '{"error": ..., "source": ...} and make the exit status 1.',
    )
    parser.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="event JSON file, or - for stdin"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raw = _read_input(args.file)
    return classify_document(raw, sys.stdout)


def classify_document(document: Any, out: TextIO) -> int:
    """Write one JSON line per record of ``document`` to ``out``; 1 if any could not be parsed."""
    status = EXIT_OK
    for item in parse_document(document):
        if isinstance(item, UnparseableRecord):
            status = EXIT_UNPARSEABLE
        out.write(json.dumps(describe(item), sort_keys=False) + "\n")
    return status


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
