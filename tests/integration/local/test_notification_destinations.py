"""The embedded S3 checks notification destinations when a configuration is saved, as S3 does
(PutBucketNotificationConfiguration: "it first verifies that any ... destination exists, and that the
bucket owner has permission to publish to it"): in process (botocore hooks) and on the wire (the
gateway, for the AWS CLI or boto3 in another process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError

from replimend_local import gateway
from replimend_local.embedded import EmbeddedAws

BUCKET = "enrolled-src"
OTHER_BUCKET = "someone-elses-src"


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws() as embedded:
        yield embedded


@pytest.fixture
def s3(aws: EmbeddedAws) -> Any:
    aws.reset()
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def queue(aws: EmbeddedAws, name: str, admits: tuple[str, str] | None = None) -> str:
    """A queue's ARN; ``admits``: (bucket ARN, account) its policy lets S3 send from."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
    if admits is not None:
        policy = json.dumps(s3_may_send(arn, *admits))
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    return arn


def s3_may_send(queue_arn: str, bucket_arn: str, account: str) -> dict[str, Any]:
    """AWS's queue policy for S3 event notifications (grant-destinations-permissions-to-s3)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": bucket_arn},
                    "StringEquals": {"aws:SourceAccount": account},
                },
            }
        ],
    }


def notification(queue_arn: str) -> dict[str, Any]:
    return {
        "QueueConfigurations": [
            {
                "Id": "replimend",
                "QueueArn": queue_arn,
                "Events": ["s3:Replication:OperationFailedReplication"],
            }
        ]
    }


def saved_queues(s3: Any) -> list[str]:
    configuration = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    return [entry["QueueArn"] for entry in configuration.get("QueueConfigurations", [])]


def assert_refused(error: pytest.ExceptionInfo[ClientError], queue_arn: str) -> None:
    assert error.value.response["Error"]["Code"] == "InvalidArgument"
    assert (
        error.value.response["Error"]["Message"]
        == "Unable to validate the following destination configurations"
    )
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.value.response["Error"]["ArgumentName1"] == queue_arn


def test_a_queue_whose_policy_admits_the_bucket_is_accepted(aws: EmbeddedAws, s3: Any) -> None:
    # Given the queue policy AWS documents, naming this bucket and account
    arn = queue(aws, "failures", (f"arn:aws:s3:::{BUCKET}", aws.account_id))
    # When the bucket's notification configuration is saved
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=notification(arn))
    # Then S3 keeps it
    assert saved_queues(s3) == [arn]


def test_a_queue_without_a_policy_is_refused_and_nothing_is_saved(aws: EmbeddedAws, s3: Any) -> None:
    arn = queue(aws, "no-policy")
    with pytest.raises(ClientError) as error:
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=notification(arn))
    assert_refused(error, arn)
    assert error.value.response["Error"]["ArgumentValue1"].startswith("Permissions on the destination queue")
    assert saved_queues(s3) == []


def test_a_policy_for_another_bucket_or_account_is_refused(aws: EmbeddedAws, s3: Any) -> None:
    other_bucket = queue(aws, "other-bucket", (f"arn:aws:s3:::{OTHER_BUCKET}", aws.account_id))
    with pytest.raises(ClientError) as error:
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration=notification(other_bucket)
        )
    assert_refused(error, other_bucket)
    other_account = queue(aws, "other-account", (f"arn:aws:s3:::{BUCKET}", "210987654321"))
    with pytest.raises(ClientError) as error:
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration=notification(other_account)
        )
    assert_refused(error, other_account)
    assert saved_queues(s3) == []


def test_a_queue_that_does_not_exist_is_refused(aws: EmbeddedAws, s3: Any) -> None:
    arn = f"arn:aws:sqs:{aws.region}:{aws.account_id}:never-created"
    with pytest.raises(ClientError) as error:
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=notification(arn))
    assert_refused(error, arn)
    assert error.value.response["Error"]["ArgumentValue1"] == "The destination queue does not exist"


def test_skip_destination_validation_saves_it_unchecked(aws: EmbeddedAws, s3: Any) -> None:
    arn = queue(aws, "unchecked")
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration=notification(arn), SkipDestinationValidation=True
    )
    assert saved_queues(s3) == [arn]


def test_a_topic_needs_a_policy_that_admits_the_bucket(aws: EmbeddedAws, s3: Any) -> None:
    sns = aws.client("sns")
    topic = sns.create_topic(Name="failures")["TopicArn"]
    configuration = {"TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:Replication:*"]}]}
    # SNS's default topic policy admits the topic owner's account only, not S3
    with pytest.raises(ClientError) as error:
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=configuration)
    assert error.value.response["Error"]["Code"] == "InvalidArgument"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": topic,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{BUCKET}"}},
            }
        ],
    }
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=configuration)
    saved = s3.get_bucket_notification_configuration(Bucket=BUCKET)["TopicConfigurations"]
    assert [entry["TopicArn"] for entry in saved] == [topic]


def wire_client(aws: EmbeddedAws) -> Any:
    """An S3 client whose requests reach the gateway as another process's would (no hooks, no marker)."""
    core = botocore.session.Session()
    core.unregister("before-send", gateway._mark)
    for hook in aws._hooks:
        core.unregister(hook.event_name, hook.registered_handler())
    return boto3.Session(botocore_session=core, region_name=aws.region).client(
        "s3", endpoint_url=aws.endpoint_url
    )


def test_the_gateway_refuses_the_same_configurations_on_the_wire(aws: EmbeddedAws, s3: Any) -> None:
    client = wire_client(aws)
    missing = f"arn:aws:sqs:{aws.region}:{aws.account_id}:never-created"
    with pytest.raises(ClientError) as error:
        client.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration=notification(missing)
        )
    assert_refused(error, missing)
    assert error.value.response["Error"]["ArgumentValue1"] == "The destination queue does not exist"
    assert saved_queues(s3) == []
    # the header SkipDestinationValidation sends turns the check off on the wire too
    client.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration=notification(missing), SkipDestinationValidation=True
    )
    assert saved_queues(s3) == [missing]
    # and a queue that admits the bucket is accepted
    arn = queue(aws, "wire", (f"arn:aws:s3:::{BUCKET}", aws.account_id))
    client.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=notification(arn))
    assert saved_queues(s3) == [arn]


def test_a_function_needs_a_permission_for_the_bucket(aws: EmbeddedAws, s3: Any) -> None:
    import io
    import zipfile

    iam, lam = aws.client("iam"), aws.client("lambda")
    role = iam.create_role(
        RoleName="fn",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    function = lam.create_function(
        FunctionName="on-failure", Runtime="python3.13", Role=role, Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]  # fmt: skip
    configuration = {
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": function, "Events": ["s3:Replication:*"]}]
    }
    # Without a resource policy S3 may not invoke it
    with pytest.raises(ClientError) as error:
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=configuration)
    assert error.value.response["Error"]["ArgumentName1"] == function
    # With the permission the Lambda console adds for S3 (source ARN and account), it is accepted
    lam.add_permission(
        FunctionName="on-failure", StatementId="s3", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{BUCKET}", SourceAccount=aws.account_id,
    )  # fmt: skip
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=configuration)
    saved = s3.get_bucket_notification_configuration(Bucket=BUCKET)["LambdaFunctionConfigurations"]
    assert [entry["LambdaFunctionArn"] for entry in saved] == [function]


def enrolled_bucket_template(*, with_queue_policy: bool) -> dict[str, Any]:
    """A queue and a bucket whose notification sends to it; the queue policy first (DependsOn), or none."""
    bucket: dict[str, Any] = {
        "Type": "AWS::S3::Bucket",
        "Properties": {
            "BucketName": "template-enrolled-src",
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    {"Event": "s3:Replication:*", "Queue": {"Fn::GetAtt": ["Queue", "Arn"]}}
                ]
            },
        },
    }
    resources: dict[str, Any] = {"Queue": {"Type": "AWS::SQS::Queue"}, "Bucket": bucket}
    if with_queue_policy:
        bucket["DependsOn"] = "QueuePolicy"
        resources["QueuePolicy"] = {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "Queue"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::template-enrolled-src"}},
                        }
                    ],
                },
            },
        }
    return {"Resources": resources}


def test_a_template_orders_the_queue_policy_before_the_notification(aws: EmbeddedAws, s3: Any) -> None:
    from replimend_local.sam import LocalRuntime, TemplateError

    # Without a queue policy the deployment fails on the bucket, as CloudFormation would
    with pytest.raises(TemplateError, match="Unable to validate the following destination configurations"):
        LocalRuntime(enrolled_bucket_template(with_queue_policy=False), stack_name="unordered").deploy()
    aws.reset()
    # With the policy created first, the notification is saved
    runtime = LocalRuntime(enrolled_bucket_template(with_queue_policy=True), stack_name="ordered")
    runtime.deploy()
    saved = s3.get_bucket_notification_configuration(Bucket="template-enrolled-src")["QueueConfigurations"]
    assert [entry["QueueArn"] for entry in saved] == [runtime.attribute("Queue", "Arn")]
