"""The S3 live-replication emulator against moto in server mode: outcomes decided from the emulated
account's real state, failure codes as AWS documents them (aws-facts §2), statuses visible through
HeadObject (§6) and failure events shaped as S3 shapes them (§1.2).

The embedded AWS here is moto's ThreadedMotoServer on a free local port (one per test session,
reset before each test) and a boto3 session hooked the way production code is hooked in local mode."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from replimend_local import hooks
from replimend_local.config_reads import ConfigurationVersions
from replimend_local.gateway import Gateway
from replimend_local.moto_patches import MotoServer
from replimend_local.s3_replication import ReplicationEngine, ReplicationOutcome
from tests.moto_server import replication_role_statements, reset_moto

REGION = "us-east-1"
ACCOUNT = "123456789012"
S3_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@dataclass
class EmbeddedAccount:
    """Clients of a hooked session (what production code would use) plus setup helpers."""

    endpoint: str
    engine: ReplicationEngine
    session: boto3.Session

    def __post_init__(self) -> None:
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint, region_name=REGION
            )
        return self._clients[service]

    @property
    def s3(self) -> Any:
        return self.client("s3")

    def bucket(self, name: str, *, versioned: bool = True, object_lock: bool = False) -> str:
        s3 = self.s3
        if object_lock:
            s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        else:
            s3.create_bucket(Bucket=name)
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def role(
        self,
        name: str,
        *statements: dict[str, Any],
        trust: dict[str, Any] = S3_TRUST,
    ) -> str:
        iam = self.client("iam")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        if statements:
            iam.put_role_policy(
                RoleName=name,
                PolicyName="replication",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
            )
        return str(arn)

    def replication_role(
        self, name: str, source: str, *destinations: str, extra: list[dict[str, Any]] | None = None
    ) -> str:
        """The role AWS documents for live replication (setting-repl-config-perm-overview)."""
        resources = [f"arn:aws:s3:::{d}/*" for d in destinations] if destinations else None
        statements = replication_role_statements(source, resources)
        return self.role(name, *statements, *(extra or []))

    def replicate(self, source: str, role_arn: str, *rules: dict[str, Any]) -> None:
        self.s3.put_bucket_replication(
            Bucket=source, ReplicationConfiguration={"Role": role_arn, "Rules": list(rules)}
        )

    def failure_queue(
        self,
        source: str,
        *,
        events: list[str] | None = None,
        filter_rules: list[dict[str, str]] | None = None,
    ) -> str:
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=f"{source}-failures")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        config: dict[str, Any] = {
            "Id": "replication-failures",
            "QueueArn": arn,
            "Events": events or ["s3:Replication:OperationFailedReplication"],
        }
        if filter_rules:
            config["Filter"] = {"Key": {"FilterRules": filter_rules}}
        self.s3.put_bucket_notification_configuration(
            Bucket=source, NotificationConfiguration={"QueueConfigurations": [config]}
        )
        self.drain(url)  # S3 sends an s3:TestEvent when the configuration is saved
        return str(url)

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        bodies: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def rule(
    destination: str,
    *,
    rule_id: str = "rule-1",
    priority: int = 1,
    metrics: bool = True,
    filter_: dict[str, Any] | None = None,
    status: str = "Enabled",
    **destination_extra: Any,
) -> dict[str, Any]:
    """A V2 replication rule (Filter + Priority), as the console and the docs write it."""
    dest: dict[str, Any] = {"Bucket": f"arn:aws:s3:::{destination}", **destination_extra}
    if metrics:
        dest["Metrics"] = {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    return {
        "ID": rule_id,
        "Priority": priority,
        "Status": status,
        "Filter": filter_ if filter_ is not None else {},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": dest,
    }


@pytest.fixture(scope="module")
def counted_endpoint() -> Iterator[tuple[str, ConfigurationVersions]]:
    """moto behind the gateway, counting configuration changes as the embedded AWS does."""
    versions = ConfigurationVersions()

    def wrap(app: Any) -> Any:
        gateway = Gateway(app)
        gateway.versions = versions
        return gateway

    server = MotoServer("127.0.0.1", 0, wrap=wrap)
    try:
        yield server.endpoint_url, versions
    finally:
        server.stop()


@pytest.fixture(params=["reads-every-time", "reads-once-per-change"])
def account(
    request: pytest.FixtureRequest, moto_endpoint: str, counted_endpoint: tuple[str, ConfigurationVersions]
) -> Iterator[EmbeddedAccount]:
    """Every engine test runs twice: configuration read for every object, and read once per change
    (what the embedded AWS does) - a remembered read must never hide a change."""
    if request.param == "reads-every-time":
        endpoint, versions = moto_endpoint, None
    else:
        endpoint, versions = counted_endpoint
    reset_moto(endpoint)
    engine = ReplicationEngine(endpoint, REGION, ACCOUNT, configuration_versions=versions)
    engine.reset()
    session = boto3.Session(region_name=REGION)
    installed = engine.handlers()
    hooks.install(session, installed)
    yield EmbeddedAccount(endpoint, engine, session)
    hooks.uninstall(session, installed)
    assert engine.errors() == []


SRC, DST, DST2 = "src-bucket", "dst-bucket", "dst-bucket-2"


def healthy_setup(
    account: EmbeddedAccount, *rules: dict[str, Any], destinations: tuple[str, ...] = (DST,)
) -> str:
    account.bucket(SRC)
    for destination in destinations:
        account.bucket(destination)
    role = account.replication_role("replication", SRC, *destinations)
    account.replicate(SRC, role, *(rules or (rule(DST),)))
    return role


def put(
    account: EmbeddedAccount, key: str = "docs/report.csv", body: bytes = b"a,b\n1,2\n", **extra: Any
) -> str:
    return str(account.s3.put_object(Bucket=SRC, Key=key, Body=body, **extra)["VersionId"])


def head_status(account: EmbeddedAccount, bucket: str, key: str, version_id: str | None = None) -> str | None:
    kwargs = {"VersionId": version_id} if version_id else {}
    return account.s3.head_object(Bucket=bucket, Key=key, **kwargs).get("ReplicationStatus")


# --- success -------------------------------------------------------------------------------------


def test_healthy_rule_replicates_bytes_metadata_and_tags(account: EmbeddedAccount) -> None:
    # Given a versioned source and destination, the documented role and a rule
    healthy_setup(account)
    # When an object is written through a hooked client
    version = put(
        account,
        body=b"payload-123",
        Metadata={"owner": "finance"},
        ContentType="text/csv",
        Tagging="team=fin&tier=gold",
    )
    # Then the source reads COMPLETED (current and by version) and the replica REPLICA
    assert head_status(account, SRC, "docs/report.csv") == "COMPLETED"
    assert head_status(account, SRC, "docs/report.csv", version) == "COMPLETED"
    replica = account.s3.get_object(Bucket=DST, Key="docs/report.csv")
    assert replica["Body"].read() == b"payload-123"
    assert replica["Metadata"] == {"owner": "finance"}
    assert replica["ContentType"] == "text/csv"
    assert replica["ReplicationStatus"] == "REPLICA"
    # S3 keeps the source version id on the replica
    assert replica["VersionId"] == version
    tags = account.s3.get_object_tagging(Bucket=DST, Key="docs/report.csv", VersionId=version)["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "fin", "tier": "gold"}
    assert account.engine.last_outcomes(SRC, "docs/report.csv", version) == (
        ReplicationOutcome(DST, "rule-1", "COMPLETED", None),
    )


def test_copy_in_place_and_multipart_upload_trigger_replication(account: EmbeddedAccount) -> None:
    healthy_setup(account)
    s3 = account.s3
    # Given an object whose version failed (destination briefly unversioned)
    s3.put_bucket_versioning(Bucket=DST, VersioningConfiguration={"Status": "Suspended"})
    failed = s3.put_object(Bucket=SRC, Key="seed", Body=b"seed")["VersionId"]
    assert head_status(account, SRC, "seed", failed) == "FAILED"
    s3.put_bucket_versioning(Bucket=DST, VersioningConfiguration={"Status": "Enabled"})
    # When it is copied in place (the documented way to re-drive one object)
    copied = s3.copy_object(
        Bucket=SRC, Key="seed", CopySource={"Bucket": SRC, "Key": "seed"}, MetadataDirective="REPLACE"
    )
    # Then the new version replicates
    assert head_status(account, SRC, "seed", copied["VersionId"]) == "COMPLETED"
    # And a multipart upload replicates on completion
    upload = s3.create_multipart_upload(Bucket=SRC, Key="big.bin")
    part = s3.upload_part(
        Bucket=SRC, Key="big.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024
    )
    done = s3.complete_multipart_upload(
        Bucket=SRC,
        Key="big.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    assert head_status(account, SRC, "big.bin", done["VersionId"]) == "COMPLETED"
    assert s3.get_object(Bucket=DST, Key="big.bin")["Body"].read() == b"x" * 1024


def test_replicas_are_not_replicated_again_by_live_replication(account: EmbeddedAccount) -> None:
    # Given A -> B and B -> C
    healthy_setup(account)
    account.bucket(DST2)
    role_b = account.replication_role("replication-b", DST, DST2)
    account.replicate(DST, role_b, rule(DST2))
    # When an object lands in A
    version = put(account)
    # Then B holds a replica, and C nothing (only Batch Replication replicates replicas)
    assert head_status(account, DST, "docs/report.csv") == "REPLICA"
    assert account.engine.replicate_version(DST, "docs/report.csv", version, trigger="live") == []
    assert "Versions" not in account.s3.list_object_versions(Bucket=DST2)


# --- failure reasons from the real state -------------------------------------------------------------


def test_unversioned_destination_fails_with_dst_bucket_unversioned(account: EmbeddedAccount) -> None:
    account.bucket(SRC)
    account.bucket(DST, versioned=False)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST))
    version = put(account)
    assert head_status(account, SRC, "docs/report.csv", version) == "FAILED"
    assert (
        account.engine.last_outcomes(SRC, "docs/report.csv", version)[0].failure_reason
        == "DstBucketUnversioned"
    )
    assert "Versions" not in account.s3.list_object_versions(Bucket=DST)
    # When versioning is enabled, the next version replicates (the failed one stays FAILED)
    account.s3.put_bucket_versioning(Bucket=DST, VersioningConfiguration={"Status": "Enabled"})
    assert head_status(account, SRC, "docs/report.csv", put(account)) == "COMPLETED"
    assert head_status(account, SRC, "docs/report.csv", version) == "FAILED"


def test_role_without_replicate_object_fails_with_dst_put_object_not_permitted(
    account: EmbeddedAccount,
) -> None:
    account.bucket(SRC)
    account.bucket(DST)
    role = account.replication_role("replication", SRC)  # source permissions only
    account.replicate(SRC, role, rule(DST))
    version = put(account)
    assert (
        account.engine.last_outcomes(SRC, "docs/report.csv", version)[0].failure_reason
        == "DstPutObjectNotPermitted"
    )
    assert head_status(account, SRC, "docs/report.csv") == "FAILED"


def test_role_trusting_only_ec2_fails_with_assume_role_not_permitted(account: EmbeddedAccount) -> None:
    account.bucket(SRC)
    account.bucket(DST)
    ec2_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = account.role("ec2-only", {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, trust=ec2_trust)
    account.replicate(SRC, role, rule(DST))
    version = put(account)
    assert (
        account.engine.last_outcomes(SRC, "docs/report.csv", version)[0].failure_reason
        == "AssumeRoleNotPermitted"
    )


def test_missing_role_fails_with_assume_role_not_permitted(account: EmbeddedAccount) -> None:
    account.bucket(SRC)
    account.bucket(DST)
    account.replicate(SRC, f"arn:aws:iam::{ACCOUNT}:role/deleted", rule(DST))
    version = put(account)
    assert (
        account.engine.last_outcomes(SRC, "docs/report.csv", version)[0].failure_reason
        == "AssumeRoleNotPermitted"
    )


def test_missing_destination_fails_with_dst_bucket_not_found(account: EmbeddedAccount) -> None:
    account.bucket(SRC)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST))
    version = put(account)
    assert (
        account.engine.last_outcomes(SRC, "docs/report.csv", version)[0].failure_reason == "DstBucketNotFound"
    )


def test_object_lock_on_source_only_fails_with_lock_config_missing(account: EmbeddedAccount) -> None:
    account.bucket(SRC, object_lock=True)
    account.bucket(DST)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST))
    version = put(account)
    outcome = account.engine.last_outcomes(SRC, "docs/report.csv", version)[0]
    assert outcome.failure_reason == "DstBucketObjectLockConfigMissing"


def test_object_lock_on_both_sides_replicates_retention(account: EmbeddedAccount) -> None:
    account.bucket(SRC, object_lock=True)
    account.bucket(DST, object_lock=True)
    retention = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObjectRetention", "s3:GetObjectLegalHold"],
            "Resource": f"arn:aws:s3:::{SRC}/*",
        }
    ]
    dst_retention = [
        {
            "Effect": "Allow",
            "Action": ["s3:PutObjectRetention", "s3:PutObjectLegalHold"],
            "Resource": f"arn:aws:s3:::{DST}/*",
        }
    ]
    account.replicate(
        SRC, account.replication_role("replication", SRC, DST, extra=retention + dst_retention), rule(DST)
    )
    version = put(account, ObjectLockLegalHoldStatus="ON")
    assert head_status(account, SRC, "docs/report.csv", version) == "COMPLETED"
    assert account.s3.head_object(Bucket=DST, Key="docs/report.csv")["ObjectLockLegalHoldStatus"] == "ON"


def test_legal_hold_without_read_permission_fails_with_src_get_legal_hold(account: EmbeddedAccount) -> None:
    account.bucket(SRC, object_lock=True)
    account.bucket(DST, object_lock=True)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST))
    version = put(account, ObjectLockLegalHoldStatus="ON")
    outcome = account.engine.last_outcomes(SRC, "docs/report.csv", version)[0]
    assert outcome.failure_reason == "SrcGetLegalHoldNotPermitted"


def test_tags_without_tagging_permissions(account: EmbeddedAccount) -> None:
    # Given a role that may read and replicate objects but not read tags
    account.bucket(SRC)
    account.bucket(DST)
    role = account.role(
        "no-tags",
        {
            "Effect": "Allow",
            "Action": "s3:GetObjectVersionForReplication",
            "Resource": f"arn:aws:s3:::{SRC}/*",
        },
        {"Effect": "Allow", "Action": "s3:ReplicateObject", "Resource": f"arn:aws:s3:::{DST}/*"},
    )
    account.replicate(SRC, role, rule(DST))
    # When a tagged object is written
    tagged = put(account, "tagged", Tagging="a=1")
    # Then, as AWS documents for s3:GetObjectVersionTagging, the object replicates without its tags
    assert head_status(account, SRC, "tagged", tagged) == "COMPLETED"
    assert account.s3.get_object_tagging(Bucket=DST, Key="tagged", VersionId=tagged)["TagSet"] == []


def test_replicate_object_alone_replicates_tags(account: EmbeddedAccount) -> None:
    # Given the documented role without s3:ReplicateTags on the destination
    account.bucket(SRC)
    account.bucket(DST)
    statements = replication_role_statements(SRC, f"arn:aws:s3:::{DST}/*", ["s3:ReplicateObject"])
    account.replicate(SRC, account.role("no-replicate-tags", *statements), rule(DST))
    # When a tagged object is written
    version = put(account, "tagged", Tagging="team=fin")
    # Then s3:ReplicateObject covers the tags: the replica has them
    assert head_status(account, SRC, "tagged", version) == "COMPLETED"
    tags = account.s3.get_object_tagging(Bucket=DST, Key="tagged", VersionId=version)["TagSet"]
    assert tags == [{"Key": "team", "Value": "fin"}]


def test_explicit_deny_in_destination_bucket_policy(account: EmbeddedAccount) -> None:
    role = healthy_setup(account)
    account.s3.put_bucket_policy(
        Bucket=DST,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": {"AWS": role},
                        "Action": "s3:ReplicateObject",
                        "Resource": f"arn:aws:s3:::{DST}/*",
                    }
                ],
            }
        ),
    )
    version = put(account)
    assert (
        account.engine.last_outcomes(SRC, "docs/report.csv", version)[0].failure_reason
        == "DstPutObjectNotPermitted"
    )


def test_cross_account_destination_needs_the_destination_bucket_policy(account: EmbeddedAccount) -> None:
    role = healthy_setup(account, rule(DST, Account="210987654321"))
    version = put(account)
    assert (
        account.engine.last_outcomes(SRC, "docs/report.csv", version)[0].failure_reason
        == "DstPutObjectNotPermitted"
    )
    account.s3.put_bucket_policy(
        Bucket=DST,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": role},
                        "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                        "Resource": f"arn:aws:s3:::{DST}/*",
                    }
                ],
            }
        ),
    )
    assert head_status(account, SRC, "docs/report.csv", put(account)) == "COMPLETED"


# --- SSE-KMS -----------------------------------------------------------------------------------------


def kms_setup(account: EmbeddedAccount, *, replica_key: str | None, kms_role: bool = True) -> tuple[str, str]:
    kms = account.client("kms")
    source_key = kms.create_key(Description="source")["KeyMetadata"]["Arn"]
    account.bucket(SRC)
    account.bucket(DST)
    extra = (
        [
            {
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": "*",
            }
        ]
        if kms_role
        else [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]
    )
    role = account.replication_role("replication", SRC, DST, extra=extra)
    encryption: dict[str, Any] = (
        {"EncryptionConfiguration": {"ReplicaKmsKeyID": replica_key}} if replica_key else {}
    )
    kms_rule = rule(DST, **encryption)
    kms_rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    account.replicate(SRC, role, kms_rule)
    return str(source_key), role


def put_kms(account: EmbeddedAccount, key_arn: str, key: str = "secret.bin") -> str:
    return put(account, key, b"classified", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)


def test_sse_kms_object_replicates_with_the_replica_key(account: EmbeddedAccount) -> None:
    replica_key = account.client("kms").create_key(Description="replica")["KeyMetadata"]["Arn"]
    source_key, _ = kms_setup(account, replica_key=replica_key)
    version = put_kms(account, source_key)
    assert head_status(account, SRC, "secret.bin", version) == "COMPLETED"
    replica = account.s3.head_object(Bucket=DST, Key="secret.bin")
    assert replica["ServerSideEncryption"] == "aws:kms"
    assert replica_key.endswith(replica["SSEKMSKeyId"]) or replica["SSEKMSKeyId"] == replica_key


def test_sse_kms_object_is_not_eligible_without_opt_in(account: EmbeddedAccount) -> None:
    # Given a rule without SourceSelectionCriteria.SseKmsEncryptedObjects
    source_key = account.client("kms").create_key()["KeyMetadata"]["Arn"]
    healthy_setup(account)
    # Then SSE-KMS objects are skipped: no status, no replica; plain objects still replicate
    version = put_kms(account, source_key)
    assert head_status(account, SRC, "secret.bin", version) is None
    assert account.engine.replicate_version(SRC, "secret.bin", version) == []
    assert head_status(account, SRC, "plain", put(account, "plain")) == "COMPLETED"
    # Batch Replication reports it as not eligible
    [outcome] = account.engine.replicate_version(SRC, "secret.bin", version, trigger="batch")
    assert outcome.failure_reason == "SrcObjectNotEligible"


def test_sse_kms_without_replica_key_fails_with_dst_kms_key_not_found(account: EmbeddedAccount) -> None:
    source_key, _ = kms_setup(account, replica_key=None)
    version = put_kms(account, source_key)
    assert account.engine.last_outcomes(SRC, "secret.bin", version)[0].failure_reason == "DstKmsKeyNotFound"


def test_sse_kms_with_unknown_replica_key_fails_with_dst_kms_key_not_found(account: EmbeddedAccount) -> None:
    ghost = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
    source_key, _ = kms_setup(account, replica_key=ghost)
    version = put_kms(account, source_key)
    assert account.engine.last_outcomes(SRC, "secret.bin", version)[0].failure_reason == "DstKmsKeyNotFound"


def test_sse_kms_with_disabled_replica_key_fails_with_invalid_state(account: EmbeddedAccount) -> None:
    kms = account.client("kms")
    replica_key = kms.create_key()["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=replica_key.rsplit("/", 1)[1])
    source_key, _ = kms_setup(account, replica_key=replica_key)
    version = put_kms(account, source_key)
    assert (
        account.engine.last_outcomes(SRC, "secret.bin", version)[0].failure_reason == "DstKmsKeyInvalidState"
    )
    # When the key is enabled again, the version replicates with Batch Replication
    kms.enable_key(KeyId=replica_key.rsplit("/", 1)[1])
    [outcome] = account.engine.replicate_version(SRC, "secret.bin", version, trigger="batch")
    assert outcome.status == "COMPLETED"
    assert head_status(account, SRC, "secret.bin", version) == "COMPLETED"


def test_sse_kms_with_disabled_source_key_fails_with_src_kms_invalid_state(account: EmbeddedAccount) -> None:
    kms = account.client("kms")
    replica_key = kms.create_key()["KeyMetadata"]["Arn"]
    source_key, _ = kms_setup(account, replica_key=replica_key)
    version = put_kms(account, source_key)
    kms.disable_key(KeyId=source_key.rsplit("/", 1)[1])
    [outcome] = account.engine.replicate_version(SRC, "secret.bin", version, trigger="batch")
    assert outcome.failure_reason == "SrcKmsKeyInvalidState"


def test_sse_kms_role_without_encrypt_on_replica_key(account: EmbeddedAccount) -> None:
    replica_key = account.client("kms").create_key()["KeyMetadata"]["Arn"]
    source_key, _ = kms_setup(account, replica_key=replica_key, kms_role=False)
    version = put_kms(account, source_key)
    assert (
        account.engine.last_outcomes(SRC, "secret.bin", version)[0].failure_reason
        == "DstPutObjectNotPermitted"
    )


# --- rules: filters, priority, several destinations ------------------------------------------------


def test_filters_select_objects_by_prefix_and_tags(account: EmbeddedAccount) -> None:
    healthy_setup(
        account,
        rule(DST, rule_id="logs", priority=1, filter_={"Prefix": "logs/"}),
        rule(
            DST2,
            rule_id="gold",
            priority=2,
            filter_={"And": {"Prefix": "data/", "Tags": [{"Key": "tier", "Value": "gold"}]}},
        ),
        destinations=(DST, DST2),
    )
    logs = put(account, "logs/app.log")
    gold = put(account, "data/x", Tagging="tier=gold")
    silver = put(account, "data/y", Tagging="tier=silver")
    other = put(account, "misc/z")
    assert [o.rule_id for o in account.engine.last_outcomes(SRC, "logs/app.log", logs)] == ["logs"]
    assert [o.destination_bucket for o in account.engine.last_outcomes(SRC, "data/x", gold)] == [DST2]
    # Objects no rule selects carry no ReplicationStatus at all
    assert head_status(account, SRC, "data/y", silver) is None
    assert head_status(account, SRC, "misc/z", other) is None


def test_tag_filter_and_disabled_rule(account: EmbeddedAccount) -> None:
    healthy_setup(
        account,
        rule(DST, rule_id="off", status="Disabled"),
        rule(DST2, rule_id="tagged", priority=2, filter_={"Tag": {"Key": "replicate", "Value": "yes"}}),
        destinations=(DST, DST2),
    )
    version = put(account, "k", Tagging="replicate=yes")
    assert account.engine.last_outcomes(SRC, "k", version) == (
        ReplicationOutcome(DST2, "tagged", "COMPLETED"),
    )
    assert head_status(account, SRC, "n", put(account, "n")) is None


def test_highest_priority_rule_wins_for_one_destination(account: EmbeddedAccount) -> None:
    healthy_setup(
        account,
        rule(DST, rule_id="broad", priority=1, filter_={"Prefix": ""}),
        rule(DST, rule_id="narrow", priority=5, filter_={"Prefix": "docs/"}),
    )
    version = put(account)
    assert [o.rule_id for o in account.engine.last_outcomes(SRC, "docs/report.csv", version)] == ["narrow"]


def test_legacy_prefix_rule(account: EmbeddedAccount) -> None:
    account.bucket(SRC)
    account.bucket(DST)
    role = account.replication_role("replication", SRC, DST)
    account.replicate(
        SRC,
        role,
        {
            "ID": "v1",
            "Prefix": "docs/",
            "Status": "Enabled",
            "Destination": {"Bucket": f"arn:aws:s3:::{DST}"},
        },
    )
    assert head_status(account, SRC, "docs/a", put(account, "docs/a")) == "COMPLETED"
    assert head_status(account, SRC, "misc/a", put(account, "misc/a")) is None


def test_one_failed_destination_makes_the_source_failed(account: EmbeddedAccount) -> None:
    # Given two destinations, the second one unversioned
    account.bucket(SRC)
    account.bucket(DST)
    account.bucket(DST2, versioned=False)
    role = account.replication_role("replication", SRC, DST, DST2)
    account.replicate(SRC, role, rule(DST, rule_id="a", priority=1), rule(DST2, rule_id="b", priority=2))
    version = put(account)
    # Then the source is FAILED, the healthy destination has its replica
    assert head_status(account, SRC, "docs/report.csv", version) == "FAILED"
    assert account.engine.last_outcomes(SRC, "docs/report.csv", version) == (
        ReplicationOutcome(DST, "a", "COMPLETED"),
        ReplicationOutcome(DST2, "b", "FAILED", "DstBucketUnversioned"),
    )
    assert head_status(account, DST, "docs/report.csv") == "REPLICA"


def two_destinations_one_healthy(account: EmbeddedAccount) -> None:
    """DST healthy, DST2 unversioned; one rule per destination, both for every key."""
    account.bucket(SRC)
    account.bucket(DST)
    account.bucket(DST2, versioned=False)
    role = account.replication_role("replication", SRC, DST, DST2)
    account.replicate(SRC, role, rule(DST, rule_id="a", priority=1), rule(DST2, rule_id="b", priority=2))


def test_one_failure_event_per_failing_destination(account: EmbeddedAccount) -> None:
    # Given two destinations, both broken in different ways, and failure events routed to SQS
    account.bucket(SRC)
    account.bucket(DST, versioned=False)
    role = account.replication_role("replication", SRC, DST, DST2)  # DST2 does not exist
    account.replicate(SRC, role, rule(DST, rule_id="a", priority=1), rule(DST2, rule_id="b", priority=2))
    queue = account.failure_queue(SRC)
    # When one object is written
    version = put(account)
    # Then one event per destination arrives, each naming its destination, rule and reason
    records = [r for document in account.drain(queue) for r in document["Records"]]
    assert sorted(
        (r["replicationEventData"]["destinationBucket"], r["replicationEventData"]["replicationRuleId"],
         r["replicationEventData"]["failureReason"], r["s3"]["object"]["versionId"])
        for r in records
    ) == [
        (f"arn:aws:s3:::{DST}", "a", "DstBucketUnversioned", version),
        (f"arn:aws:s3:::{DST2}", "b", "DstBucketNotFound", version),
    ]  # fmt: skip


def test_batch_task_sends_no_event_by_default_and_one_per_failing_destination_when_enabled(
    account: EmbeddedAccount,
) -> None:
    # Given a version that failed live to one of two destinations, events routed to SQS
    two_destinations_one_healthy(account)
    queue = account.failure_queue(SRC)
    version = put(account)
    [live] = account.drain(queue)
    assert live["Records"][0]["replicationEventData"]["destinationBucket"] == f"arn:aws:s3:::{DST2}"
    # When Batch Replication re-drives it (AWS documents no events for batch tasks: off by default)
    outcomes = account.engine.replicate_version(SRC, "docs/report.csv", version, trigger="batch")
    # Then the task replicates to every destination and fails for the broken one only, without events
    assert [(o.destination_bucket, o.status) for o in outcomes] == [(DST, "COMPLETED"), (DST2, "FAILED")]
    assert head_status(account, SRC, "docs/report.csv", version) == "FAILED"
    assert account.drain(queue) == []
    # When the emulator is told batch tasks send events
    account.engine.batch_failure_events = True
    account.engine.replicate_version(SRC, "docs/report.csv", version, trigger="batch")
    # Then exactly one event arrives, for the failing destination
    [document] = account.drain(queue)
    [record] = document["Records"]
    assert record["replicationEventData"]["destinationBucket"] == f"arn:aws:s3:::{DST2}"
    assert record["replicationEventData"]["failureReason"] == "DstBucketUnversioned"
    # And once the broken destination is fixed, the next task completes both: the source is COMPLETED
    account.s3.put_bucket_versioning(Bucket=DST2, VersioningConfiguration={"Status": "Enabled"})
    outcomes = account.engine.replicate_version(SRC, "docs/report.csv", version, trigger="batch")
    assert all(o.succeeded for o in outcomes) and len(outcomes) == 2
    assert head_status(account, SRC, "docs/report.csv", version) == "COMPLETED"
    assert account.drain(queue) == []


def test_get_bucket_replication_returns_the_configuration_as_put(account: EmbeddedAccount) -> None:
    # moto alone renders every rule as Filter {Prefix: ""} and drops SourceSelectionCriteria
    kms_rule = rule(DST, filter_={"And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"}]}})
    kms_rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    healthy_setup(account, kms_rule)
    configuration = account.s3.get_bucket_replication(Bucket=SRC)["ReplicationConfiguration"]
    assert configuration["Rules"][0]["Filter"] == {
        "And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"}]}
    }
    assert configuration["Rules"][0]["SourceSelectionCriteria"] == {
        "SseKmsEncryptedObjects": {"Status": "Enabled"}
    }
    # After a delete, moto and the emulator agree there is none
    account.s3.delete_bucket_replication(Bucket=SRC)
    with pytest.raises(account.s3.exceptions.ClientError):
        account.s3.get_bucket_replication(Bucket=SRC)


# --- failure events -----------------------------------------------------------------------------------


def test_failure_event_has_the_documented_shape(account: EmbeddedAccount) -> None:
    # Given metrics on the rule and the failure event routed to SQS
    account.bucket(SRC)
    account.bucket(DST, versioned=False)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST, rule_id="to-dst"))
    queue = account.failure_queue(SRC)
    # When an object with a space in its key fails to replicate
    version = put(account, "reports/q1 summary.csv", b"12345")
    # Then exactly one S3 document arrives, shaped as S3 shapes it
    [document] = account.drain(queue)
    [record] = document["Records"]
    assert set(record) == {
        "eventVersion",
        "eventSource",
        "awsRegion",
        "eventTime",
        "eventName",
        "userIdentity",
        "requestParameters",
        "responseElements",
        "s3",
        "replicationEventData",
    }
    assert record["eventVersion"] == "2.2"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventName"] == "Replication:OperationFailedReplication"
    assert record["userIdentity"] == {"principalId": "s3.amazonaws.com"}
    assert record["requestParameters"] == {"sourceIPAddress": "s3.amazonaws.com"}
    assert set(record["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["eventTime"])
    s3 = record["s3"]
    assert s3["s3SchemaVersion"] == "1.0"
    assert s3["configurationId"] == "replication-failures"
    assert s3["bucket"] == {
        "name": SRC,
        "ownerIdentity": {"principalId": ACCOUNT},
        "arn": f"arn:aws:s3:::{SRC}",
    }
    assert s3["object"]["key"] == "reports/q1+summary.csv"
    assert s3["object"]["size"] == 5
    assert s3["object"]["eTag"] == "827ccb0eea8a706c4c34a16891f84e7b"
    assert s3["object"]["versionId"] == version
    assert re.fullmatch(r"[0-9A-F]{18}", s3["object"]["sequencer"])
    data = record["replicationEventData"]
    assert data["replicationRuleId"] == "to-dst"
    assert data["destinationBucket"] == f"arn:aws:s3:::{DST}"
    assert data["s3Operation"] == "OBJECT_PUT"
    assert data["failureReason"] == "DstBucketUnversioned"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["requestTime"])


def test_sequencers_increase_for_the_same_key(account: EmbeddedAccount) -> None:
    account.bucket(SRC)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST))
    queue = account.failure_queue(SRC, events=["s3:Replication:*"])
    put(account, "k")
    put(account, "k")
    sequencers = [d["Records"][0]["s3"]["object"]["sequencer"] for d in account.drain(queue)]
    assert len(sequencers) == 2
    assert sequencers[0] < sequencers[1]


def test_no_event_without_replication_metrics_but_object_still_failed(account: EmbeddedAccount) -> None:
    account.bucket(SRC)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST, metrics=False))
    queue = account.failure_queue(SRC)
    version = put(account)
    assert account.drain(queue) == []
    assert head_status(account, SRC, "docs/report.csv", version) == "FAILED"


def test_no_event_when_notification_filter_excludes_the_key(account: EmbeddedAccount) -> None:
    account.bucket(SRC)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST))
    queue = account.failure_queue(
        SRC, filter_rules=[{"Name": "prefix", "Value": "important/"}, {"Name": "suffix", "Value": ".csv"}]
    )
    put(account, "docs/report.csv")
    assert account.drain(queue) == []
    put(account, "important/report.csv")
    assert len(account.drain(queue)) == 1


def test_no_event_for_other_event_types_or_successes(account: EmbeddedAccount) -> None:
    healthy_setup(account)
    queue = account.failure_queue(SRC, events=["s3:Replication:OperationMissedThreshold"])
    account.s3.put_bucket_versioning(Bucket=DST, VersioningConfiguration={"Status": "Suspended"})
    put(account)
    assert account.drain(queue) == []


def test_failure_event_through_sns_topic(account: EmbeddedAccount) -> None:
    account.bucket(SRC)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST))
    sns, sqs = account.client("sns"), account.client("sqs")
    topic = sns.create_topic(Name="replication-failures")["TopicArn"]
    queue = sqs.create_queue(QueueName="from-topic")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    account.s3.put_bucket_notification_configuration(
        Bucket=SRC,
        NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:Replication:*"]}]
        },
    )
    account.drain(queue)
    put(account)
    [envelope] = account.drain(queue)
    assert envelope["Type"] == "Notification"
    assert envelope["Subject"] == "Amazon S3 Notification"
    [record] = json.loads(envelope["Message"])["Records"]
    assert record["replicationEventData"]["failureReason"] == "DstBucketNotFound"


# --- batch trigger ------------------------------------------------------------------------------------


def test_batch_reports_gone_versions_and_sends_no_event(account: EmbeddedAccount) -> None:
    account.bucket(SRC)
    account.bucket(DST, versioned=False)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST))
    queue = account.failure_queue(SRC)
    first = put(account, "k", b"1")
    second = put(account, "k", b"2")
    assert len(account.drain(queue)) == 2
    account.s3.delete_object(Bucket=SRC, Key="k", VersionId=first)
    # A deleted version: SrcVersionNotFound; a key with no versions left: SrcKeyNotFound
    [gone] = account.engine.replicate_version(SRC, "k", first, trigger="batch")
    assert gone == ReplicationOutcome("", None, "FAILED", "SrcVersionNotFound")
    account.s3.delete_object(Bucket=SRC, Key="k", VersionId=second)
    [no_key] = account.engine.replicate_version(SRC, "k", second, trigger="batch")
    assert no_key.failure_reason == "SrcKeyNotFound"
    # A batch failure from the real state, without a notification
    third = put(account, "j")
    account.drain(queue)
    [batch_failure] = account.engine.replicate_version(SRC, "j", third, trigger="batch")
    assert batch_failure.failure_reason == "DstBucketUnversioned"
    assert account.drain(queue) == []


def test_batch_after_the_fix_completes_and_can_run_again(account: EmbeddedAccount) -> None:
    account.bucket(SRC)
    account.bucket(DST, versioned=False)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST))
    version = put(account)
    assert head_status(account, SRC, "docs/report.csv", version) == "FAILED"
    account.s3.put_bucket_versioning(Bucket=DST, VersioningConfiguration={"Status": "Enabled"})
    for _ in range(2):
        [outcome] = account.engine.replicate_version(SRC, "docs/report.csv", version, trigger="batch")
        assert outcome == ReplicationOutcome(DST, "rule-1", "COMPLETED")
    assert head_status(account, SRC, "docs/report.csv", version) == "COMPLETED"
    assert (
        account.s3.get_object(Bucket=DST, Key="docs/report.csv", VersionId=version)["Body"].read()
        == b"a,b\n1,2\n"
    )


def test_batch_without_configuration(account: EmbeddedAccount) -> None:
    account.bucket(SRC)
    version = put(account)
    assert head_status(account, SRC, "docs/report.csv", version) is None
    [outcome] = account.engine.replicate_version(SRC, "docs/report.csv", version, trigger="batch")
    assert outcome.failure_reason == "SrcBucketReplicationConfigMissing"
    [missing] = account.engine.replicate_version("no-such-bucket", "k", "v", trigger="batch")
    assert missing.failure_reason == "SrcBucketNotFound"


def test_acls_enabled_source_needs_acl_read_permission(account: EmbeddedAccount) -> None:
    # Given a source whose ACLs are enabled (ObjectWriter) and a role without GetObjectVersionAcl
    account.bucket(SRC)
    account.bucket(DST)
    account.s3.put_bucket_ownership_controls(
        Bucket=SRC, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    role = account.role(
        "no-acl",
        {
            "Effect": "Allow",
            "Action": "s3:GetObjectVersionForReplication",
            "Resource": f"arn:aws:s3:::{SRC}/*",
        },
        {"Effect": "Allow", "Action": "s3:ReplicateObject", "Resource": f"arn:aws:s3:::{DST}/*"},
    )
    account.replicate(SRC, role, rule(DST))
    version = put(account)
    assert (
        account.engine.last_outcomes(SRC, "docs/report.csv", version)[0].failure_reason
        == "SrcGetAclNotPermitted"
    )
    # With ACLs disabled (bucket owner enforced, the default) the ACL is not read
    account.s3.put_bucket_ownership_controls(
        Bucket=SRC, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    assert head_status(account, SRC, "docs/report.csv", put(account)) == "COMPLETED"


def test_eligible_rules_by_version_id(account: EmbeddedAccount) -> None:
    healthy_setup(
        account,
        rule(DST, rule_id="docs", filter_={"Prefix": "docs/"}),
        rule(DST2, rule_id="all", priority=2),
        destinations=(DST, DST2),
    )
    version = put(account)
    assert [r.rule_id for r in account.engine.eligible_rules(SRC, "docs/report.csv", version)] == [
        "docs",
        "all",
    ]
    assert account.engine.eligible_rules(SRC, "docs/report.csv", "no-such-version") == []
    assert account.engine.eligible_rules("no-such-bucket", "k", version) == []


def test_global_install_hooks_plain_boto3_clients(moto_endpoint: str) -> None:
    # Given the engine installed the way the embedded AWS installs it: for every later session
    reset_moto(moto_endpoint)
    engine = ReplicationEngine(moto_endpoint, REGION, ACCOUNT)
    engine.reset()
    installed = engine.handlers()
    hooks.install_global(installed)
    try:
        # When production-style code uses boto3.client() and a fresh boto3.Session()
        s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
        iam = boto3.Session().client("iam", endpoint_url=moto_endpoint, region_name=REGION)
        for bucket in (SRC, DST):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        role = iam.create_role(RoleName="replication", AssumeRolePolicyDocument=json.dumps(S3_TRUST))["Role"][
            "Arn"
        ]
        iam.put_role_policy(
            RoleName="replication",
            PolicyName="all",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
                }
            ),
        )
        configuration: Any = {"Role": role, "Rules": [rule(DST)]}
        s3.put_bucket_replication(Bucket=SRC, ReplicationConfiguration=configuration)
        s3.put_object(Bucket=SRC, Key="k", Body=b"v")
        # Then replication ran and the status is visible; the emulator's own session is not hooked
        assert s3.head_object(Bucket=SRC, Key="k")["ReplicationStatus"] == "COMPLETED"
        assert s3.head_object(Bucket=DST, Key="k")["ReplicationStatus"] == "REPLICA"
        plain = hooks.plain_session(REGION).client("s3", endpoint_url=moto_endpoint)
        assert "ReplicationStatus" not in plain.head_object(Bucket=SRC, Key="k")
        assert engine.errors() == []
    finally:
        hooks.uninstall_global(installed)
    unhooked = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
    assert "ReplicationStatus" not in unhooked.head_object(Bucket=SRC, Key="k")


# --- Region outages: PENDING (replication-status.html) --------------------------------------------

WEST = "us-west-2"


def west_bucket(account: EmbeddedAccount, name: str) -> str:
    account.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": WEST})
    account.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def test_an_unavailable_destination_region_leaves_objects_pending_until_it_is_back(
    account: EmbeddedAccount,
) -> None:
    # Given a healthy rule to a destination in us-west-2, failure events routed to SQS
    account.bucket(SRC)
    west_bucket(account, DST)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST))
    queue = account.failure_queue(SRC)
    # When us-west-2 is unavailable and an object is written
    account.engine.set_region_available(WEST, False)
    version = put(account)
    # Then the source reads PENDING, nothing was copied and no failure event was sent
    assert head_status(account, SRC, "docs/report.csv", version) == "PENDING"
    assert account.engine.last_outcomes(SRC, "docs/report.csv", version) == (
        ReplicationOutcome(DST, "rule-1", "PENDING"),
    )
    assert account.s3.list_object_versions(Bucket=DST).get("Versions", []) == []
    assert account.drain(queue) == []
    assert account.engine.pending_versions() == {(SRC, "docs/report.csv", version): frozenset({DST})}
    # When the Region is back
    resumed = account.engine.set_region_available(WEST, True)
    # Then S3 resumes: the object is replicated, the source COMPLETED, still no event
    assert resumed == [ReplicationOutcome(DST, "rule-1", "COMPLETED")]
    assert head_status(account, SRC, "docs/report.csv", version) == "COMPLETED"
    assert head_status(account, DST, "docs/report.csv") == "REPLICA"
    assert account.engine.pending_versions() == {}
    assert account.drain(queue) == []


def test_an_outage_delays_only_the_destinations_in_that_region(account: EmbeddedAccount) -> None:
    # Given one destination in us-east-1 and one in us-west-2
    account.bucket(SRC)
    account.bucket(DST)
    west_bucket(account, DST2)
    role = account.replication_role("replication", SRC, DST, DST2)
    account.replicate(SRC, role, rule(DST, rule_id="a", priority=1), rule(DST2, rule_id="b", priority=2))
    account.engine.set_region_available(WEST, False)
    version = put(account)
    # Then the available destination has its replica and the source stays PENDING for the other
    assert head_status(account, SRC, "docs/report.csv", version) == "PENDING"
    assert head_status(account, DST, "docs/report.csv") == "REPLICA"
    # When the Region is back, only the waiting destination is written (one replica version each)
    account.engine.set_region_available(WEST, True)
    assert head_status(account, SRC, "docs/report.csv", version) == "COMPLETED"
    assert [o.status for o in account.engine.last_outcomes(SRC, "docs/report.csv", version)] == [
        "COMPLETED",
        "COMPLETED",
    ]
    for bucket in (DST, DST2):
        assert len(account.s3.list_object_versions(Bucket=bucket)["Versions"]) == 1


def test_a_destination_broken_when_the_region_comes_back_fails_then(account: EmbeddedAccount) -> None:
    # Given an object PENDING during an outage, its destination's versioning suspended meanwhile
    account.bucket(SRC)
    west_bucket(account, DST)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST))
    queue = account.failure_queue(SRC)
    account.engine.set_region_available(WEST, False)
    version = put(account)
    account.s3.put_bucket_versioning(Bucket=DST, VersioningConfiguration={"Status": "Suspended"})
    # When the Region is back, the resumed replication fails as live replication does: FAILED, one event
    account.engine.set_region_available(WEST, True)
    assert head_status(account, SRC, "docs/report.csv", version) == "FAILED"
    [document] = account.drain(queue)
    assert document["Records"][0]["replicationEventData"]["failureReason"] == "DstBucketUnversioned"


def test_a_batch_task_during_an_outage_leaves_the_object_pending_until_the_region_is_back(
    account: EmbeddedAccount,
) -> None:
    # Given a version that failed live (unversioned destination in us-west-2), then fixed
    account.bucket(SRC)
    west_bucket(account, DST)
    account.replicate(SRC, account.replication_role("replication", SRC, DST), rule(DST))
    account.s3.put_bucket_versioning(Bucket=DST, VersioningConfiguration={"Status": "Suspended"})
    version = put(account)
    assert head_status(account, SRC, "docs/report.csv", version) == "FAILED"
    account.s3.put_bucket_versioning(Bucket=DST, VersioningConfiguration={"Status": "Enabled"})
    # When Batch Replication re-drives it while us-west-2 is out (AWS documents nothing for this case)
    account.engine.set_region_available(WEST, False)
    outcomes = account.engine.replicate_version(SRC, "docs/report.csv", version, trigger="batch")
    # Then the task does not complete it: the source waits PENDING, and completes when the Region is back
    assert [o.status for o in outcomes] == ["PENDING"] and not outcomes[0].succeeded
    assert head_status(account, SRC, "docs/report.csv", version) == "PENDING"
    account.engine.set_region_available(WEST, True)
    assert head_status(account, SRC, "docs/report.csv", version) == "COMPLETED"


def test_each_configuration_change_between_two_objects_decides_the_next_one(account: EmbeddedAccount) -> None:
    # Given a healthy pair and a role whose policy can be taken away and given back
    role = healthy_setup(account)
    iam = account.client("iam")
    policy = iam.get_role_policy(RoleName="replication", PolicyName="replication")["PolicyDocument"]

    def outcome(key: str) -> tuple[str, str | None]:
        version = put(account, key)
        (result,) = account.engine.last_outcomes(SRC, key, version)
        return result.status, result.failure_reason

    # When configuration changes between objects, each object is decided by the configuration of its time
    assert outcome("1") == ("COMPLETED", None)
    account.s3.put_bucket_versioning(Bucket=DST, VersioningConfiguration={"Status": "Suspended"})
    assert outcome("2") == ("FAILED", "DstBucketUnversioned")
    account.s3.put_bucket_versioning(Bucket=DST, VersioningConfiguration={"Status": "Enabled"})
    assert outcome("3") == ("COMPLETED", None)
    iam.delete_role_policy(RoleName="replication", PolicyName="replication")
    assert outcome("4")[0] == "FAILED"
    iam.put_role_policy(RoleName="replication", PolicyName="replication", PolicyDocument=json.dumps(policy))
    assert outcome("5") == ("COMPLETED", None)
    ec2_only = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.update_assume_role_policy(RoleName="replication", PolicyDocument=json.dumps(ec2_only))
    assert outcome("6") == ("FAILED", "AssumeRoleNotPermitted")
    assert role
    # Then with reads remembered, what had not changed was not read again
    reads = account.engine.configuration_reads
    if reads is not None:
        assert reads.hits > 0
