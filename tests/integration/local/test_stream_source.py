"""LocalRuntime: DynamoDB stream events delivered as Lambda's stream event source mapping would."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from replimend_local.embedded import EmbeddedAws
from replimend_local.sam import LocalRuntime, TemplateError

# Reports the first record whose new image asks for it (once per `fail` count), records the rest.
HANDLER = textwrap.dedent(
    """
    SEEN = []

    def handler(event, context):
        SEEN.append([r["dynamodb"]["NewImage"]["pk"]["S"] for r in event["Records"]])
        for record in event["Records"]:
            if record["dynamodb"]["NewImage"].get("fail", {}).get("BOOL"):
                return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}
    """
)

TEMPLATE = textwrap.dedent(
    """
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Resources:
      Failures:
        Type: AWS::SQS::Queue
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          BillingMode: PAY_PER_REQUEST
          AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
          KeySchema: [{AttributeName: pk, KeyType: HASH}]
          StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      Reader:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.13
          CodeUri: fn
          Handler: app.handler
          Events:
            Stream:
              Type: DynamoDB
              Properties:
                Stream: !GetAtt Table.StreamArn
                StartingPosition: __POSITION__
                BatchSize: 3
                MaximumRetryAttempts: 2
                BisectBatchOnFunctionError: true
                FunctionResponseTypes: [ReportBatchItemFailures]
                DestinationConfig:
                  OnFailure: {Type: SQS, Destination: !GetAtt Failures.Arn}
    """
)


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(emulators=False) as embedded:
        yield embedded


def deploy(aws: EmbeddedAws, tmp_path: Path, position: str = "TRIM_HORIZON") -> LocalRuntime:
    aws.reset()
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "app.py").write_text(HANDLER, encoding="utf-8")
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE.replace("__POSITION__", position), encoding="utf-8")
    return LocalRuntime(path, stack_name=f"s{abs(hash((str(tmp_path), position))) % 10**6}")


def test_stream_records_arrive_in_order_and_a_reported_record_is_retried_then_sent_on(
    aws: EmbeddedAws, tmp_path: Path
) -> None:
    with deploy(aws, tmp_path) as runtime:
        table = boto3.resource("dynamodb").Table(runtime.physical_id("Table"))
        # Given seven writes, the fourth of which the function reports as failed every time
        for n in range(7):
            table.put_item(Item={"pk": f"k{n}", "fail": n == 3})
        # When the runtime drains its event sources
        runtime.drain()
        module = runtime.function("Reader").module
        assert module is not None
        batches: list[list[str]] = module.SEEN
        # Then batches hold BatchSize records in write order; the batch from the reported record is
        # retried MaximumRetryAttempts times, then sent to the on-failure queue, and the shard moves on
        assert batches == [["k0", "k1", "k2"], *[["k3", "k4", "k5"]] * 3, ["k6"]]
        sqs = boto3.client("sqs")
        (message,) = sqs.receive_message(QueueUrl=runtime.physical_id("Failures"), MaxNumberOfMessages=10)[
            "Messages"
        ]
        info = json.loads(message["Body"])["DDBStreamBatchInfo"]
        assert info["streamArn"] == runtime.attribute("Table", "StreamArn")
        assert info["batchSize"] == 3 and int(info["startSequenceNumber"]) < int(info["endSequenceNumber"])
        # And nothing is delivered again once drained
        before = len(batches)
        runtime.drain()
        assert len(module.SEEN) == before


def test_latest_starts_after_what_was_written_before_deployment_and_bad_positions_are_refused(
    aws: EmbeddedAws, tmp_path: Path
) -> None:
    with deploy(aws, tmp_path, "LATEST") as runtime:
        table = boto3.resource("dynamodb").Table(runtime.physical_id("Table"))
        # Given writes after the mapping was created (with the stack), before and after a drain
        table.put_item(Item={"pk": "early"})
        runtime.drain()
        table.put_item(Item={"pk": "late"})
        runtime.drain()
        # Then each is delivered once, in order
        module = runtime.function("Reader").module
        assert module is not None
        assert [key for batch in module.SEEN for key in batch] == ["early", "late"]
    with pytest.raises(TemplateError, match="StartingPosition"):
        (tmp_path / "bad").mkdir()
        deploy(aws, tmp_path / "bad", "AT_TIMESTAMP").__enter__()


def test_the_records_have_lambdas_stream_event_shape(aws: EmbeddedAws, tmp_path: Path) -> None:
    with deploy(aws, tmp_path) as runtime:
        boto3.resource("dynamodb").Table(runtime.physical_id("Table")).put_item(Item={"pk": "a"})
        captured: list[Any] = []
        runtime.invoke("Reader", {"Records": [{"dynamodb": {"NewImage": {"pk": {"S": "warm"}}}}]})
        module = runtime.function("Reader").module
        assert module is not None
        original = module.handler
        module.handler = lambda event, context: captured.append(event) or original(event, context)
        runtime.drain()
        (record,) = captured[0]["Records"]
        assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb"
        assert record["eventSourceARN"] == runtime.attribute("Table", "StreamArn")
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert record["dynamodb"]["Keys"] == {"pk": {"S": "a"}} and record["dynamodb"]["SequenceNumber"]


def test_a_raising_handler_has_its_batch_split_before_the_retries_count(
    aws: EmbeddedAws, tmp_path: Path
) -> None:
    with deploy(aws, tmp_path) as runtime:
        table = boto3.resource("dynamodb").Table(runtime.physical_id("Table"))
        runtime.invoke("Reader", {"Records": []})  # load the module
        module = runtime.function("Reader").module
        assert module is not None
        seen: list[list[str]] = []

        def raising(event: dict[str, Any], context: Any) -> Any:
            keys = [r["dynamodb"]["NewImage"]["pk"]["S"] for r in event["Records"]]
            seen.append(keys)
            if "boom" in keys:
                raise RuntimeError("boom")
            return {"batchItemFailures": []}

        module.handler = raising
        # Given a poison record between two good ones
        for key in ("a", "boom", "c"):
            table.put_item(Item={"pk": key})
        # When the runtime drains the stream
        runtime.drain()
        # Then the failed batch is split (no retry used) until the poison record is alone, which is
        # tried 1 + MaximumRetryAttempts times, then sent to the on-failure queue; the others arrive
        assert seen[0] == ["a", "boom", "c"]
        assert ["a"] in seen and seen.count(["boom"]) == 3 and seen[-1] == ["c"]
        failures = boto3.client("sqs").receive_message(QueueUrl=runtime.physical_id("Failures"))["Messages"]
        assert json.loads(failures[0]["Body"])["DDBStreamBatchInfo"]["batchSize"] == 1
        assert [i.ok for i in runtime.invocations if i.function_id == "Reader"].count(False) == len(
            [keys for keys in seen if "boom" in keys]
        )
