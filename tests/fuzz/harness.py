"""atheris (libFuzzer) targets for every parser of outside input: coverage-guided, on raw bytes.

Run one target: ``python -m tests.fuzz.harness TARGET CORPUS_DIR|INPUT_FILE [libFuzzer flags]`` from the
repository root (``--list`` names the targets); an empty CORPUS_DIR is first filled with the target's seeds (the real sample events in
events/, manifests, completion reports, job events and inventory lists as replimend and the emulators
write them), and the targets that read JSON get json.dict as their libFuzzer dictionary. The same rule
as tests/unit/test_fuzz_parsers.py: a parser returns what it parsed or raises the project's own error
where its contract allows one; any other exception, or an accepted value the ledger could not store, is
a finding (atheris prints it, writes the input under -artifact_prefix and exits non-zero).

``REPLIMEND_FUZZ_BREAK=<exception name>`` makes the target's parser raise that exception (after parsing)
on every call: tests/fuzz/test_atheris.py uses it to show that a non-project exception fails the run
and one the parser's contract allows does not.
"""

from __future__ import annotations

import builtins
import functools
import gzip
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import atheris
from botocore.response import StreamingBody

# Instrumented so coverage of the parsers (not of pydantic, json or csv) guides the mutations.
with atheris.instrument_imports(include=["replimend", "replimend_cli.classify_cmd"]):
    from replimend import errors, events, manifest_csv
    from replimend.aws.s3 import S3Storage
    from replimend.backfill import inventory
    from replimend.track import job_events, reports
    from replimend_cli import classify_cmd

from tests.fuzz import BREAK_ENV
from tests.fuzz.invariants import assert_parsed, assert_storable

ROOT = Path(__file__).resolve().parents[2]
JSON_DICTIONARY = Path(__file__).with_name("json.dict")


class _OneObjectClient:
    """An S3 client holding one object: the bytes reach the parsers through the real adapter
    (S3Storage.iter_lines), as the tracker and remediation read them."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def get_object(self, **_: Any) -> dict[str, Any]:
        return {"Body": StreamingBody(io.BytesIO(self._data), len(self._data))}


def _lines(data: bytes) -> Iterator[str]:
    return S3Storage(_OneObjectClient(data)).iter_lines("bucket", "key")  # type: ignore[arg-type]


# ---------------------------------------------------------------- the targets


def fuzz_event_document(data: bytes) -> None:
    """Any Lambda event or SQS body: events or UnparseableRecords, never an exception."""
    assert_parsed(events.parse_document(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # an SQS body is text: the bytes form above is the non-UTF-8 case
    assert_parsed(
        events.parse_document({"Records": [{"messageId": "1", "body": text, "eventSource": "aws:sqs"}]})
    )
    try:
        accepted = events.parse_message_body(text)
    except errors.MalformedEventError as exc:
        assert str(exc)
    else:
        for event in accepted:
            assert_storable(event)


def fuzz_classify_input(data: bytes) -> None:
    """`replimend classify` input (a document, JSON Lines, receive-message output): a line per record."""
    items = classify_cmd.parse_input(data)
    assert_parsed(items)
    for item in items:
        json.dumps(classify_cmd.describe(item))


def fuzz_report_manifest(data: bytes) -> None:
    """A completion report's manifest.json: its result files, or MalformedEventError."""
    try:
        files = reports.parse_report_manifest(data)
    except errors.MalformedEventError as exc:
        assert str(exc)
    else:
        assert all(isinstance(f.bucket, str) and f.bucket and isinstance(f.key, str) and f.key for f in files)


def fuzz_report_rows(data: bytes) -> None:
    """A completion report's result CSV: task results, or a row's text when it cannot be read."""
    for row in reports.parse_report_rows(_lines(data)):
        assert isinstance(row, reports.TaskResult | str), row
        if isinstance(row, reports.TaskResult):
            assert row.bucket and row.raw_key and row.key_candidates
            assert row.http_status is None or 0 <= row.http_status <= 999
            assert isinstance(row.failure_reason, str | None)


def fuzz_manifest_lines(data: bytes) -> None:
    """Any CSV manifest: rows with a version (``null`` at least); an unreadable row is skipped."""
    for row in manifest_csv.parse_manifest(_lines(data)):
        assert isinstance(row, manifest_csv.ManifestRow)
        assert row.version_id


def fuzz_manifest_round_trip(data: bytes) -> None:
    """What replimend writes into a manifest (any key S3 allows) reads back as the same rows."""
    provider = atheris.FuzzedDataProvider(data)
    written = []
    for _ in range(provider.ConsumeIntInRange(1, 4)):
        bucket = "".join(c for c in provider.ConsumeUnicode(12) if c.isascii() and (c.isalnum() or c in ".-"))
        key = provider.ConsumeUnicodeNoSurrogates(provider.ConsumeIntInRange(1, 300))
        version = provider.PickValueInList([None, "null", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", "v1"])
        written.append(manifest_csv.ManifestRow(bucket or "b", key, version or manifest_csv.NULL_VERSION))
    body = "".join(manifest_csv.manifest_row(r.bucket, r.key, r.version_id) for r in written)
    read = list(manifest_csv.parse_manifest(_lines(body.encode("utf-8"))))
    assert read == written, (written, read)


def fuzz_job_event(data: bytes) -> None:
    """A Batch Operations job event from EventBridge (the runtime hands the handler parsed JSON)."""
    try:
        event = json.loads(data)
    except (ValueError, RecursionError):
        return  # not JSON: Lambda would never invoke the handler with it
    try:
        parsed = job_events.parse_job_event(event)
    except errors.MalformedEventError as exc:
        assert str(exc)
    else:
        assert parsed.job_id and isinstance(parsed.event_name, str)
        assert all(isinstance(code, str) and code for code in parsed.failure_codes)


def fuzz_inventory_manifest(data: bytes) -> None:
    """An S3 Inventory manifest.json: what backfill needs of it, or MalformedEventError."""
    try:
        parsed = inventory.parse_inventory_manifest(data)
    except errors.MalformedEventError as exc:
        assert str(exc)
    else:
        # no files at all is an empty list (AWS does not say whether an empty bucket's inventory has one)
        assert all(isinstance(key, str) and key for key in parsed.files)
        assert parsed.created_at is None or parsed.created_at.utcoffset() is not None


def fuzz_inventory_rows(data: bytes) -> None:
    """An S3 Inventory CSV list (gzipped here, as S3 delivers it): rows, or a row's text."""
    for gz in (gzip.compress(data, mtime=0), data):
        for row in inventory.parse_inventory_rows(INVENTORY_COLUMNS, gz):
            assert isinstance(row, inventory.InventoryRow | str), row
            if isinstance(row, inventory.InventoryRow):
                assert isinstance(row.key, str) and isinstance(row.bucket, str)
                assert row.size is None or row.size >= 0
                assert row.last_modified is None or row.last_modified.utcoffset() is not None


@dataclass(frozen=True)
class Target:
    run: Callable[[bytes], None]
    parser: tuple[ModuleType, str]  # what REPLIMEND_FUZZ_BREAK breaks
    reads_json: bool = False  # then json.dict guides the mutations: random bytes are rarely JSON


TARGETS: dict[str, Target] = {
    "event_document": Target(fuzz_event_document, (events, "parse_document"), reads_json=True),
    "classify_input": Target(fuzz_classify_input, (classify_cmd, "parse_input"), reads_json=True),
    "report_manifest": Target(fuzz_report_manifest, (reports, "parse_report_manifest"), reads_json=True),
    "report_rows": Target(fuzz_report_rows, (reports, "parse_report_rows")),
    "manifest_lines": Target(fuzz_manifest_lines, (manifest_csv, "parse_manifest")),
    "manifest_round_trip": Target(fuzz_manifest_round_trip, (manifest_csv, "parse_manifest")),
    "job_event": Target(fuzz_job_event, (job_events, "parse_job_event"), reads_json=True),
    "inventory_manifest": Target(
        fuzz_inventory_manifest, (inventory, "parse_inventory_manifest"), reads_json=True
    ),
    "inventory_rows": Target(fuzz_inventory_rows, (inventory, "parse_inventory_rows")),
}


# ---------------------------------------------------------------- seeds


_SAMPLE_KEYS = ["a/b.txt", "k two+three", "100% done?.txt", "ünïcödé/键/🙂", 'a,b"c\nd']


#: As the Batch Operations emulator emits it: CloudTrail's AwsServiceEvent through EventBridge.
_JOB_EVENT = {
    "version": "0",
    "detail-type": "AWS Service Event via CloudTrail",
    "source": "aws.s3",
    "region": "us-east-1",
    "detail": {
        "eventName": "JobStatusChanged",
        "awsRegion": "us-east-1",
        "eventType": "AwsServiceEvent",
        "serviceEventDetails": {
            "jobId": "00e123a4-c0d8-41f4-a0eb-b46f9ba5b07c",
            "status": "Failed",
            "failureCodes": ["ManifestNotFound"],
            "statusChangeReason": [],
        },
    },
}


def _report_files() -> dict[str, bytes]:
    """A completion report as the Batch Operations emulator stores it: manifest.json and result CSVs."""
    from replimend_local.batch_operations.manifests import ManifestEntry, TaskResult, write_completion_report

    stored: dict[str, bytes] = {}

    class Recorder:
        def put_object(self, *, Key: str, Body: bytes, **_: Any) -> None:
            stored[Key] = Body

    results = [
        TaskResult(
            ManifestEntry("src", key, f"v{n}"),
            succeeded=n % 2 == 0,
            http_status=200 if n % 2 == 0 else 403,
            error_code="" if n % 2 == 0 else "AccessDenied",
            message="Successful" if n % 2 == 0 else "Replication failed: DstPutObjectNotPermitted, denied",
        )
        for n, key in enumerate(_SAMPLE_KEYS)
    ]
    write_completion_report(
        Recorder(),
        job_id="job-1",
        report={"Bucket": "arn:aws:s3:::reports", "Prefix": "p"},
        results=results,
        created=datetime(2024, 9, 5, tzinfo=UTC),
    )
    return stored


#: An all-versions inventory with the optional fields backfill asks for, in S3's order.
INVENTORY_COLUMNS = (
    "Bucket",
    "Key",
    "VersionId",
    "IsLatest",
    "IsDeleteMarker",
    "Size",
    "LastModifiedDate",
    "ETag",
    "ReplicationStatus",
)


def _inventory_files() -> dict[str, bytes]:
    """An S3 Inventory delivery as the embedded account writes it: manifest.json and a gzip CSV list."""
    from replimend_local.s3_inventory import deliver_inventory

    stored: dict[str, bytes] = {}
    moment = datetime(2024, 9, 5, tzinfo=UTC)
    versions = [
        {
            "Key": key,
            "VersionId": f"v{n}",
            "IsLatest": n % 2 == 0,
            "Size": 10 * n,
            "ETag": '"abc"',
            "LastModified": moment,
        }
        for n, key in enumerate(_SAMPLE_KEYS)
    ]
    configuration = {
        "Id": "all",
        "IsEnabled": True,
        "IncludedObjectVersions": "All",
        "OptionalFields": [
            c
            for c in INVENTORY_COLUMNS
            if c not in {"Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker"}
        ],
        "Destination": {"S3BucketDestination": {"Bucket": "arn:aws:s3:::inventory", "Format": "CSV"}},
    }

    class Account:
        def list_bucket_inventory_configurations(self, **_: Any) -> dict[str, Any]:
            return {"InventoryConfigurationList": [configuration]}

        def list_object_versions(self, **_: Any) -> dict[str, Any]:
            return {
                "Versions": versions,
                "DeleteMarkers": [{"Key": "gone", "VersionId": "d1", "IsLatest": True}],
            }

        def put_object(self, *, Key: str, Body: bytes | str, **_: Any) -> None:
            stored[Key] = Body.encode() if isinstance(Body, str) else Body

    statuses = ["PENDING", "COMPLETED", "FAILED", None]
    deliver_inventory(
        Account(), "src", replication_status=lambda _b, key, _v: statuses[len(key) % 4], now=moment
    )
    return stored


def seeds(target: str) -> list[bytes]:
    if target == "event_document":
        return [path.read_bytes() for path in sorted((ROOT / "events").glob("*.json"))]
    if target == "classify_input":
        documents = [json.loads(path.read_bytes()) for path in sorted((ROOT / "events").glob("*.json"))]
        sqs = json.loads((ROOT / "events" / "sqs-mixed-with-malformed.json").read_bytes())
        received = {"Messages": [{"MessageId": r["messageId"], "Body": r["body"]} for r in sqs["Records"]]}
        json_lines = "".join(json.dumps(document) + "\n" for document in documents[:3])
        return [json_lines.encode(), json.dumps(received).encode()]
    if target in {"report_manifest", "report_rows"}:
        files = _report_files()
        wanted = "manifest.json" if target == "report_manifest" else ".csv"
        return [body for key, body in sorted(files.items()) if key.endswith(wanted)]
    if target == "manifest_lines":
        return [
            "".join(manifest_csv.manifest_row("src", key, version) for key in _SAMPLE_KEYS).encode()
            for version in (None, "v1")
        ]
    if target == "manifest_round_trip":
        return [json.dumps(_SAMPLE_KEYS).encode(), "ünïcödé/键/🙂".encode() * 4]
    if target == "job_event":
        return [json.dumps(_JOB_EVENT).encode(), json.dumps({**_JOB_EVENT, "detail": {}}).encode()]
    if target == "inventory_manifest":
        return [body for key, body in _inventory_files().items() if key.endswith("manifest.json")]
    if target == "inventory_rows":
        return [gzip.decompress(body) for key, body in _inventory_files().items() if key.endswith(".csv.gz")]
    raise KeyError(target)


def write_seeds(target: str, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(seeds(target)):
        (directory / f"seed-{number}").write_bytes(seed)


# ---------------------------------------------------------------- running


def _broken(parser: Callable[..., Any], exception: type[BaseException]) -> Callable[..., Any]:
    @functools.wraps(parser)
    def broken(*args: Any, **kwargs: Any) -> Any:
        result = parser(*args, **kwargs)
        if isinstance(result, Iterator):
            list(result)  # a generator parser does its work only when read
        raise exception("broken on purpose by " + BREAK_ENV)

    return broken


def _exception_named(name: str) -> type[BaseException]:
    found = getattr(errors, name, None) or getattr(builtins, name, None)
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise SystemExit(f"{BREAK_ENV}={name}: not an exception of replimend.errors or builtins")
    return found


def main(argv: list[str]) -> None:
    if argv[1:] == ["--list"]:
        print("\n".join(TARGETS))
        return
    if len(argv) < 3 or argv[1] not in TARGETS:
        targets = ",".join(TARGETS)
        raise SystemExit(
            f"usage: python -m tests.fuzz.harness {{{targets}}} CORPUS_DIR|INPUT_FILE [libFuzzer flags]"
        )
    target = TARGETS[argv[1]]
    corpus = Path(argv[2])  # or one input file (a crash-* finding): libFuzzer then runs just it
    if not corpus.is_file() and (not corpus.is_dir() or not any(corpus.iterdir())):
        write_seeds(argv[1], corpus)
    if os.environ.get(BREAK_ENV):
        module, name = target.parser
        setattr(module, name, _broken(getattr(module, name), _exception_named(os.environ[BREAK_ENV])))
    flags = argv[3:]
    if target.reads_json and not any(flag.startswith("-dict=") for flag in flags):
        flags.append(f"-dict={JSON_DICTIONARY}")
    atheris.Setup([argv[0], str(corpus), *flags], target.run)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
