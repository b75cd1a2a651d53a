"""Every key S3 allows goes the whole way: event → ledger → manifest → report → ledger.

S3 keys are 1 to 1,024 bytes of UTF-8 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html);
events carry them URL-encoded (spaces as '+'), manifests and reports too.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from replimend.events import parse_message_body
from replimend.models import ObjectState
from replimend.reasons import classify_failure
from tests.integration.remediation.conftest import DEST, SOURCE, World
from tests.integration.remediation.test_remediation_tracking import job_event, write_report

SAMPLE = Path(__file__).parents[3] / "events" / "s3-failed-replication.json"

KEYS = [
    "k" * 1024,  # the longest key S3 allows, in bytes
    "é" * 512,  # 1,024 bytes of two-byte UTF-8
    "日本/データ/ファイル 1.txt",
    'comma,quote"and\nnewline.csv',
    "percent%41 and %2B plus+sign.bin",
    "#hash#in#key",
    " leading and trailing space ",
]


def s3_event(key: str, version: str | None, n: int) -> str:
    document = json.loads(SAMPLE.read_text(encoding="utf-8"))
    record = document["Records"][0]
    record["s3"]["bucket"].update(name=SOURCE, arn=f"arn:aws:s3:::{SOURCE}")
    record["s3"]["object"].update(
        key=quote_plus(key, safe="/"), versionId=version, sequencer=f"0066DA1CBF104C{n:04X}"
    )
    record["replicationEventData"].update(
        destinationBucket=f"arn:aws:s3:::{DEST}", failureReason="DstVersionNotFound"
    )
    return json.dumps(document)


@pytest.mark.parametrize("encode", [quote, quote_plus], ids=["report-percent-20", "report-plus"])
def test_every_s3_key_goes_from_event_to_replicated(world: World, encode: object) -> None:
    # Given failure events for the hardest keys, parsed from S3's own (URL-encoded) event shape
    versions = {}
    for n, key in enumerate(KEYS):
        version = world.put_source_object(key)
        (event,) = parse_message_body(s3_event(key, version, n))
        assert event.key == key
        world.ledger.record_event(event, classify_failure(event))
        versions[key] = version
    # When a pass puts them in one job, and its report lists every task (keys encoded either way:
    # AWS does not document the report's encoding)
    world.expect_create_job("job-keys")
    result = world.remediation().run()
    assert result.jobs == ["job-keys"] and result.total("marked_in_job") == len(KEYS)
    (manifest_key,) = result.sources[0].manifest_keys
    assert len(world.manifest_rows(manifest_key)) == len(KEYS)
    assert callable(encode)
    write_report(
        world,
        "job-keys",
        [f"{SOURCE},{encode(k, safe='')},{v},succeeded,200,,Successful\n" for k, v in versions.items()],
    )
    world.expect_describe_job("job-keys", "Complete", succeeded=len(KEYS))
    tracked = world.tracker().handle_event(job_event("job-keys", "Complete"))
    # Then every one is REPLICATED, none unmatched, and its history reads back whole
    assert tracked.jobs[0].unmatched == 0 and tracked.jobs[0].replicated == len(KEYS)
    for key, version in versions.items():
        assert world.state_of(key, version) is ObjectState.REPLICATED
        states = [h.to_state for h in world.ledger.history(SOURCE, key) if h.kind == "transition"]
        assert states == [ObjectState.FAILED, ObjectState.IN_JOB, ObjectState.REPLICATED]
