"""Ledger key formats and orderings: pure functions, no AWS."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from replimend.ledger import (
    compare_sequencers,
    format_time,
    incident_pk,
    job_pk,
    object_pk,
    object_sk,
    parse_time,
    shard_of,
    token_pk,
)
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
    assert text == "2024-09-05T21:04:32.527000Z"
    assert parse_time(text) == at
    assert parse_time(text).tzinfo is UTC


def test_string_order_of_times_is_time_order() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    times = [start + timedelta(microseconds=n * 999_999_937) for n in range(500)]
    texts = [format_time(t) for t in times]
    assert sorted(texts) == texts and len({len(t) for t in texts}) == 1


def test_item_keys() -> None:
    assert object_pk("src", "a/b#c.txt") == "OBJ#src#a/b#c.txt"
    assert object_sk("v1", "dst") == "VER#v1#DST#dst"
    assert object_sk(None, "dst") == "VER#null#DST#dst"
    assert incident_pk("src", "dst", "AssumeRoleNotPermitted") == "INC#src#dst#AssumeRoleNotPermitted"
    assert job_pk("j-1") == "JOB#j-1" and token_pk("t") == "TOKEN#t"


def test_shards_are_stable_and_spread_a_storm_evenly() -> None:
    refs = [ObjectRef("src", f"storm/{n:06d}.bin", "v1", "dst") for n in range(16_000)]
    shards = Counter(shard_of(ref, 16) for ref in refs)
    assert set(shards) == set(range(16))
    # every shard within 10 % of the mean: no hot partition
    assert max(shards.values()) < 1_100 and min(shards.values()) > 900
    # stable: a known value, independent of PYTHONHASHSEED and process
    assert shard_of(ObjectRef("src", "k", "v1", "dst"), 16) == shard_of(
        ObjectRef("other", "k", "v1", "dst"), 16
    )
    assert [shard_of(refs[n], 16) for n in range(5)] == [shard_of(refs[n], 16) for n in range(5)]
    assert shard_of(refs[0], 1) == 0
