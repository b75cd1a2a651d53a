"""`replimend history | incidents | audit`: read the audit ledger.

  history s3://bucket/key     an object's audit trail across versions and destinations
  incidents [--all]           open (or all) incidents: a cause blocking failures of one reason
  audit --bucket B | --reason R | --state S [--since ISO] [--until ISO] [--endpoint URL]

Tables by default, JSON Lines with --json. The table comes from --table or $LEDGER_TABLE, its index
shard count from --index-shards or $LEDGER_INDEX_SHARDS (it must match the deployed functions').
``add_ledger_arguments`` and ``open_ledger`` are shared with the other ledger-reading commands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from replimend.errors import ReplimendError
from replimend.models import FailureRecord, HistoryEntry, Incident, ObjectState
from replimend_cli import UsageError

EXIT_OK = 0
EXIT_AWS_ERROR = 1


def register(subparsers: Any) -> None:
    history = subparsers.add_parser(
        "history",
        help="an object's audit trail (all versions and destinations)",
        description="Print every event and state change recorded for s3://BUCKET/KEY, oldest first.",
    )
    history.add_argument(
        "url", metavar="s3://BUCKET/KEY", help="the source object (key as stored, not encoded)"
    )
    add_ledger_arguments(history)
    history.set_defaults(func=run_history)

    incidents = subparsers.add_parser(
        "incidents",
        help="open incidents (causes holding failures back)",
        description="List incidents: failures of one reason from one source to one destination, held until "
        "the cause is fixed. Open ones only, unless --all.",
    )
    incidents.add_argument("--all", action="store_true", help="include incidents marked fixed")
    add_ledger_arguments(incidents)
    incidents.set_defaults(func=run_incidents)

    audit = subparsers.add_parser(
        "audit",
        help="audit trail by source bucket, failure reason, or current state",
        description="History entries of a source bucket or of a failure reason in time order, or the "
        "objects currently in a state. --since/--until bound the time (ISO 8601, UTC if no offset).",
    )
    which = audit.add_mutually_exclusive_group(required=True)
    which.add_argument("--bucket", help="source bucket")
    which.add_argument("--reason", help="failure reason code, e.g. AssumeRoleNotPermitted")
    which.add_argument("--state", choices=[s.value for s in ObjectState], help="current object state")
    audit.add_argument("--since", type=_iso_time, help="from this time (inclusive)")
    audit.add_argument("--until", type=_iso_time, help="up to this time (inclusive)")
    audit.add_argument("--limit", type=_positive_int, help="print at most this many lines")
    audit.add_argument(
        "--endpoint",
        metavar="URL",
        help="ask the deployed audit API (stack output AuditApiUrl; SigV4-signed) instead of the table: "
        "the failures of the bucket, reason or state first seen inside --since/--until",
    )
    add_ledger_arguments(audit)
    audit.set_defaults(func=run_audit)


# ------------------------------------------------------------------ shared options


def add_ledger_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", help="ledger table name (default: $LEDGER_TABLE)")
    parser.add_argument(
        "--index-shards", type=_positive_int, help="ledger index shards (default: $LEDGER_INDEX_SHARDS or 16)"
    )
    parser.add_argument("--region", help="AWS region (default: the AWS SDK's)")
    parser.add_argument("--json", action="store_true", help="JSON Lines instead of a table")


def open_ledger(args: argparse.Namespace) -> Any:
    """The Ledger named by --table/$LEDGER_TABLE; UsageError (exit 2) when there is none."""
    import boto3

    from replimend.ledger import Ledger

    table = args.table or os.environ.get("LEDGER_TABLE")
    if not table:
        raise UsageError("no ledger table: pass --table NAME or set LEDGER_TABLE")
    shards = args.index_shards or _env_int("LEDGER_INDEX_SHARDS", 16)
    resource = (
        boto3.resource("dynamodb", region_name=args.region) if args.region else boto3.resource("dynamodb")
    )
    return Ledger(resource.Table(table), index_shards=shards)


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key) of s3://bucket/key; UsageError otherwise."""
    if not url.startswith("s3://"):
        raise UsageError(f"not an s3:// URL: {url!r} (expected s3://BUCKET/KEY)")
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise UsageError(f"{url!r} names no object (expected s3://BUCKET/KEY)")
    return bucket, key


# ------------------------------------------------------------------ commands


def run_history(args: argparse.Namespace) -> int:
    bucket, key = parse_s3_url(args.url)
    ledger = open_ledger(args)
    return _guarded(lambda: _print_history(ledger.history(bucket, key), args.json, f"History of {args.url}"))


def run_incidents(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    return _guarded(lambda: _print_incidents(ledger.list_incidents(open_only=not args.all), args.json))


def run_audit(args: argparse.Namespace) -> int:
    if args.since and args.until and args.since > args.until:
        raise UsageError("--since is after --until")
    if args.endpoint:
        from replimend_cli.api_cmd import run_audit_via_api

        return _guarded(lambda: run_audit_via_api(args))
    ledger = open_ledger(args)

    def show() -> None:
        if args.state:
            records = ledger.failures_in_state(
                ObjectState(args.state), since=args.since, until=args.until, limit=args.limit
            )
            _print_failures(records, args.json, f"Objects in {args.state}")
            return
        if args.bucket:
            entries = ledger.audit_by_bucket(args.bucket, since=args.since, until=args.until)
            title = f"Audit of bucket {args.bucket}"
        else:
            entries = ledger.audit_by_reason(args.reason, since=args.since, until=args.until)
            title = f"Audit of reason {args.reason}"
        _print_history(_limited(entries, args.limit), args.json, title, with_key=True)

    return _guarded(show)


# ------------------------------------------------------------------ output


def history_json(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "at": _iso(entry.at),
        "kind": entry.kind,
        "source_bucket": entry.ref.source_bucket,
        "key": entry.ref.key,
        "version_id": entry.ref.version_id,
        "destination_bucket": entry.ref.destination_bucket,
        "from_state": entry.from_state.value if entry.from_state else None,
        "to_state": entry.to_state.value if entry.to_state else None,
        "reason": entry.reason,
        "actor": entry.actor,
        "job_id": entry.job_id,
        "event_id": entry.event_id,
        "detail": entry.detail,
    }


def incident_json(incident: Incident) -> dict[str, Any]:
    data = asdict(incident)
    for name in ("opened_at", "fixed_at"):
        data[name] = _iso(data[name])
    data["checks"] = data.pop("last_checks")
    data["resolved_by"] = incident.resolved_by
    return data


def failure_json(record: FailureRecord) -> dict[str, Any]:
    data = asdict(record)
    data.update(data.pop("ref"))
    for name in ("first_seen", "last_seen", "next_attempt_at"):
        data[name] = _iso(data[name])
    data["state"] = record.state.value
    data["action"] = record.action.value
    return data


def _print_history(
    entries: Iterable[HistoryEntry], as_json: bool, title: str, *, with_key: bool = False
) -> None:
    if as_json:
        _json_lines(history_json(entry) for entry in entries)
        return
    from rich.table import Table

    table = Table(title=title)
    for column in (
        "time (UTC)",
        *(["key"] if with_key else []),
        "version",
        "destination",
        "what",
        "reason",
        "actor",
        "job",
        "detail",
    ):
        table.add_column(column, overflow="fold")
    for entry in entries:
        if entry.kind == "transition":
            what = f"{_state_name(entry.from_state)} → {_state_name(entry.to_state)}"
        else:
            what = "event"
        table.add_row(
            _iso(entry.at),
            *([entry.ref.key] if with_key else []),
            entry.ref.version_id or "null",
            entry.ref.destination_bucket,
            what,
            entry.reason or "",
            entry.actor,
            entry.job_id or "",
            entry.detail or "",
        )
    _print_table(table)


def _print_incidents(incidents: list[Incident], as_json: bool) -> None:
    if as_json:
        _json_lines(incident_json(incident) for incident in incidents)
        return
    from rich.table import Table

    table = Table(title="Incidents")
    for column in (
        "source",
        "destination",
        "reason",
        "objects",
        "opened (UTC)",
        "resolved",
        "last diagnosis",
    ):
        table.add_column(column, overflow="fold")
    for incident in incidents:
        fixed = (
            f"{_iso(incident.fixed_at)} by {incident.resolved_by} ({incident.fixed_by})"
            if incident.fixed
            else "no"
        )
        table.add_row(
            incident.source_bucket,
            incident.destination_bucket,
            incident.failure_reason,
            str(incident.object_count),
            _iso(incident.opened_at),
            fixed,
            incident.last_diagnosis or "",
        )
    _print_table(table)


def _print_failures(records: Iterable[FailureRecord], as_json: bool, title: str) -> None:
    if as_json:
        _json_lines(failure_json(record) for record in records)
        return
    from rich.table import Table

    table = Table(title=title)
    for column in ("source", "key", "version", "destination", "reason", "attempts", "last seen (UTC)", "job"):
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(
            record.ref.source_bucket,
            record.ref.key,
            record.ref.version_id or "null",
            record.ref.destination_bucket,
            record.failure_reason or "",
            str(record.attempts),
            _iso(record.last_seen),
            record.job_id or "",
        )
    _print_table(table)


def _print_table(table: Any) -> None:
    from rich.console import Console

    Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200).print(table)


def _json_lines(rows: Iterable[dict[str, Any]]) -> None:
    for row in rows:
        sys.stdout.write(json.dumps(row, default=str) + "\n")


# ------------------------------------------------------------------ helpers


def _guarded(show: Any) -> int:
    """Run an output function; an AWS failure prints one line and exits 1 (bad input already exited 2)."""
    try:
        show()
    except ReplimendError as exc:
        print(f"replimend: error: {exc}", file=sys.stderr)
        return EXIT_AWS_ERROR
    return EXIT_OK


def _limited(entries: Iterator[HistoryEntry], limit: int | None) -> Iterator[HistoryEntry]:
    import itertools

    return itertools.islice(entries, limit)


def _state_name(state: ObjectState | None) -> str:
    return state.value if state else "-"


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at else None


def _iso_time(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return _positive_int(raw)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"{name}: {exc}") from exc
