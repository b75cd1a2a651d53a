"""`replimend report --html FILE [--since DATE] [--until DATE]`: the audit report as one HTML file.

The report (replimend_cli.report) reads the ledger through its facade, without a table scan; this
module only parses the options and writes the file (atomically: a failed run leaves any earlier
report in place). A bare date for --until means the end of that day.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from replimend_cli import EXIT_FAILED, EXIT_OK, UsageError
from replimend_cli.ledger_cmds import iso_time
from replimend_cli.stack_config import add_stack_arguments, open_ledger


def register(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report",
        help="the audit report: one self-contained HTML file with charts",
        description="Write the audit report of a period (default: the last 30 days) to FILE: summary "
        "figures, failures over time by reason, time to repair, open incidents with their failing checks "
        "and fixes, objects given up, and RTC threshold misses. The file loads nothing from the network.",
    )
    report.add_argument("--html", required=True, metavar="FILE", type=Path, help="where to write the report")
    report.add_argument("--since", type=_since, help="from this date or time (ISO 8601, UTC if no offset)")
    report.add_argument("--until", type=_until, help="up to this date (its end) or time (default: now)")
    add_stack_arguments(report)
    report.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from replimend_cli.report import build_report, render_html

    if args.since and args.until and args.since > args.until:
        raise UsageError(f"--since {args.since.isoformat()} is after --until {args.until.isoformat()}")
    target: Path = args.html
    if not target.parent.is_dir():
        raise UsageError(f"--html {target}: directory {target.parent} does not exist")
    ledger = open_ledger(args)
    page = render_html(build_report(ledger, since=args.since, until=args.until))  # errors: main()
    try:
        write_atomically(target, page)
    except OSError as exc:
        print(f"replimend: error: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"report written to {target}", file=sys.stderr)
    return EXIT_OK


def write_atomically(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a temporary file in the same directory, then rename."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _since(text: str) -> datetime:
    return iso_time(text)


def _until(text: str) -> datetime:
    at = iso_time(text)
    is_date = len(text.strip()) == 10  # YYYY-MM-DD: the whole day
    return at + timedelta(days=1) - timedelta(microseconds=1) if is_date else at
