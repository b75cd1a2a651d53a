"""The audit API's response documents (pydantic: validated, and the OpenAPI schema comes from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from replimend.models import FailureRecord, HistoryEntry, Incident, JobRecord


class Failure(BaseModel):
    source_bucket: str
    key: str
    version_id: str | None
    destination_bucket: str
    state: str
    failure_reason: str | None
    category: str
    action: str
    attempts: int
    first_seen: datetime | None
    last_seen: datetime | None
    state_since: datetime | None
    next_attempt_at: datetime | None
    job_id: str | None
    job_ids: list[str]
    rule_id: str | None
    region: str | None

    @classmethod
    def of(cls, record: FailureRecord) -> Failure:
        ref = record.ref
        return cls(
            source_bucket=ref.source_bucket,
            key=ref.key,
            version_id=ref.version_id,
            destination_bucket=ref.destination_bucket,
            state=record.state.value,
            failure_reason=record.failure_reason,
            category=record.category,
            action=record.action.value,
            attempts=record.attempts,
            first_seen=record.first_seen,
            last_seen=record.last_seen,
            state_since=record.state_since,
            next_attempt_at=record.next_attempt_at,
            job_id=record.job_id,
            job_ids=list(record.job_ids),
            rule_id=record.rule_id,
            region=record.region,
        )


class FailurePage(BaseModel):
    items: list[Failure]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class HistoryLine(BaseModel):
    at: datetime
    kind: str = Field(description="event (an S3 event observed) or transition (a state change)")
    version_id: str | None
    destination_bucket: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    failure_reason: str | None
    actor: str
    job_id: str | None
    event_id: str | None
    detail: str | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryLine:
        return cls(
            at=entry.at,
            kind=entry.kind,
            version_id=entry.ref.version_id,
            destination_bucket=entry.ref.destination_bucket,
            from_state=entry.from_state.value if entry.from_state else None,
            to_state=entry.to_state.value if entry.to_state else None,
            reason=entry.reason,
            failure_reason=entry.failure_reason,
            actor=entry.actor,
            job_id=entry.job_id,
            event_id=entry.event_id,
            detail=entry.detail,
        )


class ObjectHistory(BaseModel):
    source_bucket: str
    key: str
    failures: list[Failure] = Field(description="the object's record per version and destination")
    history: list[HistoryLine] = Field(description="every event and state change, oldest first")


class IncidentView(BaseModel):
    source_bucket: str
    destination_bucket: str
    failure_reason: str
    status: str = Field(description="open or resolved")
    opened_at: datetime
    object_count: int
    resolved_at: datetime | None
    resolved_by: str | None = Field(description="diagnosis (its checks passed) or operator")
    last_diagnosis: str | None
    checks: list[dict[str, Any]] = Field(description="the last diagnosis' checks")

    @classmethod
    def of(cls, incident: Incident) -> IncidentView:
        return cls(
            source_bucket=incident.source_bucket,
            destination_bucket=incident.destination_bucket,
            failure_reason=incident.failure_reason,
            status="resolved" if incident.fixed else "open",
            opened_at=incident.opened_at,
            object_count=incident.object_count,
            resolved_at=incident.fixed_at,
            resolved_by=incident.resolved_by,
            last_diagnosis=incident.last_diagnosis,
            checks=list(incident.last_checks),
        )


class IncidentList(BaseModel):
    items: list[IncidentView]


class JobView(BaseModel):
    job_id: str
    kind: str
    source_bucket: str
    destinations: list[str]
    status: str
    object_count: int
    tasks_succeeded: int
    tasks_failed: int
    failure_reasons: list[str]
    created_at: datetime | None
    finished_at: datetime | None
    outcome_recorded: bool

    @classmethod
    def of(cls, job: JobRecord) -> JobView:
        destinations = job.destinations or ([job.destination_bucket] if job.destination_bucket else [])
        return cls(
            job_id=job.job_id,
            kind=job.kind,
            source_bucket=job.source_bucket,
            destinations=destinations,
            status=job.status,
            object_count=job.object_count,
            tasks_succeeded=job.tasks_succeeded,
            tasks_failed=job.tasks_failed,
            failure_reasons=list(job.failure_reasons),
            created_at=job.created_at,
            finished_at=job.finished_at,
            outcome_recorded=job.outcome_recorded,
        )


class JobsOverview(BaseModel):
    total: int
    active: int
    by_status: dict[str, int]
    by_kind: dict[str, int]
    objects: int = Field(description="objects put into jobs")
    tasks_succeeded: int
    tasks_failed: int
    jobs: list[JobView] = Field(description="the newest jobs first, at most ?limit=")


class RuleMisses(BaseModel):
    source_bucket: str
    rule_id: str | None = Field(description="null for events recorded before the rule was kept")
    misses: int


class Summary(BaseModel):
    since: datetime
    until: datetime
    failures: int = Field(description="failures (per version and destination) first seen in the period")
    by_state: dict[str, int]
    by_reason: dict[str, int]
    repaired: int = Field(description="of them, replicated by replimend")
    mean_seconds_to_repair: float | None
    p95_seconds_to_repair: float | None
    rtc_threshold_misses: int = Field(description="OperationMissedThreshold events in the period")
    rtc_threshold_misses_by_rule: list[RuleMisses]


class ErrorBody(BaseModel):
    statusCode: int
    message: str
