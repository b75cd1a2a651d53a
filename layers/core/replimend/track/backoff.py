"""Exponential backoff between Batch Replication attempts of one object."""

from __future__ import annotations

import hashlib
from datetime import timedelta


def retry_delay(
    attempts: int, *, base_seconds: int, max_seconds: int, jitter: float = 0.0, seed: str = ""
) -> timedelta:
    """Delay before the next attempt after ``attempts`` failed ones: base * 2**(attempts-1), capped.

    ``jitter`` (0..1) spreads retries of a storm over up to that fraction of the delay; it is
    derived from ``seed`` (the object's identity), so it is deterministic and reproducible.
    """
    exponent = max(attempts - 1, 0)
    # min() before the power: 2**attempts grows without bound when max_attempts is large.
    delay = float(min(base_seconds * 2 ** min(exponent, 62), max_seconds))
    if jitter > 0 and delay > 0:
        fraction = int.from_bytes(hashlib.sha256(f"{seed}#{attempts}".encode()).digest()[:8], "big") / 2**64
        delay -= delay * min(jitter, 1.0) * fraction
    return timedelta(seconds=delay)
