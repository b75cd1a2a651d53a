"""Benchmark 1: parse + classify throughput, pure CPU (no AWS, no moto)."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Sequence
from typing import Any

from benchmarks.common import Timing, rounded, timed
from benchmarks.workload import Workload, realistic_mix


def parse_and_classify(bodies: Sequence[str]) -> Counter[str]:
    """What ingest does before it touches the ledger: parse each body, classify each event."""
    from replimend.events import parse_message_body
    from replimend.reasons import classify_failure

    actions: Counter[str] = Counter()
    for body in bodies:
        for event in parse_message_body(body):
            actions[str(classify_failure(event).action)] += 1
    return actions


def time_parse(bodies: Sequence[str], repeats: int) -> tuple[Counter[str], Timing]:
    timing = Timing()
    actions: Counter[str] = Counter()
    for _ in range(max(1, repeats)):
        gc.collect()
        actions, seconds = timed(lambda: parse_and_classify(bodies))
        timing.seconds.append(seconds)
    return actions, timing


def run_parse(messages: int, *, repeats: int = 3, workload: Workload | None = None) -> dict[str, Any]:
    workload = workload or realistic_mix(messages)
    actions, timing = time_parse(workload.bodies, repeats)
    events = sum(actions.values())
    return {
        "workload": workload.name,
        "messages": len(workload.bodies),
        "events": events,
        "delivery_forms": dict(sorted(workload.forms.items())),
        "events_by_action": dict(sorted(actions.items())),
        "repeats": len(timing.seconds),
        "seconds_best": rounded(timing.best, 4),
        "seconds_median": rounded(timing.median, 4),
        "events_per_second_best": round(events / timing.best),
        "events_per_second_median": round(events / timing.median),
        "microseconds_per_event_best": rounded(timing.best / events * 1e6, 1),
    }
