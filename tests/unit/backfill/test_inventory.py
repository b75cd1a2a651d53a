"""S3 Inventory parsing: manifest.json, gzip CSV rows (URL-encoded keys, null versions), and the
configuration backfill can use."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest

from replimend.backfill.inventory import (
    InventoryRow,
    latest_manifest_key,
    parse_inventory_manifest,
    parse_inventory_rows,
    usable_inventory,
)
from replimend.errors import MalformedEventError

COLUMNS = (
    "Bucket",
    "Key",
    "VersionId",
    "IsLatest",
    "IsDeleteMarker",
    "Size",
    "LastModifiedDate",
    "ReplicationStatus",
)


def gz(*lines: str) -> bytes:
    return gzip.compress("".join(f"{line}\n" for line in lines).encode())


def test_rows_decode_keys_and_read_empty_versions_as_null() -> None:
    data = gz(
        '"src","photos/cat+1.png","v1","true","false","10","2026-11-01T00:00:00.000Z","PENDING"',
        '"src","a%2Bb%20c%C3%A9","","true","false","3","2026-11-02T00:00:00.000Z","COMPLETED"',
        '"src","old.txt","","true","false","1","2026-11-03T00:00:00.000Z",""',
        '"src","gone.txt","v9","true","true","","2026-11-04T00:00:00.000Z",""',
    )
    rows = list(parse_inventory_rows(COLUMNS, data))
    assert all(isinstance(r, InventoryRow) for r in rows)
    first, second, third, marker = rows
    assert isinstance(first, InventoryRow) and isinstance(second, InventoryRow)
    assert (
        first.key == "photos/cat 1.png" and first.version_id == "v1" and first.replication_status == "PENDING"
    )
    assert first.last_modified == datetime(2026, 11, 1, tzinfo=UTC) and first.size == 10
    assert second.key == "a+b cé" and second.version_id is None  # the null version
    assert isinstance(third, InventoryRow) and third.replication_status is None  # never replicated: NONE
    assert isinstance(marker, InventoryRow) and marker.is_delete_marker


def test_unreadable_rows_are_reported_not_dropped() -> None:
    rows = list(
        parse_inventory_rows(
            COLUMNS, gz('"src","bad%ZZkey","v","true","false","1","2026-11-01T00:00:00Z","FAILED"', '"src"')
        )
    )
    assert len(rows) == 2 and all(isinstance(r, str) for r in rows)
    [not_gzip] = parse_inventory_rows(COLUMNS, b"not gzip")
    assert isinstance(not_gzip, str) and "gzip" in not_gzip


def manifest(**overrides: object) -> bytes:
    document = {
        "sourceBucket": "src",
        "destinationBucket": "arn:aws:s3:::inventory",
        "version": "2016-11-30",
        "creationTimestamp": "1764374400000",
        "fileFormat": "CSV",
        "fileSchema": ", ".join(COLUMNS),
        "files": [{"key": "inv/src/all/data/1.csv.gz", "size": 1, "MD5checksum": "x"}],
        **overrides,
    }
    return json.dumps(document).encode()


def test_the_manifest_gives_the_files_schema_and_time() -> None:
    parsed = parse_inventory_manifest(manifest())
    assert parsed.columns == COLUMNS and parsed.files == ("inv/src/all/data/1.csv.gz",)
    assert parsed.destination_bucket == "inventory"
    assert parsed.created_at == datetime(2025, 11, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    "timestamp",
    [
        "²",  # str.isdigit() is true, int() refuses it
        "9" * 20,  # past year 9999: fromtimestamp raises OSError or OverflowError
        "9" * 5000,  # int() refuses 4,300+ digits
        "-1",
        "soon",
    ],
)
def test_a_creation_time_no_datetime_can_hold_is_unknown_not_an_exception(timestamp: str) -> None:
    # found by atheris (tests/fuzz): these raised ValueError or OSError out of the backfill
    parsed = parse_inventory_manifest(manifest(creationTimestamp=timestamp))
    assert parsed.created_at is None and parsed.files == ("inv/src/all/data/1.csv.gz",)


def test_a_row_csv_cannot_read_is_reported_and_the_next_rows_still_read() -> None:
    # found by atheris: a carriage return in an unquoted field raised csv.Error out of the list
    rows = list(
        parse_inventory_rows(
            COLUMNS,
            gz(
                '"src","a",v1\r2,"true","false","1","2026-11-01T00:00:00Z","PENDING"',
                '"src","b","v2","true","false","1","2026-11-01T00:00:00Z","PENDING"',
            ),
        )
    )
    assert isinstance(rows[0], str) and "row 1" in rows[0]
    assert isinstance(rows[1], InventoryRow) and rows[1].key == "b"


@pytest.mark.parametrize(
    "document",
    [
        b"{not json",
        manifest(fileFormat="ORC"),
        manifest(fileSchema="Bucket, Key, VersionId"),
        manifest(files=[{"size": 1}]),
    ],
)
def test_a_manifest_replimend_cannot_use_is_refused(document: bytes) -> None:
    with pytest.raises(MalformedEventError):
        parse_inventory_manifest(document)


def config(
    name: str, *, enabled: bool = True, fmt: str = "CSV", fields: tuple[str, ...] = ("ReplicationStatus",)
) -> dict[str, object]:
    return {
        "Id": name,
        "IsEnabled": enabled,
        "IncludedObjectVersions": "All",
        "Destination": {
            "S3BucketDestination": {"Bucket": "arn:aws:s3:::inventory", "Format": fmt, "Prefix": "inv"}
        },
        "OptionalFields": list(fields),
        "Schedule": {"Frequency": "Daily"},
    }


def test_the_first_enabled_csv_configuration_with_replication_status_is_used() -> None:
    chosen, _ = usable_inventory(
        [
            config("off", enabled=False),
            config("orc", fmt="ORC"),
            config("bare", fields=("Size",)),
            config("ok"),
        ]
    )
    assert chosen is not None and chosen.config_id == "ok" and chosen.destination_bucket == "inventory"
    assert chosen.delivery_prefix("src") == "inv/src/ok/" and chosen.all_versions


def test_no_usable_configuration_says_why() -> None:
    assert usable_inventory([]) == (None, "no inventory configuration")
    chosen, why = usable_inventory([config("orc", fmt="ORC"), config("bare", fields=())])
    assert chosen is None and "not CSV" in why and "lacks the ReplicationStatus" in why


def test_the_latest_delivery_is_the_newest_folder() -> None:
    keys = [
        "inv/src/ok/2026-11-27T01-00Z/manifest.json",
        "inv/src/ok/2026-11-28T01-00Z/manifest.checksum",
        "inv/src/ok/2026-11-28T01-00Z/manifest.json",
        "inv/src/ok/data/x.csv.gz",
        "inv/src/ok/hive/dt=2026-11-29-01-00/symlink.txt",
    ]
    assert latest_manifest_key(keys) == "inv/src/ok/2026-11-28T01-00Z/manifest.json"
    assert latest_manifest_key(keys[3:]) is None
