"""The `replimend` command. Each subcommand lives in its own module and registers itself here.

Exit status, for every command: 0 done; 1 the command ran and found a problem (an AWS call failed,
input it could not parse, a diagnosis check that FAILs); 2 bad usage or configuration (arguments,
a missing region, credentials or profile); 130 interrupted. An error is one line on stderr, never
a traceback. Every command takes ``--profile`` and ``--region`` (``AWS_REGION`` and
``AWS_DEFAULT_REGION`` are honoured, as by the AWS CLI).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from importlib import metadata

# module name -> it defines `register(subparsers)`; each added parser sets `func(args) -> int`.
SUBCOMMAND_MODULES = (
    "replimend_cli.classify_cmd",
    "replimend_cli.ledger_cmds",
    "replimend_cli.report_cmd",
    "replimend_cli.remediation_cmds",
    "replimend_cli.diagnose_cmd",
    "replimend_cli.demo_cmd",
    "replimend_cli.local_cmd",
)


class UsageError(Exception):
    """Bad command-line input: printed as `replimend: error: ...`, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="replimend",
        description="Mend Amazon S3 replication failures: classify, record, re-drive, audit.",
        epilog="Exit status: 0 done; 1 the command found a problem; 2 bad usage or configuration; "
        "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"replimend {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for command in _leaf_parsers(parser):
        _add_aws_options(command)
    return parser


def _version() -> str:
    try:
        return metadata.version("replimend")
    except metadata.PackageNotFoundError:
        from replimend import __version__

        return __version__


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser that runs a command (``incident fixed`` as well as ``history``)."""
    leaves = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                leaves += _leaf_parsers(child) or [child]
    return leaves


def _add_aws_options(parser: argparse.ArgumentParser) -> None:
    known = {option for action in parser._actions for option in action.option_strings}
    if "--profile" not in known:
        parser.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    if "--region" not in known:
        parser.add_argument(
            "--region", help="AWS Region (default: $AWS_REGION, $AWS_DEFAULT_REGION, the profile's)"
        )


def configure_aws(args: argparse.Namespace) -> None:
    """The default boto3 session every adapter uses: the profile and Region the user asked for."""
    import boto3

    region = (
        getattr(args, "region", None) or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    profile = getattr(args, "profile", None)
    if profile or region:
        boto3.setup_default_session(profile_name=profile, region_name=region)


#: botocore errors that mean the user's AWS setup is wrong (exit 2), by class name.
_CONFIGURATION_ERRORS = frozenset(
    {
        "NoRegionError",
        "NoCredentialsError",
        "PartialCredentialsError",
        "ProfileNotFound",
        "InvalidConfigError",
        "CredentialRetrievalError",
        "UnauthorizedSSOTokenError",
        "TokenRetrievalError",
    }
)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        configure_aws(args)
        return int(args.func(args))
    except UsageError as exc:
        parser.error(str(exc))  # exits 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from replimend.errors import ConfigurationError, ReplimendError

        name = type(exc).__name__
        if name in _CONFIGURATION_ERRORS or isinstance(exc, ConfigurationError):
            sys.stderr.write(f"replimend: error: {_one_line(exc)}\n")
            return 2
        if isinstance(exc, ReplimendError) or type(exc).__module__.startswith(("botocore", "boto3")):
            sys.stderr.write(f"replimend: error: {name}: {_one_line(exc)}\n")
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
