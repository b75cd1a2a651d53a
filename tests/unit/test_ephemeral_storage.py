"""The remediate function's /tmp holds a pass's spool at MaxObjectsPerRun's maximum, worst keys included."""

from __future__ import annotations

from benchmarks.manifest_bench import failure_record
from replimend.remediate.manifest import ManifestChunk
from replimend_local.sam_template import load_template

TEMPLATE = load_template()
SAMPLE = 200


def spool_bytes_per_object(key_for: object, destinations: int) -> float:
    chunk = ManifestChunk("replimend-bench-source")
    try:
        for number in range(SAMPLE):
            key = key_for(number)  # type: ignore[operator]
            chunk.add([failure_record(number, key=key, destination=f"dst-{d}") for d in range(destinations)])
        return (chunk.body.tell() + chunk._records.tell()) / SAMPLE
    finally:
        chunk.close()


def worst_key(number: int) -> str:
    """1,024 bytes (S3's limit), each character one the CSV row must percent-encode."""
    return ('%,\n"+' * 205)[: 1024 - 8] + f"{number:08d}"


def test_the_spool_at_max_objects_per_run_fits_the_ephemeral_storage() -> None:
    storage_mb = TEMPLATE["Resources"]["RemediateFunction"]["Properties"]["EphemeralStorage"]["Size"]
    max_objects = TEMPLATE["Parameters"]["MaxObjectsPerRun"]["MaxValue"]
    assert 512 <= storage_mb <= 10_240  # Lambda's range
    per_object = spool_bytes_per_object(worst_key, destinations=2)
    assert len(worst_key(0).encode()) == 1024 and per_object > 3 * 1024
    # Only one chunk is spooled at a time, and a chunk holds at most MaxObjectsPerRun objects.
    needed = per_object * max_objects
    assert needed <= 0.9 * storage_mb * 1024 * 1024, f"{needed / 2**20:.0f} MB needed"


def test_a_typical_object_spools_about_a_kilobyte() -> None:
    per_object = spool_bytes_per_object(lambda n: f"data/2026/11/29/object-{n:08d}.parquet", destinations=1)
    assert 500 < per_object < 1500
