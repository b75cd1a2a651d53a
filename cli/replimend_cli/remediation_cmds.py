"""`replimend remediate`, `replimend jobs`, `replimend incident retry|fixed|reopen`.

Settings come from the stack (--stack) or from the environment exactly as the Lambda functions read
them (LEDGER_TABLE, ACCOUNT_ID, MANIFEST_BUCKET, ...), --table overriding the table; see
replimend_cli.stack_config. Output per --output (replimend_cli.output).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from replimend.errors import NotFoundError
from replimend.models import JobRecord
from replimend.remediate.remediation import RemediationResult
from replimend.settings import RemediationSettings
from replimend.track.tracker import job_outcome
from replimend_cli import UsageError
from replimend_cli.ledger_cmds import add_ledger_arguments
from replimend_cli.output import TABLE, Column, emit, emit_one, logs_to_stderr, note
from replimend_cli.stack_config import check_index_shards, open_ledger, settings


def register(subparsers: Any) -> None:
    remediate = subparsers.add_parser(
        "remediate",
        help="run one remediation pass (gate, plan, start Batch Replication jobs)",
        description="Run one remediation pass with the same code as the remediate function: gate "
        "retry_after_fix failures on their incident, pick due versions per source bucket, write "
        "one manifest per source bucket and start one S3 Batch Replication job for it. --dry-run plans only.",
    )
    remediate.add_argument("--bucket", help="only this source bucket")
    remediate.add_argument("--dry-run", action="store_true", help="plan and report; start and write nothing")
    add_ledger_arguments(remediate)
    remediate.set_defaults(func=run_remediate)

    jobs = subparsers.add_parser("jobs", help="list Batch Replication jobs and their outcomes")
    jobs.add_argument("--active", action="store_true", help="only jobs not finished yet")
    add_ledger_arguments(jobs)
    jobs.set_defaults(func=run_jobs)

    incident = subparsers.add_parser(
        "incident", help="override the diagnosis gate for a cause no check can see (resolved_by: operator)"
    )
    actions = incident.add_subparsers(dest="incident_action", metavar="ACTION", required=True)
    for name, help_text in (
        (
            "retry",
            "re-drive the incident's objects although its diagnosis does not pass (resolved_by: operator)",
        ),
        ("fixed", "the same as retry (its older name)"),
        ("reopen", "the cause is not fixed after all: hold the incident's objects again"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--source", required=True, help="source bucket name")
        action.add_argument("--destination", required=True, help="destination bucket name")
        action.add_argument(
            "--reason", required=True, help="failure reason code, e.g. DstPutObjectNotPermitted"
        )
        action.add_argument("--by", default=None, help="who says so (default: $USER)")
        add_ledger_arguments(action)
        action.set_defaults(func=run_incident, fixed=name in ("retry", "fixed"))


def run_remediate(args: argparse.Namespace) -> int:
    from replimend.wiring import build_remediation

    logs_to_stderr()  # the functions' logger (created by that import) writes to stdout
    if args.bucket is not None and not args.bucket.strip():
        raise UsageError("--bucket needs a bucket name")
    remediation_settings = settings(args, RemediationSettings)
    remediation = build_remediation(remediation_settings)
    if args.stack is None:
        check_index_shards(remediation.ledger, remediation_settings.index_shards)
    result = remediation.run(bucket=args.bucket, dry_run=True if args.dry_run else None)
    _print_remediation(result, args.output)
    return 1 if any(source.errors for source in result.sources) else 0


JOB_COLUMNS = (
    Column("job id", "job_id"),
    Column(
        "source → destination",
        lambda row: (
            f"{row['source_bucket']} → "
            f"{', '.join(row['destinations']) or row['destination_bucket'] or '(generated)'}"
        ),
    ),
    Column("status", "status"),
    Column("outcome", "outcome"),
    Column("objects", "object_count"),
    Column("ok", "tasks_succeeded"),
    Column("failed", "tasks_failed"),
    Column("created", "created_at"),
    Column("note", lambda row: "stale" if row["stale"] else "; ".join(row["failure_reasons"])),
)


def run_jobs(args: argparse.Namespace) -> int:
    jobs = open_ledger(args).list_jobs(active_only=args.active)
    emit(
        (job_summary(job) for job in jobs),
        args.output,
        columns=JOB_COLUMNS,
        title="Batch Replication jobs",
        empty="no active jobs" if args.active else "no jobs",
    )
    return 0


def run_incident(args: argparse.Namespace) -> int:
    import getpass

    for name in ("source", "destination", "reason"):
        if not getattr(args, name).strip():
            raise UsageError(f"--{name} must not be empty")
    ledger = open_ledger(args)
    actor = f"operator:{args.by or getpass.getuser()}"
    try:
        incident = ledger.set_incident_fixed(
            args.source, args.destination, args.reason, actor=actor, fixed=args.fixed
        )
    except NotFoundError as exc:
        known = [
            f"{i.source_bucket} -> {i.destination_bucket} {i.failure_reason}" for i in ledger.list_incidents()
        ]
        raise UsageError(f"{exc}; open incidents: {', '.join(known) or 'none'}") from exc
    document = {
        "source_bucket": incident.source_bucket,
        "destination_bucket": incident.destination_bucket,
        "failure_reason": incident.failure_reason,
        "fixed": incident.fixed,
        "fixed_by": incident.fixed_by,
        "fixed_at": incident.fixed_at.isoformat() if incident.fixed_at else None,
        "resolved_by": incident.resolved_by,
        "object_count": incident.object_count,
    }
    state = (
        "fixed: the next remediation pass re-drives its objects" if incident.fixed else "open: objects held"
    )
    text = (
        f"incident {incident.source_bucket} -> {incident.destination_bucket} {incident.failure_reason} "
        f"({incident.object_count} objects) is now {state}"
    )
    emit_one(document, args.output, text=text)
    return 0


def job_summary(job: JobRecord) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "kind": job.kind,
        "source_bucket": job.source_bucket,
        "destination_bucket": job.destination_bucket,
        "destinations": list(job.destinations),
        "status": job.status,
        "outcome": job_outcome(job),
        "object_count": job.object_count,
        "tasks_succeeded": job.tasks_succeeded,
        "tasks_failed": job.tasks_failed,
        "failure_reasons": list(job.failure_reasons),
        "manifest": job.manifest_arn,
        "report": f"s3://{job.report_bucket}/{job.report_prefix}/job-{job.job_id}/"
        if job.report_bucket
        else None,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "stale": bool(job.stale_since),
        "outcome_recorded": job.outcome_recorded,
    }


SOURCE_COLUMNS = (
    Column(
        "source → destinations",
        lambda row: f"{row['source_bucket']} → {', '.join(row['destinations']) or '-'}",
    ),
    Column("versions planned", "planned"),
    Column("skipped", "skipped"),
    Column("blocked", "blocked"),
    Column("obsolete", "obsolete"),
    Column("done", "done"),
    Column("gave up", "gave_up"),
    Column(
        "jobs",
        lambda row: (
            ", ".join([*row["resumed_jobs"], *row["jobs"]])
            or ("(would start)" if row["dry_run"] and row["planned"] else "")
        ),
    ),
)


def _print_remediation(result: RemediationResult, output: str) -> None:
    """One row per source bucket; as JSON a last summary line. Gate and errors: notes on stderr
    except in a table, where they follow it."""
    document = result.to_dict()
    rows = [{"dry_run": result.dry_run, **source} for source in document["sources"]]
    title = "Remediation plan (dry run: nothing started)" if result.dry_run else "Remediation pass"
    emit(rows, output, columns=SOURCE_COLUMNS, title=title, empty="no source bucket has due work")
    if output == "json":
        summary = {"summary": True, "dry_run": result.dry_run, "jobs": result.jobs,
                   "truncated": result.truncated, "gate": result.gate}  # fmt: skip
        emit([summary], output, columns=())
    for incident, gate in result.gate.items():
        line = f"gate {incident}: {gate}"
        if output == TABLE:
            sys.stdout.write(line + "\n")
        else:
            note(line)
    for source in result.sources:
        for error in source.errors:
            note(f"error {source.source_bucket}: {error}")
    if result.truncated:
        note(f"stopped early: {result.truncated}")
