"""Ledger key formats and orderings: pure functions, no AWS."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from replimend.ledger.incidents import incident_key
from replimend.ledger.jobs import job_key, token_key
from replimend.ledger.objects import identity, object_pk, object_sk, ref_from_keys
from replimend.ledger.table import format_time, parse_time, shard_of
from replimend.lifecycle import compare_sequencers
from replimend.models import ObjectRef


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("0066DA1CBF104C0D51", "0066DA1CBF104C0D51", 0),
        ("0066DA1CBF104C0D52", "0066DA1CBF104C0D51", 1),
        # S3: right-pad the shorter with zeros, then compare as strings
        ("0066DA1CBF104C0D5", "0066DA1CBF104C0D50", 0),
        ("0066DA1CBF104C0D5", "0066DA1CBF104C0D51", -1),
        ("0066DA1CBF104C0E", "0066DA1CBF104C0D51", 1),
        ("0066da1cbf104c0d52", "0066DA1CBF104C0D51", 1),
    ],
)
def test_sequencers_compare_as_s3_documents(left: str, right: str, expected: int) -> None:
    assert compare_sequencers(left, right) == expected
    assert compare_sequencers(right, left) == -expected


def test_times_round_trip_in_fixed_width_utc() -> None:
    at = datetime(2024, 9, 5, 23, 4, 32, 527000, tzinfo=timezone(timedelta(hours=2)))
    text = format_time(at)
    assert text == "20240905T210432.527000Z"
    assert parse_time(text) == at
    assert parse_time(text).tzinfo is UTC


def test_string_order_of_times_is_time_order() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    times = [start + timedelta(microseconds=n * 999_999_937) for n in range(500)]
    texts = [format_time(t) for t in times]
    assert sorted(texts) == texts and len({len(t) for t in texts}) == 1


def test_item_keys() -> None:
    assert object_pk("src", "a/b#c.txt") == "O#src#a/b#c.txt"
    assert object_sk("v1", "dst") == "V#v1#dst"
    assert object_sk(None, "dst") == "V#null#dst"
    assert incident_key("src", "dst", "AssumeRoleNotPermitted")["pk"] == "I#src#dst#AssumeRoleNotPermitted"
    assert job_key("j-1") == {"pk": "J#j-1", "sk": "J"} and token_key("t") == {"pk": "T#t", "sk": "T"}


@pytest.mark.parametrize(
    "key",
    ["a/b#c.txt", "x" * 1024, "é" * 512, 'comma,quote"new\nline%2B+plus', "#", "V#null#dst"],
)
def test_object_keys_round_trip_for_every_s3_key(key: str) -> None:
    ref = ObjectRef("src", key, None, "dst")
    assert ref_from_keys(object_pk("src", key), object_sk(None, "dst")) == ref
    # DynamoDB: partition key at most 2,048 bytes, sort key at most 1,024 bytes
    assert (
        len(object_pk("src" * 21, key).encode()) <= 2048
        and len(object_sk("v" * 32, "d" * 63).encode()) <= 1024
    )
    # index keys hold a fixed-size digest, never the S3 key
    assert len(identity(ref)) == 16


def test_shards_are_stable_and_spread_a_storm_evenly() -> None:
    refs = [ObjectRef("src", f"storm/{n:06d}.bin", "v1", "dst") for n in range(16_000)]
    shards = Counter(shard_of(identity(ref), 16) for ref in refs)
    assert set(shards) == set(range(16))
    # every shard within 10 % of the mean: no hot partition
    assert max(shards.values()) < 1_100 and min(shards.values()) > 900
    # stable: a known value, independent of PYTHONHASHSEED and process
    assert identity(ObjectRef("src", "k", "v1", "dst")) == identity(ObjectRef("other", "k", "v1", "dst"))
    assert identity(ObjectRef("src", "k", "v1", "dst")) == "79fa7388e7a2567f"  # same on every host and run
    assert shard_of(identity(refs[0]), 1) == 0
