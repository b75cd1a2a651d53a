"""`replimend remediate`, `replimend jobs`, `replimend incident fixed|reopen`.

Settings come from the environment exactly as the Lambda functions read them (LEDGER_TABLE,
ACCOUNT_ID, MANIFEST_BUCKET, ...); flags override. Output is a rich table, or JSON Lines with --json.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from replimend.errors import ConfigurationError, NotFoundError
from replimend.models import JobRecord
from replimend.remediate.remediation import RemediationResult
from replimend.settings import RemediationSettings, load_settings
from replimend.track.tracker import job_outcome
from replimend_cli import UsageError
from replimend_cli.ledger_cmds import add_ledger_arguments, open_ledger


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
    remediate.add_argument(
        "--json", action="store_true", help="print the result as JSON Lines (one per source bucket)"
    )
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

    settings = _settings(RemediationSettings)
    if args.bucket is not None and not args.bucket.strip():
        raise UsageError("--bucket needs a bucket name")
    result = build_remediation(settings).run(bucket=args.bucket, dry_run=True if args.dry_run else None)
    if args.json:
        _print_remediation_json(result)
    else:
        _print_remediation_table(result)
    return 1 if any(source.errors for source in result.sources) else 0


def run_jobs(args: argparse.Namespace) -> int:
    jobs = open_ledger(args).list_jobs(active_only=args.active)
    if args.json:
        for job in jobs:
            sys.stdout.write(json.dumps(job_summary(job)) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Batch Replication jobs")
    for column in (
        "job id",
        "source → destination",
        "status",
        "outcome",
        "objects",
        "ok",
        "failed",
        "created",
        "note",
    ):
        table.add_column(column)
    for job in jobs:
        summary = job_summary(job)
        table.add_row(
            job.job_id,
            f"{job.source_bucket} → {', '.join(job.destinations) or job.destination_bucket or '(generated)'}",
            job.status,
            summary["outcome"] or "",
            str(job.object_count),
            str(job.tasks_succeeded),
            str(job.tasks_failed),
            summary["created_at"] or "",
            "stale" if job.stale_since else "; ".join(job.failure_reasons)[:60],
        )
    Console().print(table)
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
    if args.json:
        sys.stdout.write(json.dumps(document) + "\n")
    else:
        state = (
            "fixed: the next remediation pass re-drives its objects"
            if incident.fixed
            else "open: objects held"
        )
        sys.stdout.write(
            f"incident {incident.source_bucket} -> {incident.destination_bucket} {incident.failure_reason} "
            f"({incident.object_count} objects) is now {state}\n"
        )
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


def _settings(model: Any) -> Any:
    try:
        return load_settings(model)
    except ConfigurationError as exc:
        raise UsageError(f"{exc} (set the environment variables the functions use)") from exc


def _print_remediation_json(result: RemediationResult) -> None:
    document = result.to_dict()
    for source in document["sources"]:
        sys.stdout.write(json.dumps({"dry_run": result.dry_run, **source}) + "\n")
    sys.stdout.write(
        json.dumps(
            {
                "summary": True,
                "dry_run": result.dry_run,
                "jobs": result.jobs,
                "truncated": result.truncated,
                "gate": result.gate,
            }
        )
        + "\n"
    )


def _print_remediation_table(result: RemediationResult) -> None:
    from rich.console import Console
    from rich.table import Table

    title = "Remediation plan (dry run: nothing started)" if result.dry_run else "Remediation pass"
    table = Table(title=title)
    for column in (
        "source → destinations",
        "versions planned",
        "skipped",
        "blocked",
        "obsolete",
        "done",
        "gave up",
        "jobs",
    ):
        table.add_column(column)
    for source in result.sources:
        table.add_row(
            f"{source.source_bucket} → {', '.join(source.destinations) or '-'}",
            str(source.planned),
            str(source.skipped),
            str(source.blocked),
            str(source.obsolete),
            str(source.done),
            str(source.gave_up),
            ", ".join([*source.resumed_jobs, *source.jobs])
            or ("(would start)" if result.dry_run and source.planned else ""),
        )
    console = Console()
    console.print(table)
    for incident, summary in result.gate.items():
        console.print(f"gate {incident}: {summary}")
    for source in result.sources:
        for error in source.errors:
            console.print(f"[red]error[/red] {source.source_bucket}: {error}")
    if result.truncated:
        console.print(f"stopped early: {result.truncated}")
