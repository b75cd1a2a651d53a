"""S3 Inventory deliveries of the embedded account, read back with replimend's own inventory reader:
the documented location and manifest, URL-encoded keys, null versions, delete markers, the
replication statuses the replication emulator keeps (PENDING during a Region outage included), and
moto's ListBucketInventoryConfigurations answering OptionalFields as they were put."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from replimend.aws.config import AwsConfigReader
from replimend.aws.s3 import S3Storage
from replimend.backfill.inventory import InventoryRow
from replimend.backfill.pending import InventoryReader, find_stuck
from replimend_local.embedded import EmbeddedAws
from tests.moto_server import replication_role_statements

SRC, DST, INVENTORY = "inv-src", "inv-dst", "inv-reports"
WEST = "us-west-2"


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws() as embedded:
        yield embedded


@pytest.fixture
def s3(aws: EmbeddedAws) -> Iterator[Any]:
    aws.reset()
    aws.replication.reset()
    yield aws.client("s3")
    aws.replication.set_region_available(WEST, True)


def inventory_configuration(
    s3: Any, *, fields: list[str], versions: str = "All", prefix: str = "reports", enabled: bool = True
) -> None:
    s3.create_bucket(Bucket=INVENTORY)
    s3.put_bucket_inventory_configuration(
        Bucket=SRC,
        Id="replication",
        InventoryConfiguration={
            "Id": "replication",
            "IsEnabled": enabled,
            "IncludedObjectVersions": versions,
            "Destination": {
                "S3BucketDestination": {
                    "Bucket": f"arn:aws:s3:::{INVENTORY}",
                    "Format": "CSV",
                    "Prefix": prefix,
                }
            },
            "OptionalFields": fields,
            "Schedule": {"Frequency": "Daily"},
        },
    )


def replicated_source(aws: EmbeddedAws, s3: Any) -> None:
    """SRC (us-east-1) replicating everything to DST (us-west-2) through the documented role."""
    s3.create_bucket(Bucket=SRC)
    s3.put_bucket_versioning(Bucket=SRC, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=DST, CreateBucketConfiguration={"LocationConstraint": WEST})
    s3.put_bucket_versioning(Bucket=DST, VersioningConfiguration={"Status": "Enabled"})
    iam = aws.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="inv-replication", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    policy = {
        "Version": "2012-10-17",
        "Statement": replication_role_statements(SRC, [f"arn:aws:s3:::{DST}/*"]),
    }
    iam.put_role_policy(
        RoleName="inv-replication", PolicyName="replication", PolicyDocument=json.dumps(policy)
    )
    s3.put_bucket_replication(
        Bucket=SRC,
        ReplicationConfiguration={
            "Role": role["Arn"],
            "Rules": [
                {
                    "ID": "all",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{DST}"},
                }
            ],
        },
    )


def inventory_reader(aws: EmbeddedAws) -> InventoryReader:
    return InventoryReader(AwsConfigReader(aws.client), S3Storage(aws.client("s3")))


def read_rows(aws: EmbeddedAws, location: str) -> tuple[datetime | None, list[InventoryRow]]:
    reader = inventory_reader(aws)
    unreadable: list[str] = []
    created_at, rows = reader.rows(location, unreadable.append)
    listed = list(rows)
    assert unreadable == []
    return created_at, listed


def test_list_bucket_inventory_configurations_answers_the_optional_fields_as_put(
    aws: EmbeddedAws, s3: Any
) -> None:
    s3.create_bucket(Bucket=SRC)
    inventory_configuration(s3, fields=["ReplicationStatus"])
    [listed] = s3.list_bucket_inventory_configurations(Bucket=SRC)["InventoryConfigurationList"]
    assert listed["OptionalFields"] == ["ReplicationStatus"]
    inventory_configuration(s3, fields=["Size", "LastModifiedDate", "ReplicationStatus"])
    [listed] = s3.list_bucket_inventory_configurations(Bucket=SRC)["InventoryConfigurationList"]
    assert listed["OptionalFields"] == ["Size", "LastModifiedDate", "ReplicationStatus"]


def test_a_delivery_is_where_aws_documents_it_and_lists_every_version_with_its_status(
    aws: EmbeddedAws, s3: Any
) -> None:
    # Given a replicated source with an all-versions CSV inventory asking for ReplicationStatus
    replicated_source(aws, s3)
    inventory_configuration(s3, fields=["ReplicationStatus", "Size", "LastModifiedDate"])
    key = "photos/Été 2024/plage + soleil #1.jpg"
    first = s3.put_object(Bucket=SRC, Key=key, Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=SRC, Key=key, Body=b"second")["VersionId"]
    gone = s3.put_object(Bucket=SRC, Key="gone.txt", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=SRC, Key="gone.txt")["VersionId"]  # delete markers are not replicated
    # When the inventory is delivered
    now = datetime(2026, 11, 29, 21, 32, 10, tzinfo=UTC)
    [location] = aws.deliver_inventory(SRC, now=now)
    # Then the manifest is at prefix/source/config-ID/YYYY-MM-DDTHH-MMZ/, its checksum beside it
    assert location == f"{INVENTORY}/reports/{SRC}/replication/2026-11-29T21-32Z/manifest.json"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=INVENTORY)["Contents"]]
    assert f"reports/{SRC}/replication/2026-11-29T21-32Z/manifest.checksum" in keys
    [data_key] = [k for k in keys if re.fullmatch(rf"reports/{SRC}/replication/data/[0-9a-f-]+\.csv\.gz", k)]
    manifest = json.loads(s3.get_object(Bucket=INVENTORY, Key=location.split("/", 1)[1])["Body"].read())
    assert manifest["fileSchema"] == (
        "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ReplicationStatus"
    )
    assert (
        manifest["files"][0]["key"] == data_key
        and manifest["destinationBucket"] == f"arn:aws:s3:::{INVENTORY}"
    )
    raw = gzip.decompress(s3.get_object(Bucket=INVENTORY, Key=data_key)["Body"].read()).decode()
    assert "photos/%C3%89t%C3%A9+2024/plage+%2B+soleil+%231.jpg" in raw  # URL-encoded, no header row
    # And replimend's reader reads every version with the status S3 keeps for it
    created_at, rows = read_rows(aws, location)
    assert created_at == now.replace(microsecond=0)
    assert sorted((r.key, r.version_id, r.is_latest, r.is_delete_marker, r.replication_status, r.size)
                  for r in rows) == sorted([
        (key, first, False, False, "COMPLETED", 3),
        (key, second, True, False, "COMPLETED", 6),
        ("gone.txt", gone, False, False, "COMPLETED", 1),
        ("gone.txt", marker, True, True, None, None),
    ])  # fmt: skip


def test_current_versions_lists_null_versions_and_follow_the_filter(aws: EmbeddedAws, s3: Any) -> None:
    # Given an unversioned bucket (its objects have the null version) and a Current-versions inventory
    s3.create_bucket(Bucket=SRC)
    inventory_configuration(s3, fields=["ReplicationStatus"], versions="Current", prefix="")
    s3.put_object(Bucket=SRC, Key="a b.txt", Body=b"x")
    [location] = aws.deliver_inventory(SRC)
    # Then the schema has no version columns and the never-replicated object an empty status
    assert location.startswith(f"{INVENTORY}/{SRC}/replication/")
    _, [row] = read_rows(aws, location)
    assert (row.key, row.version_id, row.replication_status) == ("a b.txt", None, None)


def test_disabled_configurations_deliver_nothing(aws: EmbeddedAws, s3: Any) -> None:
    s3.create_bucket(Bucket=SRC)
    inventory_configuration(s3, fields=["ReplicationStatus"], enabled=False)
    assert aws.deliver_inventory(SRC) == []


def test_objects_pending_during_an_outage_are_found_stuck_then_complete(aws: EmbeddedAws, s3: Any) -> None:
    # Given a replicated source whose destination Region is unavailable when objects are written
    replicated_source(aws, s3)
    inventory_configuration(s3, fields=["LastModifiedDate", "ReplicationStatus"])
    aws.replication.set_region_available(WEST, False)
    version = s3.put_object(Bucket=SRC, Key="stuck.csv", Body=b"x")["VersionId"]
    assert s3.head_object(Bucket=SRC, Key="stuck.csv")["ReplicationStatus"] == "PENDING"
    # When an inventory delivered 30 hours later is read with a 24 h threshold
    later = datetime.now(UTC) + timedelta(hours=30)
    aws.deliver_inventory(SRC, now=later)
    reader = inventory_reader(aws)
    report = find_stuck(reader, SRC, threshold=timedelta(hours=24), now=later)
    # Then the object is reported stuck PENDING
    assert report.note is None and report.stuck_count == 1
    assert (report.stuck[0].key, report.stuck[0].version_id) == ("stuck.csv", version)
    # When the Region is back, S3 resumes: the next delivery has nothing stuck
    aws.replication.set_region_available(WEST, True)
    assert s3.head_object(Bucket=SRC, Key="stuck.csv")["ReplicationStatus"] == "COMPLETED"
    aws.deliver_inventory(SRC, now=later + timedelta(minutes=1))
    report = find_stuck(reader, SRC, threshold=timedelta(hours=24), now=later)
    assert report.pending == 0 and report.stuck_count == 0
