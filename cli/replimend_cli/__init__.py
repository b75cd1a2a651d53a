"""The `replimend` command. Each subcommand lives in its own module and registers itself here.

One way for every command (see ``EPILOG``): ``--profile``/``--region`` (``AWS_REGION`` and
``AWS_DEFAULT_REGION`` honoured, as by the AWS CLI); ``--stack NAME`` or ``--table`` where it reads
replimend's resources (replimend_cli.stack_config); ``--output table|json|csv`` (replimend_cli.output);
data on stdout, everything else on stderr; an error is one line on stderr, never a traceback, with
the exit status below.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from importlib import metadata

# module name -> it defines `register(subparsers)`; each added parser sets `func(args) -> int`, and
# `needs_aws=False` when it reads no AWS account (else it takes --stack; test_cli_every_command.py).
SUBCOMMAND_MODULES = (
    "replimend_cli.classify_cmd",
    "replimend_cli.ledger_cmds",
    "replimend_cli.report_cmd",
    "replimend_cli.remediation_cmds",
    "replimend_cli.backfill_cmds",
    "replimend_cli.diagnose_cmd",
    "replimend_cli.enroll_cmd",
    "replimend_cli.demo_cmd",
    "replimend_cli.local_cmd",
    "replimend_cli.api_cmd",
)


EXIT_OK, EXIT_FAILED, EXIT_CONFIGURATION, EXIT_INTERRUPTED = 0, 1, 2, 130

EPILOG = """\
AWS: every command that reads AWS takes --profile and --region ($AWS_REGION, $AWS_DEFAULT_REGION and
the profile's Region are honoured), and either --stack NAME (the table, its index shards, buckets and
roles are read from the deployed stack) or --table NAME ($LEDGER_TABLE and the functions' other
variables are the fallback).
Output: --output table|json|csv (json is JSON Lines; --json is --output json). Data goes to stdout,
logs and notes to stderr; an empty result prints nothing and says so on stderr.
Exit status:
  0    done (also when nothing was found)
  1    the command ran and found a problem: an AWS call failed (access denied, throttling, a table or
       bucket that does not exist), input it could not parse, a diagnosis check that FAILs
  2    bad usage or configuration: arguments; no Region; no, partial or expired credentials; an
       unknown profile; a stack that does not exist or is not replimend's; no ledger table named;
       fewer --index-shards than the ledger's writers use
  130  interrupted
Every error is one line on stderr ("replimend: error: ..."); REPLIMEND_DEBUG=1 adds the traceback of
an unexpected one."""


class UsageError(Exception):
    """Bad command-line input: one line `replimend: error: ...`, exit status 2 (SystemExit, like argparse)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="replimend",
        description="Mend Amazon S3 replication failures: classify, record, re-drive, audit.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    """The default boto3 session every adapter uses: the profile and Region the user asked for.

    A command that reads AWS (every leaf but those that set ``needs_aws=False``) needs a Region:
    --region, $AWS_REGION, $AWS_DEFAULT_REGION or the profile's; none is a configuration error here,
    before any client guesses one. ``args.region`` is then the Region resolved.
    """
    if getattr(args, "needs_aws", True) is False:
        return
    import boto3

    from replimend.errors import ConfigurationError

    profile = getattr(args, "profile", None)
    region = (
        getattr(args, "region", None) or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    session = boto3.Session(profile_name=profile, region_name=region)  # ProfileNotFound: exit 2
    if not session.region_name:
        raise ConfigurationError("no AWS Region: pass --region, set AWS_REGION, or give the profile a region")
    boto3.setup_default_session(profile_name=profile, region_name=session.region_name)
    args.region = session.region_name


#: botocore errors that mean the user's AWS setup is wrong (exit 2), by class name: what to say first.
_CONFIGURATION_ERRORS = {
    "NoRegionError": "no AWS Region",
    "NoCredentialsError": "no AWS credentials (environment, profile, ~/.aws, SSO or instance role)",
    "PartialCredentialsError": "incomplete AWS credentials",
    "ProfileNotFound": "unknown AWS profile",
    "InvalidConfigError": "invalid AWS configuration",
    "CredentialRetrievalError": "AWS credentials could not be retrieved",
    "UnauthorizedSSOTokenError": "AWS SSO session expired or missing",
    "TokenRetrievalError": "AWS SSO token could not be retrieved",
    "SSOTokenLoadError": "AWS SSO token could not be loaded",
}
#: AWS error codes that mean the credentials themselves are bad (exit 2): "Common Errors"
#: (docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html) lists ExpiredTokenException
#: and UnrecognizedClientException; the query APIs' (IAM, STS, S3) spell them ExpiredToken and
#: InvalidClientTokenId.
_CREDENTIAL_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"}
)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _error(message: str, status: int) -> int:
    sys.stderr.write(f"replimend: error: {message}\n")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        configure_aws(args)
        from replimend_cli.output import logs_to_stderr

        logs_to_stderr()
        return int(args.func(args))
    except UsageError as exc:
        parser.exit(EXIT_CONFIGURATION, f"replimend: error: {exc}\n")  # one line, as argparse's own exit
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly; Python's docs' "Note on SIGPIPE" pattern
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        return _report(exc)
    return EXIT_OK


def _report(exc: Exception) -> int:
    """One line for any error, and the exit status it means."""
    from replimend.errors import AwsCallError, ConfigurationError, ReplimendError

    name = type(exc).__name__
    if name in _CONFIGURATION_ERRORS:
        return _error(f"{_CONFIGURATION_ERRORS[name]}: {_one_line(exc)}", EXIT_CONFIGURATION)
    if isinstance(exc, ConfigurationError):
        return _error(_one_line(exc), EXIT_CONFIGURATION)
    code = exc.code if isinstance(exc, AwsCallError) else _client_error_code(exc)
    if code in _CREDENTIAL_CODES:
        return _error(f"the AWS credentials were refused: {_one_line(exc)}", EXIT_CONFIGURATION)
    if isinstance(exc, ReplimendError) or type(exc).__module__.startswith(("botocore", "boto3")):
        return _error(f"{name}: {_one_line(exc)}", EXIT_FAILED)
    if os.environ.get("REPLIMEND_DEBUG"):
        raise exc
    return _error(f"unexpected {name}: {_one_line(exc)} (REPLIMEND_DEBUG=1 shows where)", EXIT_FAILED)


def _client_error_code(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    from replimend.aws.errors import error_code

    return error_code(exc) if isinstance(exc, ClientError) else ""


if __name__ == "__main__":
    sys.exit(main())
