"""`replimend demo`: the pipeline end to end on an embedded AWS (a development tool).

The embedded AWS lives in ``replimend_local``, a distribution of its own (``local/``) that the
development install provides and an operator's ``pip install .`` does not: it is imported only when
the command runs, and its absence is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path
from typing import Any

from replimend_cli import UsageError

EXIT_FAILED = 1
#: a port that cannot be served: in use, privileged, not local
BIND_ERRORS = (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL)
EXIT_NOT_INSTALLED = 2
#: Top-level modules the embedded AWS needs; their absence means replimend-local is not installed.
LOCAL_MODULES = ("replimend_local", "moto", "time_machine")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run every failure scenario end to end on an embedded AWS",
        description=(
            "Start an embedded AWS (moto plus emulators of S3 replication, Batch Operations and IAM "
            "simulation), deploy template.yaml into it, break replication in the ways the field does, "
            "and show replimend catching, explaining and mending every failure."
        ),
    )
    parser.add_argument("--report", type=Path, metavar="PATH", help="also write a JSON report to PATH")
    parser.add_argument(
        "--html", type=Path, metavar="PATH", help="also write the run's audit report (HTML) to PATH"
    )
    parser.add_argument(
        "--detect-only",
        action="store_true",
        help="stop after the failures are recorded and explained (no fixes, no remediation)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="then keep the demo's account running (like `replimend local up`) until SIGINT/SIGTERM",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="with --keep: serve on this port (default: any free one)"
    )
    parser.set_defaults(func=run, needs_aws=False)


def run(args: argparse.Namespace) -> int:
    try:
        from replimend_local.demo import run_demo
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in LOCAL_MODULES:
            raise
        print(
            f"replimend: error: the demo needs the embedded AWS ({exc.name} is not installed): "
            "pip install -e ./local from a clone of the repository",
            file=sys.stderr,
        )
        return EXIT_NOT_INSTALLED
    if not 0 <= args.port <= 65535:
        raise UsageError(f"bad --port {args.port}: 0 to 65535")
    try:
        return run_demo(
            args.report,
            remediation=False if args.detect_only else None,
            keep=args.keep,
            port=args.port,
            html_path=args.html,
        )
    except OSError as error:
        print(
            f"replimend: error: cannot serve on 127.0.0.1:{args.port}: {error.strerror or error}",
            file=sys.stderr,
        )
        return EXIT_FAILED
