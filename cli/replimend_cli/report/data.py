"""What the audit report says, read from the ledger through its facade.

Reads: each source bucket's history inside the period (the activity log by hour, then each active
key's items), the objects now GAVE_UP (activity log), incidents (the Lists index) and jobs (the
Lists index). No scan: the cost grows with the activity in the period, not the size of the table.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from replimend.models import (
    MISSED_THRESHOLD,
    REPLICATED_AFTER_THRESHOLD,
    FailureRecord,
    HistoryEntry,
    Incident,
    JobRecord,
    ObjectState,
)

#: Time-to-repair histogram bins: (label, upper bound); the last bin is open-ended.
REPAIR_BINS: tuple[tuple[str, timedelta | None], ...] = (
    ("< 15 min", timedelta(minutes=15)),
    ("15-60 min", timedelta(hours=1)),
    ("1-6 h", timedelta(hours=6)),
    ("6-24 h", timedelta(days=1)),
    ("1-7 d", timedelta(days=7)),
    ("> 7 d", None),
)
#: At most this many time buckets on the failures-over-time chart (hour, then day, then week).
MAX_TIME_BUCKETS = 72


@dataclass(frozen=True)
class RtcMiss:
    """Replication Time Control threshold events of one (source, destination) pair."""

    source_bucket: str
    destination_bucket: str
    missed: int  # OperationMissedThreshold
    replicated_after: int  # OperationReplicatedAfterThreshold
    last_at: datetime


@dataclass
class Report:
    since: datetime
    until: datetime
    generated_at: datetime
    table: str
    sources: list[str]
    failures: int  # failure events recorded in the period
    objects_failed: int  # distinct (version, destination) that failed in the period
    repaired: int  # REPLICATED transitions in the period
    states_at_end: dict[str, int]  # objects active in the period, by their state at its end
    bucket_width: timedelta
    failures_over_time: list[tuple[datetime, dict[str, int]]]  # bucket start -> reason -> count
    reasons: list[str]  # the chart's series, most failures first
    repair_times: list[timedelta]
    repair_histogram: list[tuple[str, int]]
    open_incidents: list[Incident]
    gave_up: list[FailureRecord]
    rtc_misses: list[RtcMiss]
    jobs: list[JobRecord] = field(default_factory=list)

    @property
    def repair_p50(self) -> timedelta | None:
        return _percentile(self.repair_times, 0.50)

    @property
    def repair_p95(self) -> timedelta | None:
        return _percentile(self.repair_times, 0.95)


def build_report(
    ledger: Any, *, since: datetime | None = None, until: datetime | None = None, now: datetime | None = None
) -> Report:
    """The report of [since, until] (default: the last 30 days up to now)."""
    now = now or datetime.now(UTC)
    until = until or now
    since = since or until - timedelta(days=30)
    if since > until:
        raise ValueError(f"--since {since.isoformat()} is after --until {until.isoformat()}")
    sources = ledger.sources()
    lines = [line for source in sources for line in ledger.audit_by_bucket(source, since=since, until=until)]
    # The chart starts at the period's first failure, so a quiet start does not squash it.
    first = min((e.at for e in lines if e.kind == "event" and e.failure_reason), default=since)
    width = _bucket_width(first, until)
    over_time, reasons = _failures_over_time(lines, first, until, width)
    repair_times = _repair_times(lines)
    jobs = [j for j in ledger.list_jobs() if j.created_at is None or since <= j.created_at <= until]
    failures = [e for e in lines if e.kind == "event" and e.failure_reason]
    return Report(
        since=since,
        until=until,
        generated_at=now,
        table=ledger.table_name,
        sources=sources,
        failures=len(failures),
        objects_failed=len({_identity(e) for e in failures}),
        repaired=sum(1 for e in lines if e.to_state is ObjectState.REPLICATED),
        states_at_end=_states_at_end(lines),
        bucket_width=width,
        failures_over_time=over_time,
        reasons=reasons,
        repair_times=repair_times,
        repair_histogram=_histogram(repair_times),
        open_incidents=ledger.list_incidents(open_only=True),
        gave_up=list(ledger.failures_in_state(ObjectState.GAVE_UP, since=since, until=until)),
        rtc_misses=_rtc_misses(lines),
        jobs=jobs,
    )


def _identity(entry: HistoryEntry) -> tuple[str, str, str | None, str]:
    ref = entry.ref
    return (ref.source_bucket, ref.key, ref.version_id, ref.destination_bucket)


def _bucket_width(since: datetime, until: datetime) -> timedelta:
    widths = (5, 15, 60, 6 * 60, 24 * 60, 7 * 24 * 60)  # minutes
    for width in (timedelta(minutes=m) for m in widths):
        if (until - since) / width <= MAX_TIME_BUCKETS:
            return width
    return timedelta(days=math.ceil((until - since).days / MAX_TIME_BUCKETS))


def _failures_over_time(
    lines: Sequence[HistoryEntry], since: datetime, until: datetime, width: timedelta
) -> tuple[list[tuple[datetime, dict[str, int]]], list[str]]:
    start = _floor(since, width)
    count = max(1, math.ceil((until - start) / width))
    buckets: list[dict[str, int]] = [defaultdict(int) for _ in range(count)]
    totals: Counter[str] = Counter()
    for entry in lines:
        if entry.kind != "event" or not entry.failure_reason:
            continue
        index = min(int((entry.at - start) / width), count - 1)
        buckets[index][entry.failure_reason] += 1
        totals[entry.failure_reason] += 1
    reasons = [reason for reason, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))]
    return [(start + i * width, dict(bucket)) for i, bucket in enumerate(buckets)], reasons


def _floor(at: datetime, width: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((at - epoch) // width) * width


def _repair_times(lines: Iterable[HistoryEntry]) -> list[timedelta]:
    """Per object failure, from its first failure in the period to each REPLICATED that ends it."""
    failed_at: dict[tuple[str, str, str | None, str], datetime] = {}
    times = []
    for entry in lines:  # time order
        identity = _identity(entry)
        if entry.to_state is ObjectState.FAILED or (entry.kind == "event" and entry.failure_reason):
            failed_at.setdefault(identity, entry.at)
        elif entry.to_state is ObjectState.REPLICATED and identity in failed_at:
            times.append(entry.at - failed_at.pop(identity))
    return times


def _histogram(times: Sequence[timedelta]) -> list[tuple[str, int]]:
    counts = [0] * len(REPAIR_BINS)
    for value in times:
        for index, (_, upper) in enumerate(REPAIR_BINS):
            if upper is None or value < upper:
                counts[index] += 1
                break
    return [(label, counts[i]) for i, (label, _) in enumerate(REPAIR_BINS)]


def _states_at_end(lines: Iterable[HistoryEntry]) -> dict[str, int]:
    state: dict[tuple[str, str, str | None, str], ObjectState] = {}
    for entry in lines:
        if entry.kind == "transition" and entry.to_state is not None:
            state[_identity(entry)] = entry.to_state
    counts = Counter(str(s) for s in state.values())
    return {str(s): counts[str(s)] for s in ObjectState if counts[str(s)]}


def _rtc_misses(lines: Iterable[HistoryEntry]) -> list[RtcMiss]:
    pairs: dict[tuple[str, str], list[HistoryEntry]] = defaultdict(list)
    for entry in lines:
        if entry.kind == "event" and entry.reason in (MISSED_THRESHOLD, REPLICATED_AFTER_THRESHOLD):
            pairs[(entry.ref.source_bucket, entry.ref.destination_bucket)].append(entry)
    return [
        RtcMiss(
            source_bucket=source,
            destination_bucket=destination,
            missed=sum(1 for e in entries if e.reason == MISSED_THRESHOLD),
            replicated_after=sum(1 for e in entries if e.reason == REPLICATED_AFTER_THRESHOLD),
            last_at=max(e.at for e in entries),
        )
        for (source, destination), entries in sorted(pairs.items())
    ]


def _percentile(values: Sequence[timedelta], q: float) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
