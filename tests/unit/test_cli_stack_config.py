"""replimend_cli.stack_config: --stack reads the stack's outputs and the remediate function's environment
(botocore Stubber: the requests and responses are checked against the service models)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from replimend.errors import AwsCallError, ConfigurationError
from replimend.settings import RemediationSettings
from replimend_cli.stack_config import add_stack_arguments, environment, load_stack, settings

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/replimend/0a1b2c3d"
OUTPUTS = {
    "LedgerTableName": "replimend-Ledger-ABC",
    "LedgerIndexShardCount": "16",
    "ManifestBucketName": "replimend-manifests",
    "ReportBucketName": "replimend-reports",
    "BatchOperationsRoleArn": "arn:aws:iam::123456789012:role/replimend-batch",
    "FailureQueueArn": "arn:aws:sqs:eu-west-1:123456789012:replimend-failures",
}
FUNCTION_ENV = {"LEDGER_TABLE": "replimend-Ledger-ABC", "LEDGER_INDEX_SHARDS": "32", "MAX_ATTEMPTS": "7"}


class Clients:
    """Stubbed clients by service, as a ClientFactory."""

    def __init__(self) -> None:
        self.clients = {
            service: boto3.client(service, region_name="eu-west-1")
            for service in ("cloudformation", "lambda")
        }
        self.stubs = {service: Stubber(client) for service, client in self.clients.items()}

    def __call__(self, service: str, region: str | None = None) -> Any:
        return self.clients[service]

    def stack(self, outputs: dict[str, str], name: str = "replimend") -> None:
        self.stubs["cloudformation"].add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": name,
                        "StackId": STACK_ID,
                        "CreationTime": "2026-01-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                    }
                ]
            },
            {"StackName": name},
        )

    def function(self, name: str, variables: dict[str, str]) -> None:
        self.stubs["lambda"].add_response(
            "get_function_configuration",
            {"FunctionName": name, "Environment": {"Variables": variables}},
            {"FunctionName": name},
        )


@pytest.fixture
def clients() -> Iterator[Clients]:
    stubbed = Clients()
    for stub in stubbed.stubs.values():
        stub.activate()
    yield stubbed
    for stub in stubbed.stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


def args_for(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_stack_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_functions_environment_wins_over_the_outputs(clients: Clients) -> None:
    # Given a stack whose remediate function reads 32 shards (its output, set at deploy, says 16)
    clients.stack({**OUTPUTS, "RemediateFunctionName": "replimend-Remediate-XYZ"})
    clients.function("replimend-Remediate-XYZ", FUNCTION_ENV)
    # When the stack is read
    stack = load_stack("replimend", clients)
    # Then the settings are what the function uses, and the account comes from the stack's ARN
    assert stack.environment["LEDGER_INDEX_SHARDS"] == "32"
    assert stack.environment["MANIFEST_BUCKET"] == "replimend-manifests"
    assert stack.environment["MAX_ATTEMPTS"] == "7"
    assert stack.environment["ACCOUNT_ID"] == "123456789012" and stack.region == "eu-west-1"


def test_a_stack_without_the_function_output_is_searched_for_the_function(clients: Clients) -> None:
    clients.stack(OUTPUTS)
    clients.stubs["cloudformation"].add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "RemediateFunction",
                    "PhysicalResourceId": "replimend-RemediateFunction-1",
                    "ResourceType": "AWS::Lambda::Function",
                    "LastUpdatedTimestamp": "2026-01-01T00:00:00Z",
                    "ResourceStatus": "CREATE_COMPLETE",
                }
            ]
        },
        {"StackName": "replimend"},
    )
    clients.function("replimend-RemediateFunction-1", {"LEDGER_INDEX_SHARDS": "8"})
    assert load_stack("replimend", clients).environment["LEDGER_INDEX_SHARDS"] == "8"


def test_settings_load_from_the_stack_alone(clients: Clients, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LEDGER_TABLE", "ACCOUNT_ID", "MANIFEST_BUCKET", "REPORT_BUCKET", "BATCH_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    clients.stack({**OUTPUTS, "RemediateFunctionName": "fn"})
    clients.function("fn", FUNCTION_ENV)
    loaded = settings(args_for("--stack", "replimend"), RemediationSettings, client=clients)
    assert (loaded.ledger_table, loaded.index_shards, loaded.max_attempts) == ("replimend-Ledger-ABC", 32, 7)
    assert loaded.batch_role_arn == OUTPUTS["BatchOperationsRoleArn"]


def test_a_stack_that_does_not_exist_is_a_configuration_error(clients: Clients) -> None:
    clients.stubs["cloudformation"].add_client_error(
        "describe_stacks", "ValidationError", "Stack with id nope does not exist", 400
    )
    with pytest.raises(ConfigurationError, match="stack 'nope' does not exist in eu-west-1"):
        load_stack("nope", clients)


def test_access_denied_is_an_aws_error_naming_the_call(clients: Clients) -> None:
    clients.stubs["cloudformation"].add_client_error("describe_stacks", "AccessDenied", "not allowed", 403)
    with pytest.raises(AwsCallError, match="DescribeStacks failed: AccessDenied"):
        load_stack("replimend", clients)


def test_a_stack_that_is_not_replimends_says_so(clients: Clients) -> None:
    clients.stack({"SomethingElse": "x"}, name="other")
    with pytest.raises(ConfigurationError, match="no LedgerTableName output"):
        load_stack("other", clients)


def test_stack_and_index_shards_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="--index-shards is read from the stack"):
        environment(args_for("--stack", "replimend", "--index-shards", "4"), client=Clients())


def test_stack_and_table_together_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        args_for("--stack", "replimend", "--table", "t")
    assert exited.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_without_stack_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_TABLE", "from-env")
    monkeypatch.setenv("LEDGER_INDEX_SHARDS", "4")
    assert environment(args_for())["LEDGER_TABLE"] == "from-env"
    env = environment(args_for("--table", "flag", "--index-shards", "8"))
    assert (env["LEDGER_TABLE"], env["LEDGER_INDEX_SHARDS"]) == ("flag", "8")
