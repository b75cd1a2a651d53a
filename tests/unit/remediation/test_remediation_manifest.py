"""Manifest rows, streaming chunks, content-derived keys and tokens."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from replimend.manifest_csv import encode_key, manifest_row, parse_manifest
from replimend.models import Action, FailureRecord, ObjectRef, ObjectState
from replimend.remediate.manifest import ManifestChunk, client_request_token, manifest_key


def record(key: str, version: str | None = "v1", source: str = "src", dest: str = "dst") -> FailureRecord:
    return FailureRecord(
        ref=ObjectRef(source, key, version, dest),
        state=ObjectState.FAILED,
        failure_reason="DstPutObjectNotPermitted",
        action=Action.RETRY,
        category="permissions",
    )


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("plain.txt", "plain.txt"),
        ("dir/with space.txt", "dir%2Fwith%20space.txt"),
        ("a,b.csv", "a%2Cb.csv"),
        ("plus+sign", "plus%2Bsign"),
        ("naïve/日本.txt", "na%C3%AFve%2F%E6%97%A5%E6%9C%AC.txt"),
        ('quote"and\nnewline', "quote%22and%0Anewline"),
    ],
)
def test_keys_are_url_encoded_so_the_csv_has_exactly_three_columns(key: str, encoded: str) -> None:
    # Given a key with spaces, commas, unicode or control characters / When written as a row
    row = manifest_row("src", key, "v1")
    # Then it is encoded, three columns, and decodes back to the key
    assert row == f"src,{encoded},v1\n"
    assert row.count(",") == 2
    assert unquote(row.split(",")[1]) == key


def test_the_null_version_is_written_as_the_literal_null() -> None:
    assert manifest_row("src", "k", None) == "src,k,null\n"
    assert manifest_row("src", "k", "") == "src,k,null\n"


def test_rows_read_back_decoded() -> None:
    lines = [manifest_row("src", "a,b c+d/é", "v1"), manifest_row("src", "k", None)]
    rows = list(parse_manifest(lines))
    assert [(r.bucket, r.key, r.version_id) for r in rows] == [
        ("src", "a,b c+d/é", "v1"),
        ("src", "k", "null"),
    ]


def test_chunk_has_no_header_and_one_row_per_record_in_order() -> None:
    # Given three records / When added to a chunk
    chunk = ManifestChunk("src")
    for item in (record("b"), record("a key"), record("c", None)):
        chunk.add([item])
    # Then the body is exactly the rows, in order, without a header
    assert chunk.text() == "src,b,v1\nsrc,a%20key,v1\nsrc,c,null\n"
    assert chunk.count == 3
    assert [r.ref.key for r in chunk.records()] == ["b", "a key", "c"]
    chunk.close()


def test_same_rows_give_the_same_key_and_token_and_different_rows_do_not() -> None:
    def build(keys: list[str], dest: str = "dst") -> ManifestChunk:
        chunk = ManifestChunk("src")
        for key in keys:
            chunk.add([record(key, dest=dest)])
        return chunk

    first, again, other, other_dest = (
        build(["a", "b"]),
        build(["a", "b"]),
        build(["a", "c"]),
        build(["a", "b"], "dst2"),
    )
    assert first.key == again.key and first.token == again.token
    assert first.token != other.token and first.key != other.key
    # The same rows with records towards another destination must not share a token
    assert first.token != other_dest.token and first.text() == other_dest.text()
    assert first.key == manifest_key("src", first.digest)
    assert len(first.token) <= 64 and first.token == client_request_token(first.digest)


def test_a_large_chunk_spills_to_disk_and_still_reads_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a tiny in-memory budget / When many rows are written
    monkeypatch.setattr("replimend.remediate.manifest.SPOOL_MEMORY_BYTES", 1024)
    chunk = ManifestChunk("src")
    for number in range(5000):
        chunk.add([record(f"k/{number}")])
    # Then the rows spilled to a file (not memory) and every one reads back
    assert chunk.body._rolled  # type: ignore[attr-defined]
    assert sum(1 for _ in parse_manifest(chunk.text().splitlines())) == 5000
    assert sum(1 for _ in chunk.records()) == 5000
    chunk.close()


def test_encode_key_uses_no_safe_characters() -> None:
    assert encode_key("a/b") == "a%2Fb"


def test_a_later_attempt_of_the_same_rows_gets_a_new_token() -> None:
    # Given the same object planned again after its record moved (a failed attempt bumps its version)
    first, retry = ManifestChunk("src"), ManifestChunk("src")
    first.add([record("a")])
    moved = record("a")
    moved.version = 7
    retry.add([moved])
    # Then the rows are the same but the token is not (S3 would return the old finished job)
    assert first.text() == retry.text()
    assert first.token != retry.token


def test_a_version_failed_for_several_destinations_is_one_row_with_all_its_records() -> None:
    chunk = ManifestChunk("src")
    chunk.add([record("a", dest="dst-1"), record("a", dest="dst-2")])
    chunk.add([record("b", dest="dst-2")])
    assert chunk.text() == "src,a,v1\nsrc,b,v1\n" and chunk.count == 2 and chunk.record_count == 3
    assert [(r.ref.key, r.ref.destination_bucket) for r in chunk.records()] == [
        ("a", "dst-1"),
        ("a", "dst-2"),
        ("b", "dst-2"),
    ]
    chunk.close()
