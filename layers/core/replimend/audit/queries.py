"""The audit questions, answered from the Ledger facade (GetItem, Query, BatchGetItem; never a Scan).

  failures      by source, destination, reason, category, state and first-seen time; paged
  object        one object's records and history (every version and destination)
  incidents     open or resolved, with their last diagnosis' checks
  jobs          counts by status and kind, task outcomes, the newest jobs
  summary       counts by state and reason of the failures first seen in a period, time from
                failure to repair (mean, p95), RTC threshold misses per replication rule

Where the failures come from: FAILED/BLOCKED ones from the due-work index (every open one, so a
period only filters), any other state from the activity log of the period (``Ledger.failures_seen``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from replimend.audit.cursor import FailureCursor, decode_cursor, encode_cursor, query_digest
from replimend.audit.schema import (
    Failure,
    FailurePage,
    HistoryLine,
    IncidentList,
    IncidentView,
    JobsOverview,
    JobView,
    ObjectHistory,
    RuleMisses,
    Summary,
)
from replimend.errors import ReplimendError
from replimend.ledger import Ledger, failure_order, seen_at
from replimend.lifecycle import DUE_STATES
from replimend.models import MISSED_THRESHOLD, TERMINAL_JOB_STATUSES, FailureRecord, ObjectState

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: Records one /failures page reads at most (matching or not): a bounded request time.
EXAMINED_PER_PAGE = 5000
#: The period /summary covers when ``since`` is not given.
DEFAULT_SUMMARY_DAYS = 30


class InvalidPeriod(ReplimendError):
    """A period that ends before it starts (``until`` may be the default: now)."""


@dataclass(frozen=True)
class FailureQuery:
    """Filters of /failures; ``since``/``until`` bound the time a failure was first seen."""

    source: str | None = None
    destination: str | None = None
    reason: str | None = None
    category: str | None = None
    state: ObjectState | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, record: FailureRecord) -> bool:
        return (
            (self.destination is None or record.ref.destination_bucket == self.destination)
            and (self.reason is None or record.failure_reason == self.reason)
            and (self.category is None or record.category == self.category)
            and (self.state is None or record.state is self.state)
        )

    def digest(self) -> str:
        return query_digest(asdict(self))


class AuditQueries:
    def __init__(self, ledger: Ledger, *, clock: Any = None) -> None:
        self._ledger = ledger
        self._clock = clock or (lambda: datetime.now(UTC))

    # ------------------------------------------------------------------ failures

    def failures(
        self,
        query: FailureQuery,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        budget: int = EXAMINED_PER_PAGE,
    ) -> FailurePage:
        """One page of failures in (source, first seen, key, version, destination) order.

        A cursor is the last examined record's position: the next page starts in that source at that
        record's first-seen hour. A page examines at most ``budget`` records, so a filter that matches
        little ends a page early (fewer items, even none, and a cursor) instead of reading the whole
        ledger in one request.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT}")
        after = decode_cursor(cursor, asdict(query)) if cursor else None
        sources = [query.source] if query.source else self._ledger.source_buckets()
        if after is not None:
            sources = [source for source in sources if source >= after.source]
        items: list[FailureRecord] = []
        examined = 0
        last: FailureRecord | None = None
        for source in sources:
            resume = after if after is not None and after.source == source else None
            for record in self._source_failures(source, query, resume):
                if last is not None and (len(items) == limit or examined == budget):
                    # The next page resumes after the last record examined, matching or not.
                    return FailurePage(
                        items=[Failure.of(r) for r in items], next_cursor=self._cursor(query, last)
                    )
                examined += 1
                last = record
                if query.matches(record):
                    items.append(record)
        return FailurePage(items=[Failure.of(r) for r in items], next_cursor=None)

    def _source_failures(
        self, source: str, query: FailureQuery, resume: FailureCursor | None
    ) -> Iterator[FailureRecord]:
        """A source's candidates after ``resume``, in page order (``query.matches`` decides)."""
        since = query.since
        if resume is not None:
            since = max(since, resume.seen) if since else resume.seen
        records: Iterator[FailureRecord]
        if query.state in DUE_STATES:
            assert query.state is not None
            found = self._ledger.failures_in_state(
                query.state,
                source_bucket=source,
                destination_bucket=query.destination,
                failure_reason=query.reason,
            )
            records = iter(
                sorted((r for r in found if _inside(seen_at(r), since, query.until)), key=failure_order)
            )
        else:
            records = self._ledger.failures_seen(source, since=since, until=query.until)
        for record in records:
            if resume is None or failure_order(record) > resume.position():
                yield record

    @staticmethod
    def _cursor(query: FailureQuery, last: FailureRecord) -> str:
        seen, key, version, destination = failure_order(last)
        return encode_cursor(
            FailureCursor(
                v=1,
                query=query.digest(),
                source=last.ref.source_bucket,
                seen=seen,
                key=key,
                version=version,
                destination=destination,
            )
        )

    # ------------------------------------------------------------------ one object

    def object(self, bucket: str, key: str) -> ObjectHistory | None:
        records = self._ledger.object_records(bucket, key)
        history = self._ledger.history(bucket, key)
        if not records and not history:
            return None
        return ObjectHistory(
            source_bucket=bucket,
            key=key,
            failures=[Failure.of(r) for r in sorted(records, key=failure_order)],
            history=[HistoryLine.of(entry) for entry in history],
        )

    # ------------------------------------------------------------------ incidents and jobs

    def incidents(self, status: str | None = None) -> IncidentList:
        incidents = self._ledger.list_incidents(open_only=status == "open")
        if status == "resolved":
            incidents = [incident for incident in incidents if incident.fixed]
        return IncidentList(items=[IncidentView.of(incident) for incident in incidents])

    def jobs(self, *, limit: int = DEFAULT_LIMIT) -> JobsOverview:
        jobs = self._ledger.list_jobs()
        newest = sorted(jobs, key=lambda j: (j.created_at or datetime.min.replace(tzinfo=UTC), j.job_id))[
            ::-1
        ]
        return JobsOverview(
            total=len(jobs),
            active=sum(1 for j in jobs if j.status not in TERMINAL_JOB_STATUSES),
            by_status=dict(Counter(j.status for j in jobs)),
            by_kind=dict(Counter(j.kind for j in jobs)),
            objects=sum(j.object_count for j in jobs),
            tasks_succeeded=sum(j.tasks_succeeded for j in jobs),
            tasks_failed=sum(j.tasks_failed for j in jobs),
            jobs=[JobView.of(j) for j in newest[:limit]],
        )

    # ------------------------------------------------------------------ summary

    def summary(self, *, since: datetime | None = None, until: datetime | None = None) -> Summary:
        if until is None:  # up to now; a period that starts later is empty, not an error
            until = max(self._clock(), since) if since is not None else self._clock()
        since = since or until - timedelta(days=DEFAULT_SUMMARY_DAYS)
        if since > until:
            raise InvalidPeriod(f"since is after until ({until.isoformat()})")
        by_state: Counter[str] = Counter()
        by_reason: Counter[str] = Counter()
        repairs: list[float] = []
        misses: Counter[tuple[str, str | None]] = Counter()
        for source in self._ledger.source_buckets(observed=True):
            for record in self._ledger.failures_seen(source, since=since, until=until):
                by_state[record.state.value] += 1
                by_reason[record.failure_reason or "(none)"] += 1
                seen = seen_at(record)
                if record.state is ObjectState.REPLICATED and record.state_since and seen:
                    repairs.append((record.state_since - seen).total_seconds())
            for event in self._ledger.observed_events(source, since=since, until=until):
                if event.event_type == MISSED_THRESHOLD:
                    misses[(source, event.rule_id)] += 1
        return Summary(
            since=since,
            until=until,
            failures=sum(by_state.values()),
            by_state=dict(sorted(by_state.items())),
            by_reason=dict(sorted(by_reason.items())),
            repaired=len(repairs),
            mean_seconds_to_repair=sum(repairs) / len(repairs) if repairs else None,
            p95_seconds_to_repair=percentile(repairs, 95),
            rtc_threshold_misses=sum(misses.values()),
            rtc_threshold_misses_by_rule=[
                RuleMisses(source_bucket=source, rule_id=rule, misses=count)
                for (source, rule), count in sorted(misses.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
            ],
        )


def percentile(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile (a value that occurred, never an interpolation); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


def _inside(at: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if at is None:
        return since is None and until is None
    return (since is None or at >= since) and (until is None or at <= until)
