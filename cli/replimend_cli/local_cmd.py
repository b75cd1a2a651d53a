"""`replimend local up` and `replimend local clock`: the embedded AWS as a server you drive yourself.

``local up`` serves the embedded AWS (moto plus the emulators of S3 replication, Batch Operations and
IAM simulation) on 127.0.0.1 with template.yaml deployed and its event sources and schedules running
on real time, prints the ``export`` lines that point the AWS CLI, boto3 and the replimend command at
it, and runs until SIGINT or SIGTERM. ``local clock advance 15m`` moves that server's simulated clock.

Exit status: 0 done; 1 the stack could not start or the server could not be reached or refused;
2 bad arguments or replimend-local not installed. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from replimend_cli import UsageError
from replimend_cli.demo_cmd import BIND_ERRORS, EXIT_NOT_INSTALLED, LOCAL_MODULES
from replimend_cli.output import add_output_arguments, emit_one

EXIT_FAILED = 1
DEFAULT_PORT = 4566
#: local up's parameter defaults where the template's do not fit a sandbox: every bucket is a source
LOCAL_PARAMETERS = {"SourceBucketArns": "arn:aws:s3:::*"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(subparsers: Any) -> None:
    local = subparsers.add_parser(
        "local",
        help="serve the embedded AWS with the stack deployed (local up), move its clock",
        description="Local mode: the embedded AWS with template.yaml deployed, driven with the AWS CLI "
        "or boto3. Exit status 1 when the stack cannot start or the server cannot be reached.",
    )
    actions = local.add_subparsers(dest="local_action", metavar="ACTION", required=True)

    up = actions.add_parser(
        "up",
        help="serve the embedded AWS on 127.0.0.1 until SIGINT/SIGTERM",
        description="Start the embedded AWS on 127.0.0.1:PORT, deploy template.yaml into it with its "
        "event sources and schedules running on real time, print the export lines once ready, and "
        "run until SIGINT (Ctrl-C) or SIGTERM.",
    )
    up.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)"
    )
    up.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter override (repeatable); default SourceBucketArns=arn:aws:s3:::*",
    )
    up.add_argument(
        "--template", type=Path, help="the SAM template (default: the repository's template.yaml)"
    )
    up.set_defaults(func=run_up, needs_aws=False)

    clock = actions.add_parser("clock", help="read or move the simulated clock of a running local stack")
    clock_actions = clock.add_subparsers(dest="clock_action", metavar="ACTION", required=True)
    advance = clock_actions.add_parser(
        "advance",
        help="move the clock forward: backoffs elapse, schedules due on the way fire",
        description="Move the running stack's clock forward by DURATION (e.g. 15m, 90s, 1h30m, 2d); "
        "every schedule due on the way fires and the event sources drain before this returns.",
    )
    advance.add_argument("duration", help="how far: a number with s, m, h or d (combinable: 1h30m)")
    now = clock_actions.add_parser("now", help="print the running stack's simulated time")
    for parser in (advance, now):
        parser.add_argument(
            "--endpoint-url",
            default=None,
            help="the local stack's endpoint (default: $AWS_ENDPOINT_URL)",
        )
        add_output_arguments(parser)
    advance.set_defaults(func=run_clock_advance, needs_aws=False)
    now.set_defaults(func=run_clock_now, needs_aws=False)


def parse_duration(text: str) -> float:
    """``15m`` -> 900.0; ``1h30m`` -> 5400.0. UsageError for anything else."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise UsageError(f"bad duration {text!r}: use a number with s, m, h or d, e.g. 15m or 1h30m")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def parse_parameters(items: list[str]) -> dict[str, str]:
    parameters = dict(LOCAL_PARAMETERS)
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"bad --parameter {item!r}: use NAME=VALUE")
        parameters[name] = value
    return parameters


def _error(message: str, status: int = EXIT_FAILED) -> int:
    print(f"replimend: error: {message}", file=sys.stderr)
    return status


def run_up(args: argparse.Namespace) -> int:
    parameters = parse_parameters(args.parameter)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"bad --port {args.port}: 0 to 65535")
    try:
        from replimend_local.serve import invocation_line, serve_until_signalled
        from replimend_local.stack import local_stack
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in LOCAL_MODULES:
            raise
        return _error(
            f"local mode needs the embedded AWS ({exc.name} is not installed): "
            "pip install -e ./local from a clone of the repository",
            EXIT_NOT_INSTALLED,
        )
    from replimend_local.sam import TEMPLATE_PATH, TemplateError

    def log_invocation(invocation: Any) -> None:
        print(invocation_line(invocation), file=sys.stderr, flush=True)

    try:
        with local_stack(
            args.template or TEMPLATE_PATH,
            parameters=parameters,
            port=args.port,
            on_invocation=log_invocation,
            load_functions=True,
        ) as stack:
            return serve_until_signalled(stack)
    except OSError as error:
        if error.errno not in BIND_ERRORS:
            raise
        return _error(f"cannot serve on 127.0.0.1:{args.port}: {error.strerror}")
    except TemplateError as error:
        return _error(f"cannot deploy the template locally: {error}")


def _control(endpoint_url: str | None, route: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    base = (endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "").rstrip("/")
    if not base:
        raise UsageError("no local stack endpoint: pass --endpoint-url or set AWS_ENDPOINT_URL")
    if not base.startswith(("http://", "https://")):
        raise UsageError(f"bad endpoint {base!r}: an http:// URL")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - an http(s) URL, checked above
        f"{base}/_replimend/{route}",
        data=data,
        method="POST" if data is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
            return dict(json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read() or b"{}").get("message") or error.reason
        except ValueError:
            message = error.reason
        if error.code == 404:
            message = f"{base} is not a replimend local stack ({message})"
        raise ControlError(str(message)) from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise ControlError(f"cannot reach the local stack at {base}: {reason}") from error


class ControlError(Exception):
    """The running local stack could not be reached or refused the request."""


def run_clock_advance(args: argparse.Namespace) -> int:
    seconds = parse_duration(args.duration)
    try:
        answer = _control(args.endpoint_url, "clock/advance", {"seconds": seconds})
    except ControlError as error:
        return _error(str(error))
    text = (
        f"clock advanced {args.duration} to {answer.get('now')}: {answer.get('invocations', 0)} invocations"
    )
    emit_one(answer, args.output, text=text)
    return 0


def run_clock_now(args: argparse.Namespace) -> int:
    try:
        answer = _control(args.endpoint_url, "clock")
    except ControlError as error:
        return _error(str(error))
    emit_one(answer, args.output, text=str(answer.get("now")))
    return 0
