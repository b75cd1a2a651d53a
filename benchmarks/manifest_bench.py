"""A manifest of N objects (default 1,000,000) built and uploaded the way a remediation pass does it:
ManifestChunk spools rows and records to files, S3Storage.put_manifest streams the body to (moto's) S3.

Runs in a child process so its peak RSS (ru_maxrss) is this work's alone; reported above the
baseline of the child once it has imported everything and created the bucket. Also reports the spool
size per object, from which the remediate function's EphemeralStorage is sized (template.yaml,
tests/unit/test_ephemeral_storage.py).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import REGION, REPO_ROOT, rounded

SOURCE = "replimend-bench-source"
DESTINATION = "replimend-bench-destination"
MANIFESTS = "replimend-bench-manifests"


def failure_record(number: int, *, key: str | None = None, destination: str = DESTINATION) -> Any:
    """A FailureRecord as the ledger returns it for a due object (every field a real one has)."""
    from replimend.models import Action, FailureRecord, ObjectRef, ObjectState

    at = datetime(2026, 11, 29, tzinfo=UTC)
    event_id = f"{number:032x}"
    return FailureRecord(
        ref=ObjectRef(
            SOURCE, key or f"data/2026/11/29/object-{number:08d}.parquet", f"v{number:031d}", destination
        ),
        state=ObjectState.FAILED,
        failure_reason="DstPutObjectNotPermitted",
        action=Action.RETRY_AFTER_FIX,
        category="permissions",
        attempts=1,
        first_seen=at,
        last_seen=at,
        last_sequencer="0066DA1CBF104C0D51",
        destination_bucket_arn=f"arn:aws:s3:::{destination}",
        rule_id="rule-1",
        region=REGION,
        next_attempt_at=at,
        version=3,
        state_since=at,
        last_event_id=event_id,
        event_ids=frozenset({event_id}),
        history_count=2,
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def build_and_upload(objects: int) -> dict[str, Any]:
    """In this process: build the manifest of ``objects`` rows and upload it to moto's S3."""
    import boto3

    from benchmarks.common import mocked_aws
    from replimend.aws.s3 import S3Storage
    from replimend.remediate.manifest import ManifestChunk

    with mocked_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=MANIFESTS)
        baseline = _peak_rss_mb()
        started = time.perf_counter()
        chunk = ManifestChunk(SOURCE)
        try:
            for number in range(objects):
                chunk.add([failure_record(number)])
            spool_bytes = chunk.body.tell() + chunk._records.tell()
            built = time.perf_counter()
            build_peak = _peak_rss_mb()
            S3Storage(s3).put_manifest(MANIFESTS, chunk.key, chunk.rewound_body())
        finally:
            chunk.close()
        seconds = time.perf_counter() - started
        stored = s3.head_object(Bucket=MANIFESTS, Key=chunk.key)["ContentLength"]
    return {
        "objects": objects,
        "seconds": rounded(seconds, 2),
        "build_seconds": rounded(built - started, 2),
        "peak_rss_mb": rounded(_peak_rss_mb() - baseline, 1),
        "build_peak_rss_mb": rounded(build_peak - baseline, 1),
        "manifest_bytes": stored,
        "spool_bytes_per_object": rounded(spool_bytes / objects, 1) if objects else None,
        "note": "peak_rss_mb includes moto receiving the upload in this process; build_peak_rss_mb is ours",
    }


def run_manifest(objects: int) -> dict[str, Any]:
    """``build_and_upload`` in a fresh interpreter (a clean ru_maxrss)."""
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "benchmarks.manifest_bench", str(objects)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"manifest benchmark failed: {completed.stderr.strip()[-600:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    from benchmarks.common import use_fake_aws

    use_fake_aws()
    print(json.dumps(build_and_upload(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)))
