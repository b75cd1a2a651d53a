"""`replimend demo`: the pipeline end to end on an embedded AWS (a development tool).

The embedded AWS lives in ``replimend_local``, which the development install provides and the Lambda
layer never ships: it is imported only when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from replimend.cli import UsageError


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
        "--detect-only",
        action="store_true",
        help="stop after the failures are recorded and explained (no fixes, no remediation)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from replimend_local.demo import run_demo
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith(("replimend_local", "moto")):
            raise
        raise UsageError(
            f"the demo needs the development install ({exc.name} is missing): run `make setup` or "
            "`pip install -e '.[dev]'` from a clone of the repository"
        ) from exc
    return run_demo(args.report, remediation=False if args.detect_only else None)
