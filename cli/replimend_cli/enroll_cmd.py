"""`replimend enroll --bucket SRC [--queue-arn ARN | --stack NAME] [--dry-run]` and
`replimend unenroll --bucket SRC [--dry-run]`: turn on (and take back) what replimend needs to hear
of a source bucket's replication failures. The decisions are ``replimend.enrollment``'s.

enroll: replication metrics on every rule, the queue configuration for the four replication events
merged into the bucket's notifications, after checking the queue's policy admits the bucket (when it
does not, prints the statement to add and exits 1, changing nothing); then prints ``diagnose``.
unenroll: removes that queue configuration and turns metrics off on the rules enroll turned them on
for. Both are idempotent and print every change; ``--dry-run`` prints the changes and the requests
and makes none. Exit status: 0 done (and no diagnosis check FAILs), 1 the bucket cannot be enrolled
as it is, an AWS call failed or a check FAILs, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

from replimend.enrollment import Enrollment, EnrollmentError, Plan, QueueNotAdmitted, QueueVerdict
from replimend.errors import ReplimendError
from replimend_cli import UsageError
from replimend_cli.output import CSV, JSON, TABLE, add_output_arguments, emit
from replimend_cli.stack_config import environment

EXIT_OK, EXIT_PROBLEM = 0, 1
#: The stack output naming replimend's queue (template.yaml Outputs).
QUEUE_OUTPUT = "FailureQueueArn"


def register(subparsers: Any) -> None:
    enroll = subparsers.add_parser(
        "enroll",
        help="turn on replication metrics and the failure notification to replimend's queue on a bucket",
        description="Enable replication metrics on each rule of --bucket's replication configuration "
        "(every other setting kept, RTC untouched) and add a queue configuration for the four "
        "s3:Replication:* events to its notification configuration (every other notification kept), "
        "after checking the queue policy admits the bucket; then diagnose it. Idempotent.",
    )
    enroll.add_argument("--bucket", required=True, help="the source bucket")
    _add_queue_arguments(enroll)
    enroll.add_argument("--dry-run", action="store_true", help="print the changes and make none")
    add_output_arguments(enroll)
    enroll.set_defaults(func=run_enroll)

    unenroll = subparsers.add_parser(
        "unenroll",
        help="remove what enroll added to a bucket",
        description="Remove enroll's queue configuration (Id replimend-replication-events) from --bucket's "
        "notifications and turn replication metrics off on the rules enroll turned them on for (recorded "
        "in a bucket tag); nothing else changes. Idempotent.",
    )
    unenroll.add_argument("--bucket", required=True, help="the source bucket")
    _add_queue_arguments(unenroll, optional=True)
    unenroll.add_argument("--dry-run", action="store_true", help="print the changes and make none")
    add_output_arguments(unenroll)
    unenroll.set_defaults(func=run_unenroll)


def _add_queue_arguments(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    queue = parser.add_mutually_exclusive_group()
    scope = " (unenroll: remove the notification only if it targets this queue)" if optional else ""
    queue.add_argument(
        "--queue-arn",
        help=f"replimend's FailureQueue ARN (default: $REPLIMEND_QUEUE_ARN, $FAILURE_QUEUE_ARN){scope}",
    )
    queue.add_argument("--stack", help=f"read the queue ARN from this stack's {QUEUE_OUTPUT} output{scope}")


def _port(args: argparse.Namespace) -> Any:
    from replimend.aws.config import boto3_client_factory
    from replimend.aws.enrollment import AwsBucketEnrollment

    return AwsBucketEnrollment(boto3_client_factory(args.profile, args.region))


def _queue_arn(args: argparse.Namespace, *, required: bool = True) -> str | None:
    """--queue-arn, else the stack's FailureQueueArn output (--stack), else the environment."""
    if args.queue_arn:
        return str(args.queue_arn)
    env = environment(args)  # with --stack, its outputs win over the process environment
    arn = (None if args.stack else env.get("REPLIMEND_QUEUE_ARN")) or env.get("FAILURE_QUEUE_ARN")
    if not arn and required:
        raise UsageError("which queue? give --queue-arn, --stack or $REPLIMEND_QUEUE_ARN")
    return arn or None


def _bucket(args: argparse.Namespace) -> str:
    bucket = str(args.bucket).strip()
    if not bucket or "/" in bucket:
        raise UsageError(f"--bucket needs a bucket name, got {args.bucket!r}")
    return bucket


def run_enroll(args: argparse.Namespace) -> int:
    bucket = _bucket(args)
    queue_arn = _queue_arn(args)
    assert queue_arn is not None
    enrollment = Enrollment(_port(args))
    try:
        plan = enrollment.enroll(bucket, queue_arn, dry_run=args.dry_run)
    except QueueNotAdmitted as exc:
        _print_queue_fix(bucket, queue_arn, exc.verdict)
        return EXIT_PROBLEM
    except EnrollmentError as exc:
        return _error("enroll", exc)
    _report("enroll", plan, args.dry_run, args.output)
    if args.dry_run:
        return EXIT_OK
    from replimend_cli.diagnose_cmd import diagnose_source, print_diagnoses

    try:
        diagnoses = diagnose_source(
            bucket, profile=args.profile, region=args.region, failure_queue_arn=queue_arn
        )
    except ReplimendError as exc:
        return _error("enroll", exc)
    if args.output == TABLE:
        print_diagnoses(diagnoses)
    else:
        emit([d.to_dict() for d in diagnoses], JSON if args.output == JSON else CSV, columns=())
    return EXIT_PROBLEM if any(d.failed for d in diagnoses) else EXIT_OK


def run_unenroll(args: argparse.Namespace) -> int:
    bucket = _bucket(args)
    enrollment = Enrollment(_port(args))
    try:
        plan = enrollment.unenroll(bucket, dry_run=args.dry_run, queue_arn=_queue_arn(args, required=False))
    except EnrollmentError as exc:
        return _error("unenroll", exc)
    _report("unenroll", plan, args.dry_run, args.output)
    return EXIT_OK


def _requests(plan: Plan) -> list[tuple[str, dict[str, Any]]]:
    return [
        (operation, body)
        for operation, body in (
            ("PutBucketTagging", plan.tags),
            ("PutBucketReplication", plan.replication),
            ("PutBucketNotificationConfiguration", plan.notification),
        )
        if body is not None
    ]


def _report(command: str, plan: Plan, dry_run: bool, output: str = TABLE) -> None:
    if output != TABLE:
        document = {
            "command": command,
            "bucket": plan.bucket,
            "dry_run": dry_run,
            "changed": plan.changed,
            "changes": plan.changes,
            "notes": plan.notes,
            "requests": [{"operation": op, "body": body} for op, body in _requests(plan)],
        }
        emit([document], output, columns=())
        return
    out = sys.stdout
    if not plan.changed:
        out.write(
            f"{plan.bucket}: nothing to change ({'enrolled' if command == 'enroll' else 'not enrolled'})\n"
        )
    verb = "would change" if dry_run else "changed"
    for change in plan.changes:
        out.write(f"{plan.bucket}: {verb}: {change}\n")
    for note in plan.notes:
        out.write(f"{plan.bucket}: note: {note}\n")
    if dry_run and plan.changed:
        out.write("requests it would make (none made: --dry-run):\n")
        for operation, body in _requests(plan):
            out.write(f"  {operation} {json.dumps(body, sort_keys=True)}\n")


def _print_queue_fix(bucket: str, queue_arn: str, verdict: QueueVerdict) -> None:
    _, partition, _, region, account, name = queue_arn.split(":", 5)
    suffix = ".amazonaws.com.cn" if partition == "aws-cn" else ".amazonaws.com"
    url = f"https://sqs.{region}{suffix}/{account}/{name}"
    attributes = json.dumps({"Policy": json.dumps(verdict.policy, separators=(",", ":"))})
    sys.stderr.write(f"replimend enroll: error: {verdict.why}; nothing changed\n")
    sys.stdout.write(
        f"S3 cannot send {bucket}'s events to {queue_arn} until its policy allows it. Add this statement:\n"
        f"{json.dumps(verdict.statement, indent=2)}\n"
        f"If the queue is replimend's stack's FailureQueue, add arn:{partition}:s3:::{bucket} to the stack's "
        "SourceBucketArns parameter and deploy (a deploy overwrites a hand-edited policy). Otherwise:\n"
        f"    aws sqs set-queue-attributes --region {region} --queue-url {url} --attributes "
        f"{shlex.quote(attributes)}\n"
    )


def _error(command: str, exc: ReplimendError) -> int:
    prefix = "" if isinstance(exc, EnrollmentError) else f"{type(exc).__name__}: "
    message = " ".join(str(exc).split())
    sys.stderr.write(f"replimend {command}: error: {prefix}{message}\n")
    return EXIT_PROBLEM
