"""A backfill world in moto: the ledger table (from template.yaml), S3 buckets (manifests, reports,
an inventory bucket), an in-memory Batch Operations (moto has none) and a FakeConfigReader for the
diagnosis gate."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest

from replimend.aws.s3 import S3Objects, S3Storage
from replimend.aws.s3control import backfill_job_kwargs
from replimend.backfill.pending import InventoryReader
from replimend.backfill.runner import Backfill
from replimend.ledger import Ledger
from replimend.ports import BackfillJobRequest, JobDescription, ListedJob
from replimend.remediate.gate import DiagnosisGate
from replimend.settings import BackfillSettings
from replimend.track.tracker import JobTracker
from tests.fakes import FakeConfigReader
from tests.integration.ledger_helpers import T0, FakeClock

ACCOUNT = "111122223333"
SOURCE = "src"
DEST = "dst"
DEST2 = "dst2"
MANIFESTS = "replimend-manifests"
REPORTS = "replimend-reports"
INVENTORY = "inventory-bucket"


class FakeBatchJobs:
    """Batch Operations as backfill and tracking see it: CreateJob records the request (as the
    adapter would send it), ListJobs answers the jobs not ended, DescribeJob what the test set."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.listed: list[ListedJob] = []
        self.described: dict[str, JobDescription] = {}
        self.on_list: Callable[[], None] | None = None

    def create_backfill_job(self, request: BackfillJobRequest) -> str:
        self.created.append(backfill_job_kwargs(request))
        job_id = f"job-{len(self.created)}"
        self.listed.append(ListedJob(job_id, "New", request.description, "S3ReplicateObject"))
        return job_id

    def find_job(self, region: str, tag: str) -> str | None:
        return next((j.job_id for j in self.listed if tag in j.description), None)

    def list_active_jobs(self, region: str) -> list[ListedJob]:
        if self.on_list is not None:
            hook, self.on_list = self.on_list, None
            hook()
        return [j for j in self.listed if j.status not in ("Complete", "Failed", "Cancelled")]

    def describe_job(self, job_id: str, region: str) -> JobDescription:
        return self.described[job_id]


class Alerts:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def publish(self, subject: str, message: str) -> None:
        self.sent.append((subject, message))


@dataclass
class World:
    ledger: Ledger
    s3: Any
    jobs: FakeBatchJobs
    reader: FakeConfigReader
    clock: FakeClock
    settings: BackfillSettings
    alerts: Alerts = field(default_factory=Alerts)

    def backfill(self, **overrides: Any) -> Backfill:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        return Backfill(
            ledger=self.ledger,
            jobs=self.jobs,
            reader=self.reader,
            gate=DiagnosisGate(self.ledger, self.reader),
            inventory=InventoryReader(self.reader, S3Storage(self.s3)),
            settings=settings,
            notifier=self.alerts,
            clock=self.clock,
        )

    def tracker(self) -> JobTracker:
        return JobTracker(
            ledger=self.ledger,
            jobs=self.jobs,
            storage=S3Storage(self.s3),
            objects=S3Objects(self.s3),
            settings=self.settings,
            clock=self.clock,
        )

    def add_destination(self, name: str) -> None:
        self.reader.buckets[name] = dict(self.reader.buckets[DEST])
        assert self.reader.config is not None
        rule = json.loads(json.dumps(self.reader.config["Rules"][0]))
        rule.update(ID=f"to-{name}", Priority=2)
        rule["Destination"]["Bucket"] = f"arn:aws:s3:::{name}"
        self.reader.config["Rules"].append(rule)
        self.s3.create_bucket(Bucket=name)
        self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    def write_report(self, job_id: str, rows: list[str], prefix: str = f"backfill-reports/{SOURCE}") -> None:
        """A completion report as Batch Operations writes it (aws-facts.md §4.2)."""
        results = f"{prefix}/job-{job_id}/results/abc.csv"
        self.s3.put_object(Bucket=REPORTS, Key=results, Body="".join(f"{r}\n" for r in rows).encode())
        document = {
            "Format": "Report_CSV_20180820",
            "ReportCreationDate": "2026-11-29T10:00:00Z",
            "Results": [
                {"TaskExecutionStatus": "succeeded", "Bucket": REPORTS, "MD5Checksum": "x", "Key": results}
            ],
            "ReportSchema": "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage",
        }
        self.s3.put_object(
            Bucket=REPORTS, Key=f"{prefix}/job-{job_id}/manifest.json", Body=json.dumps(document)
        )

    def write_inventory(self, rows: list[str], *, folder: str = "2026-11-29T00-00Z") -> None:
        """An inventory delivery as S3 writes it ("Locating your inventory list")."""
        self.reader.buckets[SOURCE]["inventories"] = [
            {
                "Id": "all",
                "IsEnabled": True,
                "IncludedObjectVersions": "All",
                "Destination": {
                    "S3BucketDestination": {
                        "Bucket": f"arn:aws:s3:::{INVENTORY}",
                        "Format": "CSV",
                        "Prefix": "inv",
                    }
                },
                "OptionalFields": ["Size", "LastModifiedDate", "ReplicationStatus"],
                "Schedule": {"Frequency": "Daily"},
            }
        ]
        data_key = f"inv/{SOURCE}/all/data/{folder}.csv.gz"
        self.s3.put_object(
            Bucket=INVENTORY, Key=data_key, Body=gzip.compress("".join(f"{r}\n" for r in rows).encode())
        )
        manifest = {
            "sourceBucket": SOURCE,
            "destinationBucket": f"arn:aws:s3:::{INVENTORY}",
            "version": "2016-11-30",
            "creationTimestamp": str(int(self.clock().timestamp() * 1000)),
            "fileFormat": "CSV",
            "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ReplicationStatus",
            "files": [{"key": data_key, "size": 1, "MD5checksum": "x"}],
        }
        self.s3.put_object(
            Bucket=INVENTORY, Key=f"inv/{SOURCE}/all/{folder}/manifest.json", Body=json.dumps(manifest)
        )


@pytest.fixture
def world(ledger_table: Any) -> Iterator[World]:
    clock = FakeClock(T0 + timedelta(days=30))
    ledger = Ledger(ledger_table, index_shards=4, clock=clock)
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in (SOURCE, DEST, MANIFESTS, REPORTS, INVENTORY):
        s3.create_bucket(Bucket=bucket)
    for bucket in (SOURCE, DEST):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    reader = FakeConfigReader(SOURCE, DEST)
    reader.buckets[DEST]["region"] = "us-east-1"
    settings = BackfillSettings.model_validate(
        {
            "LEDGER_TABLE": ledger_table.name,
            "ACCOUNT_ID": ACCOUNT,
            "MANIFEST_BUCKET": MANIFESTS,
            "REPORT_BUCKET": REPORTS,
            "BATCH_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/replimend-batch",
            "SOURCE_BUCKET_ARNS": f"arn:aws:s3:::{SOURCE}",
            "AWS_REGION": "us-east-1",
        }
    )
    yield World(ledger, s3, FakeBatchJobs(), reader, clock, settings)
