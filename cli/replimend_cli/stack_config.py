"""Where a command finds replimend's resources: ``--stack NAME``, or ``--table`` and the environment.

With ``--stack`` everything comes from the deployed stack, so nothing can disagree with what the
functions use: the stack's outputs (DescribeStacks) name the table, buckets, role, queue and topic,
and the remediate function's own environment (GetFunctionConfiguration) adds the rest — above all
``LEDGER_INDEX_SHARDS``, which a reader must not get wrong (too few shards read too few rows).
Without ``--stack``, ``--table``/``--index-shards`` and then the functions' environment variable
names (``LEDGER_TABLE``, ``MANIFEST_BUCKET``, ...) are read from the process environment.

A command adopts it with ``add_stack_arguments(parser)`` (``ledger=False`` for a command that
reads AWS resources but not the ledger) and reads its settings with ``environment(args)``,
``settings(args, Model)`` or ``open_ledger(args)``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from replimend.aws.errors import error_code
from replimend.errors import AwsCallError, ConfigurationError

#: Stack output -> the environment variable the functions read it from (template.yaml Outputs).
OUTPUT_VARIABLES = {
    "LedgerTableName": "LEDGER_TABLE",
    "LedgerIndexShardCount": "LEDGER_INDEX_SHARDS",
    "ManifestBucketName": "MANIFEST_BUCKET",
    "ReportBucketName": "REPORT_BUCKET",
    "BatchOperationsRoleArn": "BATCH_ROLE_ARN",
    "FailureQueueArn": "FAILURE_QUEUE_ARN",
    "AlertTopicArn": "ALERT_TOPIC_ARN",
}
#: The output naming the function whose environment has every setting (remediate's is a superset).
FUNCTION_OUTPUT = "RemediateFunctionName"
FUNCTION_LOGICAL_ID = "RemediateFunction"
DEFAULT_INDEX_SHARDS = 16

ClientFactory = Callable[..., Any]  # client("cloudformation") -> a boto3 client


@dataclass(frozen=True)
class StackConfig:
    """What a deployed replimend stack says about itself."""

    name: str
    region: str | None
    account_id: str | None
    outputs: Mapping[str, str]
    #: the function's environment variables over the outputs' (the functions' view wins)
    environment: Mapping[str, str] = field(default_factory=dict)


def add_stack_arguments(parser: argparse.ArgumentParser, *, ledger: bool = True) -> None:
    """``--stack NAME``, and for ledger readers its alternatives ``--table`` and ``--index-shards``."""
    if not ledger:
        parser.add_argument("--stack", help="replimend's CloudFormation stack: read its resources from it")
        return
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--stack",
        help="replimend's CloudFormation stack: the table, its index shards, buckets and roles come from it",
    )
    which.add_argument("--table", help="ledger table name (default: $LEDGER_TABLE)")
    parser.add_argument(
        "--index-shards",
        type=positive_int,
        help="ledger index shards, without --stack "
        f"(default: $LEDGER_INDEX_SHARDS or {DEFAULT_INDEX_SHARDS})",
    )


def environment(args: argparse.Namespace, *, client: ClientFactory | None = None) -> dict[str, str]:
    """The variables the functions' settings read, for this command: the process environment, then
    the stack's (with --stack), then --table/--index-shards."""
    env = dict(os.environ)
    stack = getattr(args, "stack", None)
    if stack is not None:
        if getattr(args, "index_shards", None):
            raise ConfigurationError("--index-shards is read from the stack with --stack: drop one of them")
        env.update(stack_config(args, client=client).environment)
    if getattr(args, "table", None):
        env["LEDGER_TABLE"] = args.table
    if getattr(args, "index_shards", None):
        env["LEDGER_INDEX_SHARDS"] = str(args.index_shards)
    return env


def settings(args: argparse.Namespace, model: Any, *, client: ClientFactory | None = None) -> Any:
    """``model`` (a replimend.settings model) loaded from ``environment(args)``."""
    from replimend.settings import load_settings

    env = environment(args, client=client)
    try:
        return load_settings(model, env)
    except ConfigurationError as exc:
        where = f"stack {args.stack}" if getattr(args, "stack", None) else "--stack or the environment"
        raise ConfigurationError(f"{exc} (from {where})") from exc


def open_ledger(args: argparse.Namespace, *, client: ClientFactory | None = None) -> Any:
    """The Ledger this command reads. Its index shard count comes from the stack, or — from flags or
    the environment — is checked against the counts the ledger's writers recorded."""
    import boto3

    from replimend.ledger import Ledger

    env = environment(args, client=client)
    table = env.get("LEDGER_TABLE")
    if not table:
        raise ConfigurationError("no ledger table: pass --stack NAME or --table NAME, or set LEDGER_TABLE")
    shards = _shards(env.get("LEDGER_INDEX_SHARDS"))
    ledger = Ledger(boto3.resource("dynamodb").Table(table), index_shards=shards)
    if getattr(args, "stack", None) is None:
        check_index_shards(ledger, shards)
    return ledger


def stack_config(args: argparse.Namespace, *, client: ClientFactory | None = None) -> StackConfig:
    """The stack --stack names, read once per command."""
    cached = getattr(args, "_stack_config", None)
    if cached is None:
        cached = load_stack(args.stack, client or _default_client)
        args._stack_config = cached
    return cached


def load_stack(name: str, client: ClientFactory) -> StackConfig:
    """Read a replimend stack; ConfigurationError when there is none by that name or it is not one."""
    if not name.strip():
        raise ConfigurationError("--stack needs a stack name")
    cloudformation = client("cloudformation")
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        # "If the stack doesn't exist, a ValidationError is returned." (CloudFormation API Reference,
        # DescribeStacks); a malformed name is a ValidationError too: both are the user's to fix.
        if error_code(exc) == "ValidationError":
            region = getattr(cloudformation.meta, "region_name", None)
            raise ConfigurationError(
                f"stack {name!r} does not exist in {region or 'this Region'} ({_message(exc)})"
            ) from exc
        raise AwsCallError("cloudformation DescribeStacks", error_code(exc), _message(exc)) from exc
    stack = stacks[0]
    outputs = {str(o["OutputKey"]): str(o.get("OutputValue", "")) for o in stack.get("Outputs", [])}
    if "LedgerTableName" not in outputs:
        raise ConfigurationError(
            f"stack {name!r} has no LedgerTableName output (status {stack.get('StackStatus')}): "
            "not a replimend stack, or not deployed yet"
        )
    env = {variable: outputs[key] for key, variable in OUTPUT_VARIABLES.items() if outputs.get(key)}
    stack_id = str(stack.get("StackId", ""))
    account_id = _arn_part(stack_id, 4)
    if account_id:
        env["ACCOUNT_ID"] = account_id
    function = outputs.get(FUNCTION_OUTPUT) or _function_of(cloudformation, name)
    if function:
        env.update(_function_environment(client("lambda"), function))
    return StackConfig(
        name=name, region=_arn_part(stack_id, 3), account_id=account_id, outputs=outputs, environment=env
    )


def _function_of(cloudformation: Any, stack: str) -> str | None:
    """The remediate function's name, for a stack deployed before it had its own output."""
    # ListStackResources: PhysicalResourceId of AWS::Lambda::Function is the function name
    # (CloudFormation API Reference, ListStackResources; AWS::Lambda::Function Ref).
    for summary in _paged(cloudformation, "list_stack_resources", "StackResourceSummaries", StackName=stack):
        if (
            summary.get("LogicalResourceId") == FUNCTION_LOGICAL_ID
            and summary.get("ResourceType") == "AWS::Lambda::Function"
        ):
            return str(summary.get("PhysicalResourceId") or "") or None
    return None


def _function_environment(lambda_client: Any, function: str) -> dict[str, str]:
    # GetFunctionConfiguration returns Environment.Variables, the function's variables
    # (Lambda API Reference, GetFunctionConfiguration / EnvironmentResponse).
    try:
        configuration = lambda_client.get_function_configuration(FunctionName=function)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise ConfigurationError(f"the stack's function {function} does not exist") from exc
        raise AwsCallError("lambda GetFunctionConfiguration", error_code(exc), _message(exc)) from exc
    variables = (configuration.get("Environment") or {}).get("Variables") or {}
    return {str(name): str(value) for name, value in variables.items()}


def _paged(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    try:
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    except ClientError as exc:
        raise AwsCallError(f"cloudformation {operation}", error_code(exc), _message(exc)) from exc


def check_index_shards(ledger: Any, shards: int) -> None:
    """A reader with fewer shards than a writer used misses rows silently: refuse instead (with
    --stack the count is the functions' own and needs no check)."""
    recorded = ledger.recorded_index_shards()
    if recorded is not None and recorded > shards:
        raise ConfigurationError(
            f"index shards {shards} is less than the {recorded} the ledger's writers use, so rows would be "
            f"missed: pass --index-shards {recorded} or --stack NAME"
        )


def _shards(raw: str | None) -> int:
    if not raw:
        return DEFAULT_INDEX_SHARDS
    try:
        return positive_int(raw)
    except argparse.ArgumentTypeError as exc:
        raise ConfigurationError(f"LEDGER_INDEX_SHARDS: {exc}") from exc


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _default_client(service: str) -> Any:
    import boto3

    return boto3.client(service)  # type: ignore[call-overload]


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


def _arn_part(arn: str, index: int) -> str | None:
    parts = arn.split(":")
    return parts[index] or None if arn.startswith("arn:") and len(parts) > index else None
