"""Which requests count as configuration changes (config_reads.ConfigurationVersions.changes): a read
is remembered only until one of these, so a request wrongly called a read would hide a change."""

from __future__ import annotations

from typing import Any

import pytest

from replimend_local.config_reads import EVERY_SERVICE, ConfigurationVersions


def environ(method: str, path: str = "/", *, host: str = "127.0.0.1:5000", **extra: Any) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "HTTP_HOST": host,
        "SERVER_NAME": "127.0.0.1",
        **extra,
    }


def changes(env: dict[str, Any], service: str | None, body: bytes = b"") -> tuple[str, ...]:
    return ConfigurationVersions().changes(env, service, lambda: body)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (environ("PUT", "/bucket"), ("s3",)),  # CreateBucket
        (environ("PUT", "/bucket", QUERY_STRING="versioning"), ("s3",)),
        (environ("DELETE", "/bucket", QUERY_STRING="policy"), ("s3",)),
        (environ("POST", "/bucket", QUERY_STRING="delete"), ("s3",)),  # not a change, counted anyway
        (environ("PUT", "/bucket/key"), ()),  # PutObject
        (environ("PUT", "/bucket/a/b", QUERY_STRING="tagging"), ()),  # PutObjectTagging
        (environ("DELETE", "/bucket/key"), ()),
        (environ("GET", "/bucket", QUERY_STRING="versioning"), ()),
        (environ("HEAD", "/bucket"), ()),
        (environ("PUT", "/key", host="bucket.s3.localhost:5000"), ("s3",)),  # virtual-hosted: unsure
    ],
)
def test_s3_bucket_requests_change_configuration_object_requests_do_not(
    env: dict[str, Any], expected: tuple[str, ...]
) -> None:
    assert changes(env, "s3") == expected


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("GetRole", ()),
        ("ListAttachedRolePolicies", ()),
        ("SimulatePrincipalPolicy", ()),
        ("PutRolePolicy", ("iam",)),
        ("DetachRolePolicy", ("iam",)),
        ("CreatePolicyVersion", ("iam",)),
        ("UpdateAssumeRolePolicy", ("iam",)),
    ],
)
def test_iam_actions_other_than_reads_are_changes(action: str, expected: tuple[str, ...]) -> None:
    body = f"Action={action}&Version=2010-05-08".encode()
    assert changes(environ("POST"), "iam", body) == expected


def test_an_iam_request_without_an_action_is_counted() -> None:
    assert changes(environ("POST"), "iam", b"\xff\xfe") == ("iam",)
    assert changes(environ("POST"), "iam", b"Version=2010-05-08") == ("iam",)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("TrentService.DescribeKey", ()),
        ("TrentService.Decrypt", ()),
        ("TrentService.GenerateDataKey", ()),
        ("TrentService.DisableKey", ("kms",)),
        ("TrentService.PutKeyPolicy", ("kms",)),
        ("TrentService.ScheduleKeyDeletion", ("kms",)),
    ],
)
def test_kms_targets(target: str, expected: tuple[str, ...]) -> None:
    assert changes(environ("POST", HTTP_X_AMZ_TARGET=target), "kms") == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("AmazonSQS.SendMessage", ()),
        ("AmazonSQS.DeleteMessage", ()),
        ("AmazonSQS.CreateQueue", ("sqs",)),
        ("AmazonSQS.DeleteQueue", ("sqs",)),
    ],
)
def test_only_creating_or_deleting_a_queue_changes_its_url(target: str, expected: tuple[str, ...]) -> None:
    assert changes(environ("POST", HTTP_X_AMZ_TARGET=target), "sqs") == expected


def test_moto_api_writes_change_every_service_and_other_services_are_not_counted() -> None:
    assert changes(environ("POST", "/moto-api/reset"), None) == EVERY_SERVICE
    assert changes(environ("POST", HTTP_X_AMZ_TARGET="DynamoDB_20120810.PutItem"), "dynamodb") == ()


def test_versions_count_per_service_and_for_all() -> None:
    versions = ConfigurationVersions()
    versions.changed(("s3",))
    assert (versions["s3"], versions["iam"]) == (1, 0)
    versions.changed(EVERY_SERVICE)
    assert (versions["s3"], versions["iam"]) == (2, 1)
