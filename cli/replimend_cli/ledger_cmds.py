"""`replimend history | incidents | audit`: read the audit ledger.

  history s3://bucket/key     an object's audit trail across versions and destinations
  incidents [--all]           open (or all) incidents: a cause blocking failures of one reason
  audit --bucket B | --reason R | --state S [--since ISO] [--until ISO] [--endpoint URL]

Output per ``--output`` (replimend_cli.output); the ledger per ``--stack`` or ``--table``
(replimend_cli.stack_config). ``add_ledger_arguments`` gives a ledger-reading command both.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from replimend.models import FailureRecord, HistoryEntry, Incident, ObjectState
from replimend_cli import UsageError
from replimend_cli.output import Column, add_output_arguments, emit
from replimend_cli.stack_config import add_stack_arguments, open_ledger, positive_int

EXIT_OK = 0


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
    audit.add_argument("--since", type=iso_time, help="from this time (inclusive)")
    audit.add_argument("--until", type=iso_time, help="up to this time (inclusive)")
    audit.add_argument("--limit", type=positive_int, help="print at most this many lines")
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
    """Where the ledger is (--stack, or --table/--index-shards) and how to print (--output/--json)."""
    add_stack_arguments(parser)
    add_output_arguments(parser)


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
    _print_history(ledger.history(bucket, key), args.output, f"History of {args.url}")
    return EXIT_OK


def run_incidents(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    _print_incidents(ledger.list_incidents(open_only=not args.all), args.output, open_only=not args.all)
    return EXIT_OK


def run_audit(args: argparse.Namespace) -> int:
    if args.since and args.until and args.since > args.until:
        raise UsageError("--since is after --until")
    if args.endpoint:
        from replimend_cli.api_cmd import run_audit_via_api

        return run_audit_via_api(args)
    ledger = open_ledger(args)
    if args.state:
        records = ledger.failures_in_state(
            ObjectState(args.state), since=args.since, until=args.until, limit=args.limit
        )
        _print_failures(records, args.output, f"Objects in {args.state}")
        return EXIT_OK
    if args.bucket:
        entries = ledger.audit_by_bucket(args.bucket, since=args.since, until=args.until)
        title = f"Audit of bucket {args.bucket}"
    else:
        entries = ledger.audit_by_reason(args.reason, since=args.since, until=args.until)
        title = f"Audit of reason {args.reason}"
    _print_history(_limited(entries, args.limit), args.output, title, with_key=True)
    return EXIT_OK


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
    entries: Iterable[HistoryEntry], output: str, title: str, *, with_key: bool = False
) -> None:
    columns = [
        Column("time (UTC)", "at"),
        *([Column("key", "key")] if with_key else []),
        Column("version", lambda row: row["version_id"] or "null"),
        Column("destination", "destination_bucket"),
        Column("what", _what),
        Column("reason", "reason"),
        Column("actor", "actor"),
        Column("job", "job_id"),
        Column("detail", "detail"),
    ]
    emit((history_json(entry) for entry in entries), output, columns=columns, title=title,
         empty=f"{title}: no entries")  # fmt: skip


def _what(row: Mapping[str, Any]) -> str:
    if row["kind"] != "transition":
        return "event"
    return f"{row['from_state'] or '-'} → {row['to_state'] or '-'}"


def _print_incidents(incidents: list[Incident], output: str, *, open_only: bool) -> None:
    columns = [
        Column("source", "source_bucket"),
        Column("destination", "destination_bucket"),
        Column("reason", "failure_reason"),
        Column("objects", "object_count"),
        Column("opened (UTC)", "opened_at"),
        Column("resolved", _resolved),
        Column("last diagnosis", "last_diagnosis"),
    ]
    emit((incident_json(incident) for incident in incidents), output, columns=columns, title="Incidents",
         empty="no open incidents" if open_only else "no incidents")  # fmt: skip


def _resolved(row: Mapping[str, Any]) -> str:
    if not row["fixed"]:
        return "no"
    return f"{row['fixed_at']} by {row['resolved_by']} ({row['fixed_by']})"


def _print_failures(records: Iterable[FailureRecord], output: str, title: str) -> None:
    columns = [
        Column("source", "source_bucket"),
        Column("key", "key"),
        Column("version", lambda row: row["version_id"] or "null"),
        Column("destination", "destination_bucket"),
        Column("reason", "failure_reason"),
        Column("attempts", "attempts"),
        Column("last seen (UTC)", "last_seen"),
        Column("job", "job_id"),
    ]
    emit((failure_json(record) for record in records), output, columns=columns, title=title,
         empty=f"{title}: none")  # fmt: skip


# ------------------------------------------------------------------ helpers


def _limited(entries: Iterator[HistoryEntry], limit: int | None) -> Iterator[HistoryEntry]:
    import itertools

    return itertools.islice(entries, limit)


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at else None


def iso_time(text: str) -> datetime:
    """An argparse type: an ISO 8601 date or time, UTC when it has no offset."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from exc
    return at if at.tzinfo else at.replace(tzinfo=UTC)
