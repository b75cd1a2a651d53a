"""The `replimend` command. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# module name -> it defines `register(subparsers)`; each added parser sets `func(args) -> int`.
SUBCOMMAND_MODULES = (
    "replimend_cli.classify_cmd",
    "replimend_cli.ledger_cmds",
    "replimend_cli.remediation_cmds",
    "replimend_cli.demo_cmd",
    "replimend_cli.local_cmd",
)


class UsageError(Exception):
    """Bad command-line input: printed as `replimend: error: ...`, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="replimend",
        description="Mend Amazon S3 replication failures: classify, record, re-drive, audit.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        parser.error(str(exc))  # exits 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
