"""`replimend backfill` (one generated-manifest Batch Replication job for a source bucket) and
`replimend pending` (objects stuck PENDING in the source's latest S3 Inventory).

Settings come from the environment exactly as the backfill function reads them (LEDGER_TABLE,
ACCOUNT_ID, MANIFEST_BUCKET, REPORT_BUCKET, BATCH_ROLE_ARN, ...), or from the stack with --stack.
Output is text, or --output json|csv.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from replimend.backfill.planner import FILTER_STATUSES, FilterError, GeneratorFilter, parse_statuses
from replimend_cli import UsageError
from replimend_cli.ledger_cmds import add_ledger_arguments
from replimend_cli.output import TABLE, add_output_arguments, emit, note
from replimend_cli.stack_config import add_stack_arguments, environment, open_ledger, settings


def register(subparsers: Any) -> None:
    backfill = subparsers.add_parser(
        "backfill",
        help="start one S3 Batch Replication job over a source bucket's objects (generated manifest)",
        description="Start one S3 Batch Replication job for the source bucket with the S3 manifest "
        "generator, the same code as the backfill function: gated by diagnosis, never while another "
        "replimend job of the source is active. --dry-run prints the filter, an estimated object count "
        "(from the latest S3 Inventory, when there is one) and the job fee, and starts nothing.",
    )
    backfill.add_argument("--bucket", required=True, help="source bucket name")
    backfill.add_argument(
        "--statuses",
        default=None,
        help=f"ObjectReplicationStatuses, comma-separated, of {','.join(FILTER_STATUSES)} "
        "(default: $BACKFILL_STATUSES or FAILED)",
    )
    backfill.add_argument(
        "--since", help="only objects created after this date (YYYY-MM-DD or ISO 8601, UTC)"
    )
    backfill.add_argument("--prefix", help="only keys with this prefix")
    backfill.add_argument(
        "--dry-run", action="store_true", help="print what the job would cover; start nothing"
    )
    add_ledger_arguments(backfill)
    backfill.set_defaults(func=run_backfill)

    pending = subparsers.add_parser(
        "pending",
        help="list objects stuck PENDING, from the source bucket's latest S3 Inventory",
        description="Read the latest CSV S3 Inventory (with the ReplicationStatus field) of the source "
        "bucket and list objects PENDING for longer than the threshold. Exit status 1 when there are any.",
    )
    pending.add_argument("--bucket", required=True, help="source bucket name")
    pending.add_argument(
        "--threshold-hours",
        type=_positive_float,
        default=None,
        help="PENDING for longer than this (default: $PENDING_THRESHOLD_HOURS or 24)",
    )
    add_stack_arguments(pending, ledger=False)
    add_output_arguments(pending)
    pending.set_defaults(func=run_pending)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0: {text!r}")
    return value


def parse_since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r} is not a date (YYYY-MM-DD or ISO 8601)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _filter(args: argparse.Namespace) -> GeneratorFilter:
    statuses = args.statuses if args.statuses is not None else os.environ.get("BACKFILL_STATUSES", "FAILED")
    try:
        return GeneratorFilter(
            statuses=parse_statuses(statuses),
            created_after=parse_since(args.since) if args.since else None,
            prefixes=(args.prefix,) if args.prefix is not None else (),
        )
    except FilterError as exc:
        raise UsageError(str(exc)) from None


def _bucket(args: argparse.Namespace) -> str:
    bucket = str(args.bucket).strip()
    if not bucket:
        raise UsageError("--bucket needs a bucket name")
    return bucket


def run_backfill(args: argparse.Namespace) -> int:
    from replimend.settings import BackfillSettings
    from replimend.wiring import build_backfill

    bucket, job_filter = _bucket(args), _filter(args)
    config = settings(args, BackfillSettings)
    open_ledger(args)  # the table answers and --index-shards matches its writers, before anything starts
    backfill = build_backfill(config)
    result = backfill.run(buckets=[bucket], job_filter=job_filter, dry_run=args.dry_run, scan_pending=False)
    [source] = result.sources
    document = {"dry_run": result.dry_run, **result.to_dict()["sources"][0]}
    if args.output == TABLE:
        _print_backfill(document)
    else:
        emit([json.loads(json.dumps(document, default=str))], args.output, columns=())
    return 1 if source.outcome in ("blocked", "failed") else 0


def _print_backfill(document: dict[str, Any]) -> None:
    out = sys.stdout
    verb = "would" if document["dry_run"] else "did"
    out.write(f"backfill {document['source_bucket']} ({verb}): {document['outcome']}: {document['detail']}\n")
    out.write(f"  filter: {json.dumps(document['filter'])}\n")
    out.write(f"  destinations: {', '.join(document['destinations']) or '-'}\n")
    if document.get("job_id"):
        out.write(f"  job: {document['job_id']}\n")
    cost = document.get("cost")
    if cost:
        count = cost["estimated_objects"]
        job_fee, per_million = cost["job_fee_usd"], cost["per_million_objects_usd"]
        generation = cost["manifest_generation_per_million_objects_usd"]
        out.write(
            f"  estimated objects: {'not known (no S3 Inventory)' if count is None else count}\n"
            f"  Batch Operations: ${job_fee:.2f} per job + ${per_million:.2f} per million objects; "
            f"manifest generation ${generation} per million objects in the bucket; replication charges "
            "on top\n"
        )
        if cost["estimated_total_usd"] is not None:
            out.write(f"  estimated job fee: ${cost['estimated_total_usd']:.4f}\n")


def run_pending(args: argparse.Namespace) -> int:
    from replimend.aws.config import AwsConfigReader, boto3_client_factory
    from replimend.aws.s3 import S3Storage
    from replimend.backfill.pending import InventoryReader, find_stuck

    bucket = _bucket(args)
    hours = args.threshold_hours or _env_hours(environment(args))
    clients = boto3_client_factory(getattr(args, "profile", None), getattr(args, "region", None))
    reader, storage = AwsConfigReader(clients), S3Storage(clients("s3", None))
    report = find_stuck(
        InventoryReader(reader, storage), bucket, threshold=timedelta(hours=hours), now=datetime.now(UTC)
    )
    document = report.to_dict()
    if args.output != TABLE:
        # one row per stuck object; the summary (inventory, counts) goes to stderr
        emit(
            [{"source_bucket": bucket, **item} for item in document["stuck"]],
            args.output,
            columns=(),
            empty=f"{bucket}: no object PENDING for more than {hours:g} h",
        )
        summary = {k: v for k, v in document.items() if k != "stuck"}
        note(f"{bucket}: {json.dumps(summary, default=str)}")
    else:
        if report.note:
            sys.stdout.write(f"{bucket}: {report.note}\n")
        else:
            sys.stdout.write(
                f"{bucket}: {report.stuck_count} object(s) PENDING for more than {hours:g} h "
                f"({report.pending} PENDING in all) in {report.inventory}\n"
            )
        for item in report.stuck:
            version = item.version_id or "null"
            sys.stdout.write(f"  {item.key}  version {version}  pending {item.pending_hours:g} h\n")
        if report.stuck_count > len(report.stuck):
            sys.stdout.write(f"  … and {report.stuck_count - len(report.stuck)} more (see --output json)\n")
    return 1 if report.stuck_count else 0


def _env_hours(env: dict[str, str]) -> float:
    text = env.get("PENDING_THRESHOLD_HOURS", "24")
    try:
        return _positive_float(text)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"PENDING_THRESHOLD_HOURS: {exc}") from None
