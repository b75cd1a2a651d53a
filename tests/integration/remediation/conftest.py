"""A remediation world in moto: ledger table (from template.yaml), source/manifest/report buckets,
and a Stubber-backed s3control client (moto has no Batch Operations)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from replimend.aws.s3 import S3Objects, S3Storage
from replimend.aws.s3control import BatchJobs
from replimend.ledger import Ledger
from replimend.models import (
    FAILED_REPLICATION,
    Action,
    Classification,
    ObjectRef,
    ObjectState,
    ReplicationEvent,
)
from replimend.ports import CauseGate
from replimend.reasons import reason_entry
from replimend.remediate.gate import IncidentFlagGate
from replimend.remediate.remediation import Remediation
from replimend.settings import RemediationSettings
from replimend.track.tracker import JobTracker
from tests.integration.ledger_helpers import T0, FakeClock

ACCOUNT = "111122223333"
SOURCE = "src-bucket"
DEST = "dst-bucket"
MANIFESTS = "replimend-manifests"
REPORTS = "replimend-reports"


def failure_event(
    *, key: str, version: str | None, destination: str, reason: str, at: datetime
) -> ReplicationEvent:
    identity = f"{SOURCE}|{key}|{version}|{destination}|{reason}|{at.isoformat()}"
    return ReplicationEvent(
        event_type=FAILED_REPLICATION,
        event_id=hashlib.sha256(identity.encode()).hexdigest()[:32],
        source_bucket=SOURCE,
        key=key,
        version_id=version,
        sequencer="0066DA1CBF104C0D51",
        region="us-east-1",
        event_time=at,
        destination_bucket_arn=f"arn:aws:s3:::{destination}",
        destination_bucket=destination,
        rule_id="rule-1",
        failure_reason=reason,
        s3_operation="OBJECT_PUT",
    )


@dataclass
class World:
    ledger: Ledger
    s3: Any
    s3control: Any
    stubber: Stubber
    clock: FakeClock
    settings: RemediationSettings
    calls: Counter[str] = field(default_factory=Counter)
    create_job_requests: list[dict[str, Any]] = field(default_factory=list)

    def remediation(self, *, gate: CauseGate | None = None, **overrides: Any) -> Remediation:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        return Remediation(
            ledger=self.ledger,
            gate=gate or IncidentFlagGate(self.ledger),
            objects=S3Objects(self.s3),
            storage=S3Storage(self.s3),
            jobs=BatchJobs(lambda region: self.s3control, ACCOUNT),
            settings=settings,
            clock=self.clock,
        )

    def tracker(self) -> JobTracker:
        return JobTracker(
            ledger=self.ledger,
            jobs=BatchJobs(lambda region: self.s3control, ACCOUNT),
            storage=S3Storage(self.s3),
            objects=S3Objects(self.s3),
            settings=self.settings,
            clock=self.clock,
        )

    def put_source_object(self, key: str, bucket: str = SOURCE) -> str:
        return str(self.s3.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"])

    def fail(
        self,
        key: str,
        *,
        reason: str = "DstVersionNotFound",
        version: str | None = None,
        destination: str = DEST,
        create: bool = True,
    ) -> str | None:
        """Record a replication failure of ``key`` (creating the source version unless told not to)."""
        if create and version is None:
            version = self.put_source_object(key)
        entry = reason_entry(reason)
        classification = Classification(entry.action, entry.category, reason, known=True)
        self.ledger.record_event(
            failure_event(key=key, version=version, destination=destination, reason=reason, at=T0),
            classification,
        )
        return version

    def expect_create_job(self, job_id: str, **expected: Any) -> None:
        """The next CreateJob answers ``job_id``; the request must hold ``expected`` (others: ANY)."""
        params: dict[str, Any] = {
            "AccountId": ACCOUNT,
            "ConfirmationRequired": False,
            "Operation": {"S3ReplicateObject": {}},
            "Manifest": ANY,
            "Report": {
                "Enabled": True,
                "Bucket": f"arn:aws:s3:::{REPORTS}",
                "Prefix": f"reports/{SOURCE}",
                "Format": "Report_CSV_20180820",
                "ReportScope": "AllTasks",
            },
            "Priority": 10,
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/replimend-batch",
            "ClientRequestToken": ANY,
            "Description": ANY,
        }
        params.update(expected)
        self.stubber.add_response("create_job", {"JobId": job_id}, expected_params=params)

    def expect_list_jobs(self, *jobs: tuple[str, str]) -> None:
        """The next ListJobs answers these (job id, description) pairs, in one page."""
        listed = [
            {
                "JobId": job_id,
                "Description": description,
                "Status": "Active",
                "Operation": "S3ReplicateObject",
            }
            for job_id, description in jobs
        ]
        self.stubber.add_response(
            "list_jobs", {"Jobs": listed}, expected_params={"AccountId": ACCOUNT, "MaxResults": 1000}
        )

    def expect_create_job_refused(self, code: str = "IdempotencyException") -> None:
        self.stubber.add_client_error("create_job", service_error_code=code, http_status_code=400)

    def expect_describe_job(
        self,
        job_id: str,
        status: str,
        *,
        succeeded: int = 0,
        failed: int = 0,
        failure_reasons: list[dict[str, str]] | None = None,
        **extra: Any,
    ) -> None:
        job: dict[str, Any] = {
            "JobId": job_id,
            "Status": status,
            "ProgressSummary": {
                "TotalNumberOfTasks": succeeded + failed,
                "NumberOfTasksSucceeded": succeeded,
                "NumberOfTasksFailed": failed,
            },
            "Report": {
                "Enabled": True,
                "Bucket": f"arn:aws:s3:::{REPORTS}",
                "Prefix": f"reports/{SOURCE}",
                "Format": "Report_CSV_20180820",
                "ReportScope": "AllTasks",
            },
            **extra,
        }
        if failure_reasons:
            job["FailureReasons"] = failure_reasons
        self.stubber.add_response(
            "describe_job", {"Job": job}, expected_params={"AccountId": ACCOUNT, "JobId": job_id}
        )

    def manifest_rows(self, key: str) -> list[str]:
        return self.s3.get_object(Bucket=MANIFESTS, Key=key)["Body"].read().decode().splitlines()

    def state_of(self, key: str, version: str | None, destination: str = DEST) -> ObjectState | None:
        record = self.ledger.get_failure(ObjectRef(SOURCE, key, version, destination))
        return record.state if record else None


@pytest.fixture
def world(ledger_table: Any) -> Iterator[World]:
    clock = FakeClock(T0 + timedelta(minutes=5))
    ledger = Ledger(ledger_table, index_shards=4, clock=clock)
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in (SOURCE, MANIFESTS, REPORTS):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=SOURCE, VersioningConfiguration={"Status": "Enabled"})
    s3control = boto3.client("s3control", region_name="us-east-1", endpoint_url="https://s3-control.test")
    settings = RemediationSettings.model_validate(
        {
            "LEDGER_TABLE": ledger_table.name,
            "ACCOUNT_ID": ACCOUNT,
            "MANIFEST_BUCKET": MANIFESTS,
            "REPORT_BUCKET": REPORTS,
            "BATCH_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/replimend-batch",
            "MAX_ATTEMPTS": "3",
            "BACKOFF_BASE_SECONDS": "600",
            "BACKOFF_MAX_SECONDS": "3600",
        }
    )
    with Stubber(s3control) as stubber:
        w = World(ledger, s3, s3control, stubber, clock, settings)

        def count(event_name: str, **_: Any) -> None:
            # before-call.<service>.<Operation>
            _, service, operation = event_name.split(".", 2)
            w.calls[f"{service}.{operation}"] += 1

        for client in (s3, s3control, ledger_table.meta.client):
            client.meta.events.register_first("before-call.*.*", count)

        def capture(params: dict[str, Any], **_: Any) -> None:
            w.create_job_requests.append(dict(params))

        s3control.meta.events.register("before-parameter-build.s3-control.CreateJob", capture)
        yield w


__all__ = ["ACCOUNT", "DEST", "MANIFESTS", "REPORTS", "SOURCE", "Action", "World"]
