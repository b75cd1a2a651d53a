"""`replimend enroll` / `unenroll` against the embedded AWS: a bucket that already has notifications of
every kind keeps them; the queue policy is checked first; both commands are idempotent; --dry-run
changes nothing; unenroll restores the bucket as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from replimend.enrollment import METRICS_TAG, NOTIFICATION_ID, admit_statement
from replimend_cli import main
from replimend_local.demo.scenarios import (
    DESTINATION_REGION,
    SOURCE_REGION,
    Account,
    ScenarioNames,
    create_destination,
    create_role,
    create_source,
)
from replimend_local.embedded import EmbeddedAws


@dataclass
class World:
    aws: EmbeddedAws
    names: ScenarioNames
    queue_arn: str
    queue_url: str
    others: dict[str, Any]

    @property
    def s3(self) -> Any:
        return self.aws.client("s3", SOURCE_REGION)

    def state(self) -> dict[str, Any]:
        bucket = self.names.source_bucket
        notification = self.s3.get_bucket_notification_configuration(Bucket=bucket)
        notification.pop("ResponseMetadata", None)
        try:
            tags = self.s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
        except self.s3.exceptions.ClientError:
            tags = []
        return {
            "replication": self.s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"],
            "notification": notification,
            "tags": {t["Key"]: t["Value"] for t in tags},
        }

    def run(self, *argv: str) -> int:
        return main([*argv, "--bucket", self.names.source_bucket, "--region", SOURCE_REGION])


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with EmbeddedAws() as aws:
        sqs = aws.client("sqs", SOURCE_REGION)
        url = sqs.create_queue(QueueName="replimend-failures")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        account = Account(aws.account_id, arn, aws.client)
        names = ScenarioNames("enroll", aws.account_id)
        create_role(account, names, trusted=True, allow_replicate=True, kms=False)
        create_destination(account, names)
        create_source(account, names, object_lock=False)
        s3 = aws.client("s3", SOURCE_REGION)
        # an operator's own replication rule: metrics off, a tag they care about on the bucket
        s3.put_bucket_replication(
            Bucket=names.source_bucket,
            ReplicationConfiguration={
                "Role": names.role_arn,
                "Rules": [
                    {
                        "ID": "to-west",
                        "Priority": 1,
                        "Status": "Enabled",
                        "Filter": {"Prefix": ""},
                        "DeleteMarkerReplication": {"Status": "Disabled"},
                        "Destination": {
                            "Bucket": f"arn:aws:s3:::{names.destination_bucket}",
                            "StorageClass": "STANDARD_IA",
                        },
                    }
                ],
            },
        )
        s3.put_bucket_tagging(
            Bucket=names.source_bucket, Tagging={"TagSet": [{"Key": "team", "Value": "data"}]}
        )
        # and notifications of every kind, to other destinations
        topic = aws.client("sns", SOURCE_REGION).create_topic(Name="uploads")["TopicArn"]
        other_url = sqs.create_queue(QueueName="deletions")["QueueUrl"]
        other_queue = sqs.get_queue_attributes(QueueUrl=other_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        # S3 validates every destination when a configuration is saved: they exist and admit the bucket
        thumbs = _admitting_destinations(aws, names.source_bucket, topic, other_url, other_queue)
        others = {
            "TopicConfigurations": [{"Id": "uploads", "TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}],
            "QueueConfigurations": [
                {
                    "Id": "deletions",
                    "QueueArn": other_queue,
                    "Events": ["s3:ObjectRemoved:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "tmp/"}]}},
                }
            ],
            "LambdaFunctionConfigurations": [
                {
                    "Id": "thumbnails",
                    "LambdaFunctionArn": thumbs,
                    "Events": ["s3:ObjectCreated:Put"],
                }
            ],
            "EventBridgeConfiguration": {},
        }
        s3.put_bucket_notification_configuration(Bucket=names.source_bucket, NotificationConfiguration=others)
        yield World(aws, names, arn, url, others)


def _admitting_destinations(aws: EmbeddedAws, bucket: str, topic: str, queue_url: str, queue_arn: str) -> str:
    """Policies that let S3 send ``bucket``'s events to the topic and the queue, and a function S3 may
    invoke (grant-destinations-permissions-to-s3.html); returns the function's ARN."""
    import io
    import zipfile

    source = {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}}

    def policy(action: str, resource: str) -> str:
        statement = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": action,
                     "Resource": resource, "Condition": source}  # fmt: skip
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    aws.client("sns", SOURCE_REGION).set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=policy("SNS:Publish", topic)
    )
    aws.client("sqs", SOURCE_REGION).set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": policy("SQS:SendMessage", queue_arn)}
    )
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    role = aws.client("iam").create_role(RoleName="thumbs", AssumeRolePolicyDocument=json.dumps(trust))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    lam = aws.client("lambda", SOURCE_REGION)
    function = lam.create_function(
        FunctionName="thumbs", Runtime="python3.13", Role=role["Role"]["Arn"], Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]  # fmt: skip
    lam.add_permission(
        FunctionName="thumbs", StatementId="s3", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}",
    )  # fmt: skip
    return str(function)


def test_enroll_refuses_a_queue_that_does_not_admit_the_bucket_and_changes_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a queue without a policy
    before = world.state()
    # When enroll runs
    status = world.run("enroll", "--queue-arn", world.queue_arn)
    # Then it exits 1 with one line on stderr, prints the statement to add, and changes nothing
    out, err = capsys.readouterr()
    assert status == 1 and len(err.strip().splitlines()) == 1 and "has no queue policy" in err
    assert f"arn:aws:s3:::{world.names.source_bucket}" in out and "aws sqs set-queue-attributes" in out
    assert world.state() == before


def test_dry_run_prints_the_changes_and_makes_none(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    _admit(world)
    before = world.state()
    assert world.run("enroll", "--queue-arn", world.queue_arn, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would change: replication metrics enabled on rule(s) to-west" in out
    assert "PutBucketNotificationConfiguration" in out
    assert world.state() == before


def test_enroll_merges_keeps_everything_else_and_is_idempotent(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _admit(world)
    before = world.state()
    # When enroll runs
    status = world.run("enroll", "--queue-arn", world.queue_arn)
    out = capsys.readouterr().out
    # Then diagnosis (printed after) finds nothing failing
    assert status == 0, out
    assert "changed: replication metrics enabled on rule(s) to-west" in out
    assert "replication_metrics" in out and "failure_notification" in out
    after = world.state()
    # metrics on, every other setting of the rule kept
    (rule,) = after["replication"]["Rules"]
    assert rule["Destination"]["Metrics"]["Status"] == "Enabled"
    assert rule["Destination"]["StorageClass"] == "STANDARD_IA"
    # every other notification kept, ours added
    for kind in ("TopicConfigurations", "LambdaFunctionConfigurations"):
        assert after["notification"][kind] == before["notification"][kind]
    # (moto's GetBucketNotificationConfiguration omits EventBridgeConfiguration: the unit tests keep it)
    queues = {c["Id"]: c for c in after["notification"]["QueueConfigurations"]}
    assert queues["deletions"] == before["notification"]["QueueConfigurations"][0]
    assert queues[NOTIFICATION_ID]["QueueArn"] == world.queue_arn
    assert after["tags"]["team"] == "data" and METRICS_TAG in after["tags"]
    # And a second run changes nothing
    assert world.run("enroll", "--queue-arn", world.queue_arn) == 0
    assert "nothing to change" in capsys.readouterr().out
    assert world.state() == after


def test_unenroll_restores_the_bucket_and_is_idempotent(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the enrolled bucket (previous test) / When unenroll runs (dry run first)
    enrolled = world.state()
    assert world.run("unenroll", "--dry-run") == 0
    assert world.state() == enrolled
    assert world.run("unenroll") == 0
    # Then the bucket is as before enroll: metrics off, only the other notifications, only its tag
    after = world.state()
    (rule,) = after["replication"]["Rules"]
    assert rule["Destination"].get("Metrics", {}).get("Status", "Disabled") == "Disabled"
    assert rule["Destination"]["StorageClass"] == "STANDARD_IA"
    assert [c["Id"] for c in after["notification"]["QueueConfigurations"]] == ["deletions"]
    assert after["notification"]["TopicConfigurations"] == enrolled["notification"]["TopicConfigurations"]
    assert after["tags"] == {"team": "data"}
    capsys.readouterr()
    assert world.run("unenroll") == 0
    assert "nothing to change" in capsys.readouterr().out
    assert world.state() == after


def test_enroll_without_a_queue_is_a_usage_error(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPLIMEND_QUEUE_ARN", raising=False)
    monkeypatch.delenv("FAILURE_QUEUE_ARN", raising=False)
    with pytest.raises(SystemExit) as exit_:
        world.run("enroll")
    assert exit_.value.code == 2


def test_a_queue_in_another_region_is_refused(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = world.queue_arn.replace(SOURCE_REGION, DESTINATION_REGION)
    assert world.run("enroll", "--queue-arn", elsewhere) == 1
    assert "same Region" in capsys.readouterr().err


def _admit(world: World) -> None:
    statement = admit_statement(world.queue_arn, world.names.source_bucket, world.aws.account_id)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    world.aws.client("sqs", SOURCE_REGION).set_queue_attributes(
        QueueUrl=world.queue_url, Attributes={"Policy": policy}
    )


def test_the_queue_can_come_from_the_stack_outputs(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a deployed stack whose FailureQueueArn output names the queue
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"LedgerTableName": {"Value": "ledger"}, "FailureQueueArn": {"Value": world.queue_arn}},
    }
    cloudformation = world.aws.client("cloudformation", SOURCE_REGION)
    cloudformation.create_stack(StackName="replimend-test", TemplateBody=json.dumps(template))
    _admit(world)
    # When enroll is given the stack, Then it reads the queue from it (a dry run: nothing changes)
    assert world.run("enroll", "--stack", "replimend-test", "--dry-run") == 0
    assert world.queue_arn in capsys.readouterr().out
    # and a stack without that output is bad usage
    other = {"Resources": template["Resources"], "Outputs": {"LedgerTableName": {"Value": "ledger"}}}
    cloudformation.create_stack(StackName="other", TemplateBody=json.dumps(other))
    with pytest.raises(SystemExit) as exit_:
        world.run("enroll", "--stack", "other")
    assert exit_.value.code == 2


def test_a_missing_bucket_is_one_line_and_exit_1(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["enroll", "--bucket", "no-such-bucket-here", "--queue-arn", world.queue_arn])
    err = capsys.readouterr().err
    assert status == 1 and len(err.strip().splitlines()) == 1 and "NoSuchBucket" in err
