"""This process's calls reach moto's WSGI app without a socket (in_process.py), and get what the same
calls get over HTTP: the same bodies, headers, errors and emulators."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session

from replimend_local.embedded import EmbeddedAws

# (a key with a newline is left out: moto's URL routes answer it 404 on either transport)
ODD_KEYS = [
    "plain.txt",
    "a b/c+d%2Fe.bin",
    "ü/日本/é.txt",
    "comma,quote\"apostrophe'.csv",
    "k" * 1024,
]


def _exercise(aws: EmbeddedAws) -> dict[str, Any]:
    """Calls whose answers must not depend on the transport; returns what was observed."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="transport-bucket")
    observed: dict[str, Any] = {}
    for key in ODD_KEYS:
        s3.put_object(
            Bucket="transport-bucket", Key=key, Body=key.encode() * 3, Metadata={"with_underscore": "1"}
        )
        got = s3.get_object(Bucket="transport-bucket", Key=key)
        observed[key] = (got["Body"].read(), got["Metadata"], got["ContentLength"])
    listed = s3.list_objects_v2(Bucket="transport-bucket")
    observed["listing"] = sorted(o["Key"] for o in listed["Contents"])
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket="transport-bucket", Key="absent")
    observed["missing"] = (
        missing.value.response["Error"]["Code"],
        missing.value.response["ResponseMetadata"]["HTTPStatusCode"],
    )
    with pytest.raises(ClientError) as head_missing:
        s3.head_object(Bucket="transport-bucket", Key="absent")
    observed["head_missing"] = head_missing.value.response["ResponseMetadata"]["HTTPStatusCode"]
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="transport",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="transport", Item={"pk": {"S": "ü"}, "n": {"N": "1"}})
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(
            TableName="transport", Item={"pk": {"S": "ü"}}, ConditionExpression="attribute_not_exists(pk)"
        )
    observed["item"] = dynamodb.get_item(TableName="transport", Key={"pk": {"S": "ü"}})["Item"]
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="transport")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"a": "ü"}')
    observed["message"] = [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]]
    return observed


def _refuse(session: URLLib3Session, request: Any) -> Any:
    raise AssertionError(f"a socket was opened for {request.url}")


def test_calls_of_this_process_get_the_same_answers_without_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the same calls made once over HTTP and once in process, where opening a socket fails
    with EmbeddedAws(over_http=True) as aws:
        over_http = _exercise(aws)
    monkeypatch.setattr(URLLib3Session, "send", _refuse)
    with EmbeddedAws() as aws:
        direct = _exercise(aws)
    # Then every answer is the same, and the transport is put back when the embedded AWS stops
    assert direct == over_http
    assert over_http["missing"] == ("NoSuchKey", 404)
    assert URLLib3Session.send is _refuse


def test_other_endpoints_still_go_over_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []

    def record(session: URLLib3Session, request: Any) -> Any:
        sent.append(request.url)
        raise ConnectionError("no network here")

    monkeypatch.setattr(URLLib3Session, "send", record)
    # Given the in-process route for the embedded AWS
    with EmbeddedAws() as aws:
        client = boto3.client("s3", endpoint_url="http://127.0.0.1:9")
        # When a client calls another endpoint
        with pytest.raises(Exception):  # noqa: B017 - botocore wraps it in its own error
            client.list_buckets()
        # Then that call went to the socket layer, not to the embedded AWS
        assert sent and all(url.startswith("http://127.0.0.1:9/") for url in sent)
        assert aws.endpoint_url != "http://127.0.0.1:9"
