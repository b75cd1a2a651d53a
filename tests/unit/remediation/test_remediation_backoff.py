from __future__ import annotations

from datetime import timedelta

from replimend.lifecycle import Backoff


def retry_delay(
    attempts: int, *, base_seconds: int, max_seconds: int, jitter: float = 0.0, seed: str = ""
) -> timedelta:
    return Backoff(base_seconds, max_seconds, jitter).delay(attempts, seed)


def test_delay_doubles_per_attempt_and_is_capped() -> None:
    delays = [retry_delay(n, base_seconds=900, max_seconds=7200).total_seconds() for n in range(1, 6)]
    assert delays == [900, 1800, 3600, 7200, 7200]


def test_huge_attempt_counts_do_not_overflow() -> None:
    assert retry_delay(500, base_seconds=900, max_seconds=86400) == timedelta(seconds=86400)


def test_jitter_is_deterministic_per_object_and_within_bounds() -> None:
    first = retry_delay(3, base_seconds=100, max_seconds=10_000, jitter=0.5, seed="obj-a")
    again = retry_delay(3, base_seconds=100, max_seconds=10_000, jitter=0.5, seed="obj-a")
    other = retry_delay(3, base_seconds=100, max_seconds=10_000, jitter=0.5, seed="obj-b")
    assert first == again
    assert first != other
    for delay in (first, other):
        assert timedelta(seconds=200) <= delay <= timedelta(seconds=400)
