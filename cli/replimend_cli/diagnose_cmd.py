"""`replimend diagnose --bucket SRC [--destination D] [--key K [--version-id V]]`: why replication from
SRC fails, per destination, with the AWS CLI command that fixes each failing check.

Runs the checks of ``replimend.diagnose`` (all, or those a failure reason names with ``--reason``)
against the account the standard credential chain (or ``--profile``) reaches, in ``--region``;
``AWS_ENDPOINT_URL`` points it at the embedded AWS. replimend's own resources, when the environment
names them as the functions' does (BATCH_ROLE_ARN, MANIFEST_BUCKET, REPORT_BUCKET, FAILURE_QUEUE_ARN),
are checked too — or, with ``--stack NAME``, as that stack names them. Output: a table and the
fixes, JSON Lines (one diagnosis per destination) with --output json, one row per check with
--output csv. Exit status: 0 nothing FAILs, 1 something FAILs, 2 bad input or AWS unreachable (one line on
standard error, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from replimend.diagnose import REGISTRY, Diagnosis, Setup, Status, Target, destinations, diagnose
from replimend.errors import ReplimendError
from replimend.reasons import REASONS, UNKNOWN_REASON
from replimend_cli import UsageError
from replimend_cli.output import CSV, JSON, UNBOUNDED_WIDTH, add_output_arguments, emit, print_table
from replimend_cli.stack_config import add_stack_arguments, environment

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2
#: The checks that need no destination: what a bucket without replication rules is diagnosed with.
SOURCE_CHECKS = ("source_bucket_exists", "source_bucket_region", "source_versioning", "replication_rule",
                 "failure_notification")  # fmt: skip
_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.WARN: "yellow", Status.SKIP: "dim"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="diagnose a source bucket's replication, per destination, with the fix for each failing check",
        description="Check what S3 replication from --bucket needs (versioning, rules and filters, the "
        "replication role's trust and permissions with the destination bucket policy, the destination, "
        "cross-account ownership, KMS keys and key policies, Object Lock, replication metrics and the "
        "failure notification, replimend's Batch Operations role), per destination. Each check prints "
        "PASS, FAIL, WARN or SKIP with what it read; a FAIL prints the AWS CLI command that fixes it. "
        "Exit status 1 when a check FAILs.",
    )
    parser.add_argument("--bucket", required=True, help="the source bucket")
    parser.add_argument("--destination", help="only this destination bucket (default: every rule's)")
    parser.add_argument("--key", help="also check this object: filter match, rule priority, KMS key, status")
    parser.add_argument("--version-id", help="the object's version (with --key)")
    parser.add_argument(
        "--reason", help="only the checks this failure reason names (e.g. DstPutObjectNotPermitted)"
    )
    parser.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    parser.add_argument("--region", help="AWS Region of the clients (default: the profile's)")
    add_stack_arguments(parser, ledger=False)
    add_output_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.bucket.strip():
        raise UsageError("--bucket needs a bucket name")
    if args.version_id and not args.key:
        raise UsageError("--version-id needs --key")
    checks = _checks(args.reason)
    try:
        diagnoses = _diagnose_all(args, checks)
    except ReplimendError as exc:
        return _error(str(exc))
    except Exception as exc:  # botocore's own: no credentials, unknown profile, endpoint unreachable
        if type(exc).__module__.startswith(("botocore", "boto3")):
            return _error(f"{type(exc).__name__}: {exc}")
        raise
    if args.output == JSON:
        emit([result.to_dict() for result in diagnoses], JSON, columns=())
    elif args.output == CSV:
        emit(_check_rows(diagnoses), CSV, columns=())
    else:
        print_diagnoses(diagnoses)
    return EXIT_FAIL if any(result.failed for result in diagnoses) else EXIT_OK


def _checks(reason: str | None) -> tuple[str, ...] | None:
    if reason is None:
        return None
    entry = REASONS.get(reason)
    if entry is None:
        raise UsageError(f"unknown failure reason {reason!r}; known: {', '.join(sorted(REASONS))}")
    return entry.checks or UNKNOWN_REASON.checks


def diagnose_source(
    bucket: str, *, profile: str | None, region: str | None, failure_queue_arn: str | None
) -> list[Diagnosis]:
    """Every check for every destination of ``bucket`` (what ``enroll`` prints after it changes)."""
    args = argparse.Namespace(
        bucket=bucket, destination=None, key=None, version_id=None, profile=profile, region=region
    )
    return _diagnose_all(args, None, failure_queue_arn=failure_queue_arn)


def _diagnose_all(
    args: argparse.Namespace, checks: tuple[str, ...] | None, *, failure_queue_arn: str | None = None
) -> list[Diagnosis]:
    from replimend.aws.config import AwsConfigReader, boto3_client_factory

    clients = boto3_client_factory(args.profile, args.region)
    reader = AwsConfigReader(clients)
    env = environment(args, client=clients)
    setup = Setup(
        region=env.get("REPLIMEND_REGION") or None,  # jobs' Region, if pinned; else the source's
        batch_role_arn=env.get("BATCH_ROLE_ARN") or None,
        manifest_bucket=env.get("MANIFEST_BUCKET") or None,
        report_bucket=env.get("REPORT_BUCKET") or None,
        failure_queue_arn=failure_queue_arn or env.get("FAILURE_QUEUE_ARN") or None,
    )
    if args.destination:
        targets = [args.destination]
    else:
        try:
            targets = destinations(reader, args.bucket)
        except ReplimendError:
            targets = []  # no bucket or no configuration readable: the source checks say which
    if not targets:
        wanted = [c for c in SOURCE_CHECKS if checks is None or c in checks] or list(SOURCE_CHECKS)
        return [diagnose(reader, Target(args.bucket, "", args.key, args.version_id), setup, checks=wanted)]
    return [
        diagnose(reader, Target(args.bucket, destination, args.key, args.version_id), setup, checks=checks)
        for destination in targets
    ]


def print_diagnoses(diagnoses: list[Diagnosis]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else UNBOUNDED_WIDTH)
    for result in diagnoses:
        target = result.target
        title = f"{target.source} → {target.destination or '(no replication rule)'}"
        if target.key:
            title += f"  object {target.key}" + (f" ({target.version_id})" if target.version_id else "")
        table = Table(title=title, title_justify="left")
        for column in ("check", "group", "status", "evidence"):
            table.add_column(column, overflow="fold")
        for check in result.results:
            style = _STYLE[check.status]
            table.add_row(
                check.name,
                str(REGISTRY[check.name].group),
                f"[{style}]{check.status}[/]",
                escape(check.evidence),
            )
        print_table(table)
        for check in result.failed:
            console.print(f"[bold red]FAIL[/] {check.name}: fix with")
            # plain, unwrapped text: the command must stay copy-pasteable
            sys.stdout.flush()
            console.file.flush()
            sys.stdout.write("".join(f"    {line}\n" for line in (check.fix or "").splitlines()))
        verdict = "[bold red]FAILING[/]" if result.failed else "[green]nothing fails[/]"
        console.print(f"{title}: {verdict} ({result.summary()})\n")


def _check_rows(diagnoses: list[Diagnosis]) -> list[dict[str, Any]]:
    """One row per check, for CSV."""
    return [
        {
            "source_bucket": result.target.source,
            "destination_bucket": result.target.destination,
            "key": result.target.key,
            "version_id": result.target.version_id,
            "check": check.name,
            "group": str(REGISTRY[check.name].group),
            "status": str(check.status),
            "evidence": check.evidence,
            "fix": check.fix,
        }
        for result in diagnoses
        for check in result.results
    ]


def _error(message: str) -> int:
    sys.stderr.write(f"replimend diagnose: error: {message.splitlines()[0] if message else 'failed'}\n")
    return EXIT_ERROR
