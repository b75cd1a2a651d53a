"""The S3 Batch Operations emulator, driven through plain boto3 s3control calls on a moto server.

Each test builds the emulated account (buckets, versioning, replication rules, IAM roles) on an
in-process ThreadedMotoServer, attaches the emulator's botocore hooks to a boto3 session, calls
s3control exactly as production code does and checks what AWS would answer and write.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from replimend_local import hooks
from replimend_local.batch_operations import BatchOperationsEmulator
from replimend_local.s3_replication import ReplicationEngine
from tests.moto_server import replication_role_statements, reset_moto

ACCOUNT = "123456789012"
REGION = "us-east-1"

BATCH_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "batchoperations.s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
REPLICATION_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["s3.amazonaws.com", "batchoperations.s3.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}
JOB_EVENT_PATTERN = {
    "source": ["aws.s3"],
    "detail-type": ["AWS Service Event via CloudTrail"],
    "detail": {"eventSource": ["s3.amazonaws.com"], "eventName": ["JobCreated", "JobStatusChanged"]},
}


@dataclass
class Account:
    """Plain (un-hooked) clients on the moto server: the test's view of the emulated account."""

    endpoint: str
    session: Any
    clients: dict[tuple[str, str], Any]

    def client(self, service: str, region: str = REGION) -> Any:
        if (service, region) not in self.clients:
            config = Config(s3={"addressing_style": "path"})
            self.clients[(service, region)] = self.session.client(
                service, region_name=region, endpoint_url=self.endpoint, config=config
            )
        return self.clients[(service, region)]

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def iam(self) -> Any:
        return self.client("iam")

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def events(self) -> Any:
        return self.client("events")


@pytest.fixture(scope="module")
def account_clients() -> dict[tuple[str, str], Any]:
    """Clients are slow to create (model loading); they stay valid across moto resets."""
    return {}


@pytest.fixture(scope="module")
def plain_session() -> Any:
    return hooks.plain_session(REGION)


@pytest.fixture
def account(endpoint: str, plain_session: Any, account_clients: dict[tuple[str, str], Any]) -> Account:
    reset_moto(endpoint)
    return Account(endpoint=endpoint, session=plain_session, clients=account_clients)


@pytest.fixture
def engine(account: Account) -> ReplicationEngine:
    engine = ReplicationEngine(account.endpoint, REGION, account_id=ACCOUNT)
    engine.reset()  # its state is shared per endpoint; the moto server was just reset too
    return engine


@pytest.fixture
def batch(account: Account, engine: ReplicationEngine) -> BatchOperationsEmulator:
    return BatchOperationsEmulator(account.endpoint, REGION, ACCOUNT, replication=engine)


@pytest.fixture(scope="module")
def shared_caller_session() -> boto3.Session:
    return boto3.Session(region_name=REGION)


@pytest.fixture
def caller_session(
    shared_caller_session: boto3.Session, batch: BatchOperationsEmulator
) -> Iterator[boto3.Session]:
    """The session production code would use, with the emulator's hooks attached (one session for the
    module: its loader keeps the parsed models; the hooks are swapped per test)."""
    hooks.install(shared_caller_session, batch.handlers())
    try:
        yield shared_caller_session
    finally:
        hooks.uninstall(shared_caller_session, batch.handlers())


def s3control_for(session: boto3.Session, batch: BatchOperationsEmulator, region: str = REGION) -> Any:
    """An s3control client as production code makes it (created after the hooks were installed)."""
    return session.client("s3control", region_name=region, endpoint_url=batch.endpoint_url)


def own_s3control(batch: BatchOperationsEmulator) -> Any:
    """An s3control client on a session of its own, for an emulator built inside a test."""
    session = boto3.Session(region_name=REGION)
    hooks.install(session, batch.handlers())
    return session.client("s3control", endpoint_url=batch.endpoint_url)


@pytest.fixture
def s3control(caller_session: boto3.Session, batch: BatchOperationsEmulator) -> Any:
    return s3control_for(caller_session, batch)


# --- building the emulated account ---------------------------------------------------------------


def make_bucket(account: Account, name: str, *, versioned: bool = True, region: str = REGION) -> None:
    s3 = account.client("s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def make_role(account: Account, name: str, trust: dict[str, Any], statements: list[dict[str, Any]]) -> str:
    arn = account.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if statements:
        account.iam.put_role_policy(
            RoleName=name,
            PolicyName=f"{name}-policy",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    return str(arn)


def batch_role(
    account: Account,
    name: str = "BatchReplicationRole",
    *,
    trust: dict[str, Any] = BATCH_TRUST,
    initiate_on: str = "arn:aws:s3:::*/*",
    report_on: str = "arn:aws:s3:::*/*",
) -> str:
    """The Batch Operations job role of aws-facts §5(a)."""
    return make_role(
        account,
        name,
        trust,
        [
            {"Effect": "Allow", "Action": "s3:InitiateReplication", "Resource": initiate_on},
            {
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"],
                "Resource": "arn:aws:s3:::*",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": "arn:aws:s3:::*/*",
            },
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": report_on},
        ],
    )


def replicated_pair(
    account: Account, source: str, destination: str, *, destination_versioned: bool = True
) -> None:
    """A source bucket replicating everything to ``destination`` (metrics on), with a working role."""
    make_bucket(account, source)
    make_bucket(account, destination, versioned=destination_versioned)
    role_name = f"replication-{source}"
    role_arn = make_role(
        account,
        role_name,
        REPLICATION_TRUST,
        replication_role_statements(source, f"arn:aws:s3:::{destination}/*"),
    )
    account.s3.put_bucket_replication(
        Bucket=source,
        ReplicationConfiguration={
            "Role": role_arn,
            "Rules": [
                {
                    "ID": f"to-{destination}",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {
                        "Bucket": f"arn:aws:s3:::{destination}",
                        "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
                    },
                }
            ],
        },
    )


def put_versions(account: Account, bucket: str, keys: list[str]) -> list[tuple[str, str]]:
    """Put one object per key; (key, version id) in order."""
    return [
        (key, account.s3.put_object(Bucket=bucket, Key=key, Body=f"body of {key}".encode())["VersionId"])
        for key in keys
    ]


def put_manifest(
    account: Account, rows: list[str], *, key: str = "manifests/run.csv", **extra: Any
) -> dict[str, Any]:
    """Store a CSV manifest in the ``manifests`` bucket; the CreateJob ``Manifest`` member for it."""
    if "manifests" not in [b["Name"] for b in account.s3.list_buckets()["Buckets"]]:
        make_bucket(account, "manifests", versioned=False)
    etag = account.s3.put_object(Bucket="manifests", Key=key, Body="".join(rows).encode(), **extra)["ETag"]
    return {
        "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key", "VersionId"]},
        "Location": {"ObjectArn": f"arn:aws:s3:::manifests/{key}", "ETag": etag.strip('"')},
    }


def rows_for(bucket: str, versions: list[tuple[str, str]]) -> list[str]:
    from urllib.parse import quote

    return [f"{bucket},{quote(key, safe='/')},{version}\n" for key, version in versions]


def job_request(
    role_arn: str,
    manifest: dict[str, Any] | None,
    *,
    token: str = "token-1",
    report_scope: str = "AllTasks",
    **overrides: Any,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "AccountId": ACCOUNT,
        "ConfirmationRequired": False,
        "Operation": {"S3ReplicateObject": {}},
        "Report": {
            "Enabled": True,
            "Bucket": "arn:aws:s3:::reports",
            "Prefix": "batch-reports",
            "Format": "Report_CSV_20180820",
            "ReportScope": report_scope,
        },
        "Priority": 10,
        "RoleArn": role_arn,
        "ClientRequestToken": token,
    }
    if manifest is not None:
        request["Manifest"] = manifest
    request.update(overrides)
    return request


def describe(s3control: Any, job_id: str) -> dict[str, Any]:
    return dict(s3control.describe_job(AccountId=ACCOUNT, JobId=job_id)["Job"])


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def read_report(
    account: Account, job_id: str, prefix: str = "batch-reports"
) -> tuple[dict[str, Any], list[list[str]]]:
    """The completion report's manifest.json and every results row (parsed as CSV)."""
    document = json.loads(
        account.s3.get_object(Bucket="reports", Key=f"{prefix}/job-{job_id}/manifest.json")["Body"].read()
    )
    rows: list[list[str]] = []
    for result in document["Results"]:
        body = account.s3.get_object(Bucket=result["Bucket"], Key=result["Key"])["Body"].read()
        assert hashlib.md5(body).hexdigest() == result["MD5Checksum"]
        rows.extend(csv.reader(io.StringIO(body.decode())))
    return document, rows


@pytest.fixture
def healthy(account: Account) -> dict[str, Any]:
    """src → dst replicating, a report bucket, a job role, two object versions and their manifest."""
    replicated_pair(account, "src", "dst")
    make_bucket(account, "reports", versioned=False)
    role = batch_role(account)
    versions = put_versions(account, "src", ["data/a.txt", "data/b c,d.txt"])
    manifest = put_manifest(account, rows_for("src", versions))
    return {"role": role, "versions": versions, "manifest": manifest}


# --- CreateJob request validation ----------------------------------------------------------------


def test_create_job_rejects_both_manifest_and_generator(s3control: Any, healthy: dict[str, Any]) -> None:
    # Given a request carrying a manifest and a manifest generator
    request = job_request(
        healthy["role"],
        healthy["manifest"],
        ManifestGenerator={
            "S3JobManifestGenerator": {"SourceBucket": "arn:aws:s3:::src", "EnableManifestOutput": False}
        },
    )
    # When / Then the service refuses it
    with pytest.raises(ClientError) as error:
        s3control.create_job(**request)
    assert error_code(error) == "BadRequestException"
    assert isinstance(error.value, s3control.exceptions.BadRequestException)


def test_create_job_rejects_neither_manifest_nor_generator(s3control: Any, healthy: dict[str, Any]) -> None:
    with pytest.raises(s3control.exceptions.BadRequestException):
        s3control.create_job(**job_request(healthy["role"], None))


def test_create_job_still_validates_against_the_service_model(
    s3control: Any, healthy: dict[str, Any]
) -> None:
    # Given a request botocore's model rejects (negative priority, missing Operation)
    with pytest.raises(ParamValidationError):
        s3control.create_job(**job_request(healthy["role"], healthy["manifest"], Priority=-1))
    request = job_request(healthy["role"], healthy["manifest"])
    del request["Operation"]
    with pytest.raises(ParamValidationError):
        s3control.create_job(**request)


def test_create_job_rejects_priority_above_range_and_bad_role_arn(
    s3control: Any, healthy: dict[str, Any]
) -> None:
    with pytest.raises(s3control.exceptions.BadRequestException):
        s3control.create_job(**job_request(healthy["role"], healthy["manifest"], Priority=2**31))
    with pytest.raises(s3control.exceptions.BadRequestException):
        s3control.create_job(**job_request("arn:aws:iam::123456789012:user/bob", healthy["manifest"]))


def test_same_token_and_parameters_return_the_same_job(
    s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    # Given a job created with a client request token
    request = job_request(healthy["role"], healthy["manifest"], token="run-42")
    first = s3control.create_job(**request)["JobId"]
    # When the same request is retried (a Lambda retry after a crash)
    second = s3control.create_job(**request)["JobId"]
    # Then no second job exists
    assert second == first
    assert [job["JobId"] for job in s3control.list_jobs(AccountId=ACCOUNT)["Jobs"]] == [first]


def test_same_token_with_different_parameters_is_an_idempotency_error(
    s3control: Any, healthy: dict[str, Any]
) -> None:
    s3control.create_job(**job_request(healthy["role"], healthy["manifest"], token="run-42"))
    with pytest.raises(s3control.exceptions.IdempotencyException):
        s3control.create_job(**job_request(healthy["role"], healthy["manifest"], token="run-42", Priority=99))


def test_token_left_out_is_filled_by_botocore_so_each_call_is_a_new_job(
    s3control: Any, healthy: dict[str, Any]
) -> None:
    request = job_request(healthy["role"], healthy["manifest"])
    del request["ClientRequestToken"]
    assert s3control.create_job(**request)["JobId"] != s3control.create_job(**request)["JobId"]


# --- preparation failures (the job is created, then fails like AWS's does) ------------------------


def run_to_end(batch: BatchOperationsEmulator, s3control: Any, job_id: str) -> dict[str, Any]:
    batch.process_jobs()
    return describe(s3control, job_id)


def test_missing_manifest_object_fails_the_job(
    s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    manifest = dict(
        healthy["manifest"], Location={"ObjectArn": "arn:aws:s3:::manifests/nope.csv", "ETag": "abc"}
    )
    job_id = s3control.create_job(**job_request(healthy["role"], manifest))["JobId"]
    job = run_to_end(batch, s3control, job_id)
    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "ManifestNotFound"
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 0


def test_wrong_manifest_etag_fails_the_job_but_a_quoted_etag_is_accepted(
    s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    wrong = json.loads(json.dumps(healthy["manifest"]))
    wrong["Location"]["ETag"] = "0" * 32
    failed_id = s3control.create_job(**job_request(healthy["role"], wrong, token="wrong"))["JobId"]
    quoted = json.loads(json.dumps(healthy["manifest"]))
    quoted["Location"]["ETag"] = f'"{quoted["Location"]["ETag"]}"'
    ok_id = s3control.create_job(**job_request(healthy["role"], quoted, token="quoted"))["JobId"]
    batch.process_jobs()
    failed = describe(s3control, failed_id)
    assert failed["Status"] == "Failed"
    assert failed["FailureReasons"][0]["FailureCode"] == "ManifestETagMismatch"
    assert describe(s3control, ok_id)["Status"] == "Complete"


def test_csv_manifest_with_a_header_row_fails_the_job(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    rows = ["Bucket,Key,VersionId\n", *rows_for("src", healthy["versions"])]
    manifest = put_manifest(account, rows, key="manifests/with-header.csv")
    job = run_to_end(
        batch, s3control, s3control.create_job(**job_request(healthy["role"], manifest))["JobId"]
    )
    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "InvalidManifest"
    assert "header" in job["FailureReasons"][0]["FailureReason"]


def test_lowercase_header_row_naming_another_bucket_fails_the_job(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    rows = ["bucket,key,versionid\n", *rows_for("src", healthy["versions"])]
    manifest = put_manifest(account, rows, key="manifests/lower-header.csv")
    job = run_to_end(
        batch, s3control, s3control.create_job(**job_request(healthy["role"], manifest))["JobId"]
    )
    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "InvalidManifest"


def test_kms_encrypted_csv_manifest_fails_the_job(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    key_id = account.client("kms").create_key()["KeyMetadata"]["KeyId"]
    manifest = put_manifest(
        account,
        rows_for("src", healthy["versions"]),
        key="manifests/kms.csv",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_id,
    )
    job = run_to_end(
        batch, s3control, s3control.create_job(**job_request(healthy["role"], manifest))["JobId"]
    )
    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "ManifestEncryptionNotSupported"


def test_manifest_mixing_rows_with_and_without_version_ids_fails_the_job(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    (key_a, version_a), (key_b, _) = healthy["versions"]
    with_version = rows_for("src", [(key_a, version_a)])
    without_version = [row.rsplit(",", 1)[0] + "\n" for row in rows_for("src", [(key_b, "x")])]
    manifest = put_manifest(account, with_version + without_version, key="manifests/mixed.csv")
    job = run_to_end(
        batch, s3control, s3control.create_job(**job_request(healthy["role"], manifest))["JobId"]
    )
    assert job["Status"] == "Failed"
    assert "version ID" in job["FailureReasons"][0]["FailureReason"]


@pytest.mark.parametrize("trusted_service", ["s3.amazonaws.com", None])
def test_job_role_not_assumable_by_batch_operations_fails_the_job(
    account: Account,
    s3control: Any,
    batch: BatchOperationsEmulator,
    healthy: dict[str, Any],
    trusted_service: str | None,
) -> None:
    # Given a role trusting only s3.amazonaws.com, or no role at all
    if trusted_service:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": trusted_service}, "Action": "sts:AssumeRole"}
            ],
        }
        role = batch_role(account, "OnlyS3Trusted", trust=trust)
    else:
        role = f"arn:aws:iam::{ACCOUNT}:role/DoesNotExist"
    job = run_to_end(
        batch, s3control, s3control.create_job(**job_request(role, healthy["manifest"]))["JobId"]
    )
    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "AssumeRoleNotPermitted"


def test_missing_report_bucket_fails_the_job(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    request = job_request(healthy["role"], healthy["manifest"])
    request["Report"]["Bucket"] = "arn:aws:s3:::no-such-reports"
    job = run_to_end(batch, s3control, s3control.create_job(**request)["JobId"])
    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureReason"].startswith(
        "The job report could not be written to your report bucket"
    )


def test_report_bucket_the_role_may_not_write_fails_the_job(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    role = batch_role(account, "NoReportWrite", report_on="arn:aws:s3:::elsewhere/*")
    job = run_to_end(
        batch, s3control, s3control.create_job(**job_request(role, healthy["manifest"]))["JobId"]
    )
    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "ReportNotWritable"


# --- lifecycle -----------------------------------------------------------------------------------


def test_job_walks_every_status_to_complete_one_step_at_a_time(
    s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    # Given a job that needs no confirmation
    job_id = s3control.create_job(**job_request(healthy["role"], healthy["manifest"], Description="redrive"))[
        "JobId"
    ]
    # Then it starts New, and moves one status per step until it is Complete
    seen = [describe(s3control, job_id)["Status"]]
    while seen[-1] not in ("Complete", "Failed", "Cancelled"):
        batch.advance(job_id)
        seen.append(describe(s3control, job_id)["Status"])
    assert seen == ["New", "Preparing", "Ready", "Active", "Completing", "Complete"]
    job = describe(s3control, job_id)
    assert job["JobArn"] == f"arn:aws:s3:{REGION}:{ACCOUNT}:job/{job_id}"
    assert job["Description"] == "redrive"
    assert job["Operation"] == {"S3ReplicateObject": {}}
    assert job["Manifest"] == healthy["manifest"]
    assert job["RoleArn"] == healthy["role"]
    assert job["ConfirmationRequired"] is False
    assert isinstance(job["CreationTime"], datetime) and job["CreationTime"].tzinfo is not None
    assert isinstance(job["TerminationDate"], datetime)
    assert job["ProgressSummary"] == {
        "TotalNumberOfTasks": 2,
        "NumberOfTasksSucceeded": 2,
        "NumberOfTasksFailed": 0,
        "Timers": {
            "ElapsedTimeInActiveSeconds": job["ProgressSummary"]["Timers"]["ElapsedTimeInActiveSeconds"]
        },
    }
    assert "FailureReasons" not in job


def test_confirmation_required_job_waits_suspended_until_set_ready(
    s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    # Given a job created with ConfirmationRequired
    job_id = s3control.create_job(
        **job_request(healthy["role"], healthy["manifest"], ConfirmationRequired=True)
    )["JobId"]
    batch.process_jobs()
    job = describe(s3control, job_id)
    assert job["Status"] == "Suspended"
    assert isinstance(job["SuspendedDate"], datetime)
    assert job["SuspendedCause"]
    # When nothing confirms it, it stays Suspended
    assert batch.process_jobs() == 0
    # When it is confirmed
    updated = s3control.update_job_status(
        AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Ready", StatusUpdateReason="approved"
    )
    assert updated["Status"] == "Ready"
    assert updated["StatusUpdateReason"] == "approved"
    batch.process_jobs()
    # Then it runs to the end
    job = describe(s3control, job_id)
    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    # And a finished job cannot be set Ready or cancelled
    with pytest.raises(s3control.exceptions.JobStatusException):
        s3control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Ready")
    with pytest.raises(s3control.exceptions.JobStatusException):
        s3control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Cancelled")


def test_ready_is_refused_for_a_job_that_is_not_suspended(
    s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    job_id = s3control.create_job(**job_request(healthy["role"], healthy["manifest"]))["JobId"]
    with pytest.raises(s3control.exceptions.JobStatusException):
        s3control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Ready")
    # botocore does not check the enum; the service accepts only Ready and Cancelled
    with pytest.raises(s3control.exceptions.BadRequestException):
        s3control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Paused")
    assert describe(s3control, job_id)["Status"] == "New"


def test_cancelling_an_active_job_stops_its_tasks_and_reports_what_ran(
    account: Account, engine: ReplicationEngine, healthy: dict[str, Any]
) -> None:
    # Given an emulator running one task per step, and a job that has run one of its two tasks
    batch = BatchOperationsEmulator(account.endpoint, REGION, ACCOUNT, replication=engine, tasks_per_step=1)
    s3control = own_s3control(batch)
    job_id = s3control.create_job(**job_request(healthy["role"], healthy["manifest"]))["JobId"]
    for _ in range(4):  # New -> Preparing -> Ready -> Active -> first task
        batch.advance(job_id)
    assert describe(s3control, job_id)["Status"] == "Active"
    # When the job is cancelled
    response = s3control.update_job_status(
        AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Cancelled", StatusUpdateReason="operator"
    )
    assert response["Status"] == "Cancelling"
    batch.process_jobs()
    # Then it ends Cancelled, the second task never ran, and the report covers the first
    job = describe(s3control, job_id)
    assert job["Status"] == "Cancelled"
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    _, rows = read_report(account, job_id)
    assert len(rows) == 1


def test_cancelling_a_suspended_job_is_immediate_and_writes_no_report(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    job_id = s3control.create_job(
        **job_request(healthy["role"], healthy["manifest"], ConfirmationRequired=True)
    )["JobId"]
    batch.process_jobs()
    response = s3control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Cancelled")
    assert response["Status"] == "Cancelled"
    assert "Contents" not in account.s3.list_objects_v2(Bucket="reports")


def test_unknown_job_and_job_of_another_region_are_not_found(
    caller_session: boto3.Session, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    with pytest.raises(s3control.exceptions.NotFoundException):
        s3control.describe_job(AccountId=ACCOUNT, JobId="00000000-0000-0000-0000-000000000000")
    job_id = s3control.create_job(**job_request(healthy["role"], healthy["manifest"]))["JobId"]
    elsewhere = s3control_for(caller_session, batch, region="eu-west-1")
    with pytest.raises(elsewhere.exceptions.NotFoundException):
        elsewhere.describe_job(AccountId=ACCOUNT, JobId=job_id)
    with pytest.raises(s3control.exceptions.NotFoundException):
        s3control.update_job_status(AccountId=ACCOUNT, JobId="nope-nope", RequestedJobStatus="Cancelled")


def test_list_jobs_filters_by_status_and_pages_with_next_token(
    s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    # Given five jobs, two of them waiting for confirmation
    created = [
        s3control.create_job(
            **job_request(healthy["role"], healthy["manifest"], token=f"t{n}", ConfirmationRequired=n < 2)
        )["JobId"]
        for n in range(5)
    ]
    batch.process_jobs()
    # When listing two at a time
    pages, token = [], None
    while True:
        kwargs: dict[str, Any] = {"AccountId": ACCOUNT, "MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        page = s3control.list_jobs(**kwargs)
        pages.append(page["Jobs"])
        token = page.get("NextToken")
        if not token:
            break
    # Then every job appears once, newest first
    listed = [job["JobId"] for page in pages for job in page]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(listed) == sorted(created)
    assert listed == list(reversed(created))
    first = pages[0][0]
    assert first["Operation"] == "S3ReplicateObject"
    assert isinstance(first["CreationTime"], datetime)
    assert first["ProgressSummary"]["TotalNumberOfTasks"] == 2
    # And the status filter keeps only the Suspended ones
    suspended = s3control.list_jobs(AccountId=ACCOUNT, JobStatuses=["Suspended"])["Jobs"]
    assert sorted(job["JobId"] for job in suspended) == sorted(created[:2])
    with pytest.raises(s3control.exceptions.InvalidNextTokenException):
        s3control.list_jobs(AccountId=ACCOUNT, NextToken="not-a-token")


def test_update_job_priority(s3control: Any, healthy: dict[str, Any]) -> None:
    job_id = s3control.create_job(**job_request(healthy["role"], healthy["manifest"]))["JobId"]
    assert s3control.update_job_priority(AccountId=ACCOUNT, JobId=job_id, Priority=77)["Priority"] == 77
    assert describe(s3control, job_id)["Priority"] == 77
    with pytest.raises(s3control.exceptions.BadRequestException):
        s3control.update_job_priority(AccountId=ACCOUNT, JobId=job_id, Priority=2**31)


def test_sync_execution_finishes_the_job_inside_create_job(
    account: Account, engine: ReplicationEngine, healthy: dict[str, Any]
) -> None:
    batch = BatchOperationsEmulator(account.endpoint, REGION, ACCOUNT, replication=engine, execution="sync")
    s3control = own_s3control(batch)
    job_id = s3control.create_job(**job_request(healthy["role"], healthy["manifest"]))["JobId"]
    assert describe(s3control, job_id)["Status"] == "Complete"


# --- tasks decided from the account's real state --------------------------------------------------


def test_tasks_succeed_to_a_healthy_destination_and_fail_to_an_unversioned_one(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, engine: ReplicationEngine
) -> None:
    # Given two sources: one replicating to a versioned destination, one to a destination without versioning
    replicated_pair(account, "src-ok", "dst-ok")
    replicated_pair(account, "src-bad", "dst-bad", destination_versioned=False)
    make_bucket(account, "reports", versioned=False)
    role = batch_role(account)
    ok_versions = put_versions(account, "src-ok", ["a.txt"])
    bad_versions = put_versions(account, "src-bad", ["b.txt"])
    ok_job = s3control.create_job(
        **job_request(
            role, put_manifest(account, rows_for("src-ok", ok_versions), key="m/ok.csv"), token="ok"
        )
    )["JobId"]
    bad_job = s3control.create_job(
        **job_request(
            role, put_manifest(account, rows_for("src-bad", bad_versions), key="m/bad.csv"), token="bad"
        )
    )["JobId"]
    # When the jobs run
    batch.process_jobs()
    # Then the healthy one replicated the object, the other failed with S3's reason
    assert describe(s3control, ok_job)["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    assert account.s3.get_object(Bucket="dst-ok", Key="a.txt")["Body"].read() == b"body of a.txt"
    assert engine.replication_status("src-ok", "a.txt", ok_versions[0][1]) == "COMPLETED"
    bad = describe(s3control, bad_job)
    assert bad["Status"] == "Complete"  # fewer than 1,000 tasks: failures do not fail the job
    assert bad["ProgressSummary"]["NumberOfTasksFailed"] == 1
    _, rows = read_report(account, bad_job)
    assert rows == [
        ["src-bad", "b.txt", bad_versions[0][1], "failed", "400", "DstBucketUnversioned", rows[0][6]],
    ]
    assert "dst-bad" in rows[0][6]


def test_task_fails_when_the_job_role_may_not_initiate_replication(
    account: Account, s3control: Any, batch: BatchOperationsEmulator
) -> None:
    replicated_pair(account, "src", "dst")
    make_bucket(account, "reports", versioned=False)
    role = batch_role(account, initiate_on="arn:aws:s3:::src/allowed/*")
    versions = put_versions(account, "src", ["allowed/a", "denied/b"])
    job_id = s3control.create_job(**job_request(role, put_manifest(account, rows_for("src", versions))))[
        "JobId"
    ]
    batch.process_jobs()
    _, rows = read_report(account, job_id)
    outcomes = {row[1]: (row[3], row[4], row[5]) for row in rows}
    assert outcomes == {
        "allowed/a": ("succeeded", "200", ""),
        "denied/b": ("failed", "403", "InitiateReplicationNotPermitted"),
    }


def test_tasks_fail_without_replication_configuration_or_in_another_region(
    account: Account, s3control: Any, batch: BatchOperationsEmulator
) -> None:
    make_bucket(account, "no-config")
    make_bucket(account, "far-away", region="eu-west-1")
    make_bucket(account, "reports", versioned=False)
    role = batch_role(account)
    local = put_versions(account, "no-config", ["k"])
    far = [
        (
            "k",
            account.client("s3", "eu-west-1").put_object(Bucket="far-away", Key="k", Body=b"x")["VersionId"],
        )
    ]
    no_config_job = s3control.create_job(
        **job_request(role, put_manifest(account, rows_for("no-config", local), key="m/1.csv"), token="1")
    )["JobId"]
    far_job = s3control.create_job(
        **job_request(role, put_manifest(account, rows_for("far-away", far), key="m/2.csv"), token="2")
    )["JobId"]
    batch.process_jobs()
    assert read_report(account, no_config_job)[1][0][5] == "SrcBucketReplicationConfigMissing"
    assert read_report(account, far_job)[1][0][5] == "SrcBucketInvalidRegion"


def test_task_for_a_version_that_no_longer_exists_fails_with_s3s_reason(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    (key, version), _ = healthy["versions"]
    account.s3.delete_object(Bucket="src", Key=key, VersionId=version)
    job_id = s3control.create_job(**job_request(healthy["role"], healthy["manifest"]))["JobId"]
    batch.process_jobs()
    rows = {row[1]: row for row in read_report(account, job_id)[1]}
    assert rows[key][3:6] == ["failed", "404", "SrcKeyNotFound"]
    assert rows[key][6] == f"The key {key} no longer exists in src"
    assert rows["data/b%20c%2Cd.txt"][3] == "succeeded"


# --- the 50%-of-1,000 circuit breaker -------------------------------------------------------------


def test_job_fails_once_more_than_half_of_at_least_1000_tasks_failed(
    account: Account, s3control: Any, batch: BatchOperationsEmulator
) -> None:
    # Given 1,200 tasks: ten real versions the role may replicate, then rows it may not initiate
    replicated_pair(account, "src", "dst")
    make_bucket(account, "reports", versioned=False)
    role = batch_role(account, initiate_on="arn:aws:s3:::src/ok/*")
    ok = put_versions(account, "src", [f"ok/{n}" for n in range(10)])
    denied = [(f"denied/{n}", ok[0][1]) for n in range(1190)]
    manifest = put_manifest(account, rows_for("src", ok + denied))
    job_id = s3control.create_job(**job_request(role, manifest, report_scope="FailedTasksOnly"))["JobId"]
    # When it runs
    statuses = []
    while batch.status(job_id) not in ("Complete", "Failed", "Cancelled"):
        batch.advance(job_id)
        statuses.append(batch.status(job_id))
    # Then it stops after the 1,000th task and fails
    job = describe(s3control, job_id)
    assert statuses[-2:] == ["Failing", "Failed"]
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 1200
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 10
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 990
    assert job["FailureReasons"][0]["FailureCode"] == "TaskFailureThresholdExceeded"
    # And the report covers the tasks that ran (failed ones only, as asked)
    document, rows = read_report(account, job_id)
    assert [result["TaskExecutionStatus"] for result in document["Results"]] == ["failed"]
    assert len(rows) == 990


def test_job_with_fewer_than_1000_tasks_completes_even_if_all_fail(
    account: Account, s3control: Any, batch: BatchOperationsEmulator
) -> None:
    replicated_pair(account, "src", "dst")
    make_bucket(account, "reports", versioned=False)
    role = batch_role(account, initiate_on="arn:aws:s3:::nowhere/*")
    versions = put_versions(account, "src", ["a"])
    manifest = put_manifest(account, rows_for("src", versions * 999))
    job_id = s3control.create_job(**job_request(role, manifest))["JobId"]
    batch.process_jobs()
    job = describe(s3control, job_id)
    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 999


# --- completion report ----------------------------------------------------------------------------


def test_completion_report_is_written_in_aws_format(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    # Given a job over two versions, one of which is gone by the time the job runs
    (key_a, version_a), (key_b, version_b) = healthy["versions"]
    account.s3.delete_object(Bucket="src", Key=key_b, VersionId=version_b)
    job_id = s3control.create_job(**job_request(healthy["role"], healthy["manifest"]))["JobId"]
    batch.process_jobs()
    # Then the top-level manifest.json names one results file per task status
    document, rows = read_report(account, job_id)
    assert document["Format"] == "Report_CSV_20180820"
    assert (
        document["ReportSchema"]
        == "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
    )
    assert datetime.strptime(document["ReportCreationDate"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert sorted(r["TaskExecutionStatus"] for r in document["Results"]) == ["failed", "succeeded"]
    for result in document["Results"]:
        assert result["Bucket"] == "reports"
        assert result["Key"].startswith(f"batch-reports/job-{job_id}/results/")
        assert result["Key"].endswith(".csv")
        head = account.s3.head_object(Bucket="reports", Key=result["Key"])
        assert head["ServerSideEncryption"] == "AES256"
    # And the rows carry the HTTP status before the error code, keys URL-encoded, no header
    by_status = {row[3]: row for row in rows}
    assert by_status["succeeded"] == ["src", key_a, version_a, "succeeded", "200", "", "Successful"]
    assert by_status["failed"][:6] == [
        "src",
        "data/b%20c%2Cd.txt",
        version_b,
        "failed",
        "404",
        "SrcKeyNotFound",
    ]
    assert by_status["failed"][6] == "The key data/b c,d.txt no longer exists in src"
    raw = (
        account.s3.get_object(
            Bucket="reports",
            Key=next(r["Key"] for r in document["Results"] if r["TaskExecutionStatus"] == "failed"),
        )["Body"]
        .read()
        .decode()
    )
    assert raw.startswith("src,data/b%20c%2Cd.txt,") and ',failed,404,SrcKeyNotFound,"The key' in raw


def test_failed_tasks_only_report_and_disabled_report(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    failed_only = s3control.create_job(
        **job_request(healthy["role"], healthy["manifest"], token="f", report_scope="FailedTasksOnly")
    )["JobId"]
    no_report = s3control.create_job(
        **job_request(healthy["role"], healthy["manifest"], token="n", Report={"Enabled": False})
    )["JobId"]
    batch.process_jobs()
    document, rows = read_report(account, failed_only)
    assert document["Results"] == [] and rows == []  # every task succeeded
    listed = [o["Key"] for o in account.s3.list_objects_v2(Bucket="reports").get("Contents", [])]
    assert not any(no_report in key for key in listed)
    assert describe(s3control, no_report)["Status"] == "Complete"


# --- generated manifests --------------------------------------------------------------------------


def generator_request(role: str, source: str = "src", **filters: Any) -> dict[str, Any]:
    return job_request(
        role,
        None,
        token=json.dumps(filters, sort_keys=True, default=str),
        ManifestGenerator={
            "S3JobManifestGenerator": {
                "ExpectedBucketOwner": ACCOUNT,
                "SourceBucket": f"arn:aws:s3:::{source}",
                "EnableManifestOutput": True,
                "ManifestOutputLocation": {
                    "Bucket": "arn:aws:s3:::manifests",
                    "ManifestPrefix": "generated",
                    "ManifestFormat": "S3InventoryReport_CSV_20211130",
                },
                "Filter": filters,
            }
        },
    )


def test_generated_manifest_selects_failed_versions_and_is_written_out(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, engine: ReplicationEngine
) -> None:
    # Given versions whose live replication failed (destination versioning was off), one that
    # replicated, and one never attempted
    replicated_pair(account, "src", "dst")
    make_bucket(account, "reports", versioned=False)
    make_bucket(account, "manifests", versioned=False)
    role = batch_role(account)
    never = put_versions(account, "src", ["never"])
    done = put_versions(account, "src", ["done"])
    engine.replicate_version("src", *done[0], trigger="live")
    account.s3.put_bucket_versioning(Bucket="dst", VersioningConfiguration={"Status": "Suspended"})
    failed = put_versions(account, "src", ["failed/1", "failed/2"])
    for key, version in failed:
        engine.replicate_version("src", key, version, trigger="live")
    assert {engine.replication_status("src", k, v) for k, v in failed} == {"FAILED"}
    # When the cause is fixed and a generated-manifest job re-drives FAILED versions
    account.s3.put_bucket_versioning(Bucket="dst", VersioningConfiguration={"Status": "Enabled"})
    job_id = s3control.create_job(
        **generator_request(role, EligibleForReplication=True, ObjectReplicationStatuses=["FAILED"])
    )["JobId"]
    batch.process_jobs()
    # Then exactly the failed versions were tasks, and they replicated
    job = describe(s3control, job_id)
    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 2
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    assert {engine.replication_status("src", k, v) for k, v in failed} == {"COMPLETED"}
    assert engine.replication_status("src", *never[0]) is None
    # And the generated manifest was written where asked, in the inventory format
    descriptor = job["GeneratedManifestDescriptor"]
    assert descriptor["Format"] == "S3InventoryReport_CSV_20211130"
    bucket, key = descriptor["Location"]["ObjectArn"].removeprefix("arn:aws:s3:::").split("/", 1)
    assert key == f"generated/job-{job_id}/manifest.json"
    stored = account.s3.get_object(Bucket=bucket, Key=key)
    assert stored["ETag"].strip('"') == descriptor["Location"]["ETag"]
    document = json.loads(stored["Body"].read())
    assert document["fileFormat"] == "CSV" and document["fileSchema"] == "Bucket, Key, VersionId"
    data = account.s3.get_object(Bucket=bucket, Key=document["files"][0]["key"])["Body"].read().decode()
    assert sorted(csv.reader(io.StringIO(data))) == sorted(["src", k, v] for k, v in failed)
    assert job["ManifestGenerator"]["S3JobManifestGenerator"]["Filter"]["ObjectReplicationStatuses"] == [
        "FAILED"
    ]


def test_generated_manifest_none_status_name_created_and_size_filters(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, engine: ReplicationEngine
) -> None:
    replicated_pair(account, "src", "dst")
    make_bucket(account, "reports", versioned=False)
    make_bucket(account, "manifests", versioned=False)
    role = batch_role(account)
    put_versions(account, "src", ["logs/a.log", "logs/b.txt", "data/c.log"])
    account.s3.put_object(Bucket="src", Key="logs/big.log", Body=b"x" * 5000)
    done = put_versions(account, "src", ["logs/done.log"])
    engine.replicate_version("src", *done[0], trigger="live")
    jobs = {
        "never-attempted logs": generator_request(
            role,
            ObjectReplicationStatuses=["NONE"],
            KeyNameConstraint={"MatchAnyPrefix": ["logs/"], "MatchAnySuffix": [".log"]},
        ),
        "small": generator_request(
            role, ObjectSizeLessThanBytes=1000, KeyNameConstraint={"MatchAnySubstring": ["c."]}
        ),
        "future": generator_request(role, CreatedAfter=datetime.now(UTC) + timedelta(days=1)),
    }
    ids = {name: s3control.create_job(**request)["JobId"] for name, request in jobs.items()}
    batch.process_jobs()

    def generated_keys(job_id: str) -> list[str]:
        document = read_generated(account, describe(s3control, job_id))
        return sorted(row[1] for row in document)

    assert generated_keys(ids["never-attempted logs"]) == ["logs/a.log", "logs/big.log"]
    assert generated_keys(ids["small"]) == ["data/c.log"]
    future = describe(s3control, ids["future"])
    assert future["Status"] == "Failed"
    assert (
        future["FailureReasons"][0]["FailureReason"]
        == "Manifest generation found no keys matching the filter criteria"
    )


def read_generated(account: Account, job: dict[str, Any]) -> list[list[str]]:
    bucket, key = (
        job["GeneratedManifestDescriptor"]["Location"]["ObjectArn"]
        .removeprefix("arn:aws:s3:::")
        .split("/", 1)
    )
    document = json.loads(account.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    rows: list[list[str]] = []
    for item in document["files"]:
        data = account.s3.get_object(Bucket=bucket, Key=item["key"])["Body"].read().decode()
        rows.extend([row[0], unquote_plus(row[1]), row[2]] for row in csv.reader(io.StringIO(data)))
    return rows


# --- job events ------------------------------------------------------------------------------------


def test_job_events_reach_the_default_bus_in_cloudtrail_shape(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    # Given an EventBridge rule on the default bus with the documented pattern, delivering to SQS,
    # and a sink registered on the emulator
    queue_url = account.sqs.create_queue(QueueName="job-events")["QueueUrl"]
    queue_arn = account.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    account.events.put_rule(Name="batch-jobs", EventPattern=json.dumps(JOB_EVENT_PATTERN))
    account.events.put_targets(Rule="batch-jobs", Targets=[{"Id": "queue", "Arn": queue_arn}])
    sunk: list[dict[str, Any]] = []
    batch.add_event_sink(sunk.append)
    # When a job runs to the end
    job_id = s3control.create_job(**job_request(healthy["role"], healthy["manifest"]))["JobId"]
    batch.process_jobs()
    # Then one JobCreated and one JobStatusChanged per status change arrive, in order
    delivered: list[dict[str, Any]] = []
    while True:
        messages = account.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for message in messages:
            delivered.append(json.loads(message["Body"]))
            account.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    for events in (delivered, sunk):
        details = [event["detail"] for event in events]
        assert [(d["eventName"], d["serviceEventDetails"]["status"]) for d in details] == [
            ("JobCreated", "New"),
            ("JobStatusChanged", "Preparing"),
            ("JobStatusChanged", "Ready"),
            ("JobStatusChanged", "Active"),
            ("JobStatusChanged", "Completing"),
            ("JobStatusChanged", "Complete"),
        ]
        for event in events:
            assert event["source"] == "aws.s3"
            assert event["detail-type"] == "AWS Service Event via CloudTrail"
            assert event["region"] == REGION
            detail = event["detail"]
            assert detail["eventSource"] == "s3.amazonaws.com"
            assert detail["eventType"] == "AwsServiceEvent"
            assert detail["userIdentity"] == {"accountId": ACCOUNT, "invokedBy": "s3.amazonaws.com"}
            service = detail["serviceEventDetails"]
            assert service["jobId"] == job_id
            assert service["jobArn"] == f"arn:aws:s3:{REGION}:{ACCOUNT}:job/{job_id}"
            assert service["failureCodes"] == [] and service["statusChangeReason"] == []
    assert sunk[0]["account"] == ACCOUNT


def test_failed_job_event_carries_failure_codes(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, healthy: dict[str, Any]
) -> None:
    sunk: list[dict[str, Any]] = []
    batch.add_event_sink(sunk.append)
    role = batch_role(account, "Untrusted", trust={"Version": "2012-10-17", "Statement": []})
    s3control.create_job(**job_request(role, healthy["manifest"]))
    batch.process_jobs()
    last = sunk[-1]["detail"]["serviceEventDetails"]
    assert last["status"] == "Failed"
    assert last["failureCodes"] == ["AssumeRoleNotPermitted"]
    assert last["statusChangeReason"] and "cannot assume" in last["statusChangeReason"][0]


def test_generated_manifest_needs_the_documented_permissions_on_the_source(
    account: Account, s3control: Any, batch: BatchOperationsEmulator
) -> None:
    # Given a job role with everything but s3:PutInventoryConfiguration on the source bucket
    replicated_pair(account, "src", "dst")
    make_bucket(account, "reports", versioned=False)
    make_bucket(account, "manifests", versioned=False)
    role = make_role(
        account,
        "NoInventory",
        BATCH_TRUST,
        [
            {"Effect": "Allow", "Action": "s3:InitiateReplication", "Resource": "arn:aws:s3:::*/*"},
            {"Effect": "Allow", "Action": "s3:GetReplicationConfiguration", "Resource": "arn:aws:s3:::*"},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::*/*"},
        ],
    )
    put_versions(account, "src", ["a.txt"])
    # When a generated-manifest job runs / Then it fails while preparing, naming the action
    job_id = s3control.create_job(**generator_request(role, EligibleForReplication=True))["JobId"]
    batch.process_jobs()
    job = describe(s3control, job_id)
    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "ManifestGenerationNotPermitted"
    assert "s3:PutInventoryConfiguration" in job["FailureReasons"][0]["FailureReason"]


def test_generated_manifest_keeps_only_versions_eligible_for_an_enabled_rule(
    account: Account, s3control: Any, batch: BatchOperationsEmulator, engine: ReplicationEngine
) -> None:
    # Given a source whose only rule (put through a hooked client, as production would) covers logs/
    replicated_pair(account, "src", "dst")
    make_bucket(account, "reports", versioned=False)
    make_bucket(account, "manifests", versioned=False)
    role = batch_role(account)
    configuration = account.s3.get_bucket_replication(Bucket="src")["ReplicationConfiguration"]
    configuration["Rules"][0]["Filter"] = {"Prefix": "logs/"}
    hooked = boto3.Session(region_name=REGION)
    hooks.install(hooked, engine.handlers())
    hooked.client("s3", endpoint_url=account.endpoint).put_bucket_replication(
        Bucket="src", ReplicationConfiguration=configuration
    )
    put_versions(account, "src", ["logs/in.log", "data/out.bin"])
    # When a generated manifest asks for eligible versions
    job_id = s3control.create_job(**generator_request(role, EligibleForReplication=True))["JobId"]
    batch.process_jobs()
    # Then only the version under the rule's prefix is a task
    job = describe(s3control, job_id)
    assert [row[1] for row in read_generated(account, job)] == ["logs/in.log"]
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1


def test_a_generated_manifest_can_drive_a_later_job_as_an_inventory_manifest(
    account: Account, s3control: Any, batch: BatchOperationsEmulator
) -> None:
    replicated_pair(account, "src", "dst")
    make_bucket(account, "reports", versioned=False)
    make_bucket(account, "manifests", versioned=False)
    role = batch_role(account)
    put_versions(account, "src", ["a b.txt", "c.txt"])
    first = s3control.create_job(**generator_request(role))["JobId"]
    batch.process_jobs()
    descriptor = describe(s3control, first)["GeneratedManifestDescriptor"]
    manifest = {"Spec": {"Format": descriptor["Format"]}, "Location": descriptor["Location"]}
    second = s3control.create_job(**job_request(role, manifest, token="again"))["JobId"]
    batch.process_jobs()
    job = describe(s3control, second)
    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2


def test_background_execution_advances_jobs_without_being_asked(
    account: Account, engine: ReplicationEngine, healthy: dict[str, Any]
) -> None:
    batch = BatchOperationsEmulator(account.endpoint, REGION, ACCOUNT, replication=engine)
    s3control = own_s3control(batch)
    batch.start_background(interval=0.01)
    try:
        job_id = s3control.create_job(**job_request(healthy["role"], healthy["manifest"]))["JobId"]
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while describe(s3control, job_id)["Status"] != "Complete" and datetime.now(UTC) < deadline:
            threading.Event().wait(0.05)
    finally:
        batch.stop_background()
    assert describe(s3control, job_id)["Status"] == "Complete"


# --- the circuit breaker's arithmetic, with instant task outcomes -----------------------------------


@dataclass(frozen=True)
class _Outcome:
    destination_bucket: str
    rule_id: str | None
    status: str
    failure_reason: str | None


class InstantEngine:
    """Decides a task from its key alone (``bad/`` fails), so 1,000 tasks take no HTTP calls: this
    tests only the threshold arithmetic; the tests above use the real engine."""

    def replicate_version(
        self, source_bucket: str, key: str, version_id: str, *, trigger: str = "live"
    ) -> list[Any]:
        if key.startswith("bad/"):
            return [_Outcome("dst", "rule", "FAILED", "DstPutObjectNotPermitted")]
        return [_Outcome("dst", "rule", "COMPLETED", None)]

    def replication_status(self, bucket: str, key: str, version_id: str) -> str | None:
        return None


@pytest.mark.parametrize(("failing", "expected"), [(500, "Complete"), (501, "Failed")])
def test_exactly_half_failing_completes_and_one_more_fails(
    account: Account, failing: int, expected: str
) -> None:
    replicated_pair(account, "src", "dst")
    make_bucket(account, "reports", versioned=False)
    role = batch_role(account)
    rows = [f"src,bad/{n},v\n" for n in range(failing)] + [f"src,good/{n},v\n" for n in range(1000 - failing)]
    batch = BatchOperationsEmulator(account.endpoint, REGION, ACCOUNT, replication=InstantEngine())
    s3control = own_s3control(batch)
    job_id = s3control.create_job(**job_request(role, put_manifest(account, rows)))["JobId"]
    batch.process_jobs()
    job = describe(s3control, job_id)
    assert job["Status"] == expected
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == failing
