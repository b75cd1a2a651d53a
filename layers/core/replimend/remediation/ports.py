"""The ledger operations remediation uses (a subset of ``replimend.ledger.Ledger``).

Declared as a Protocol so the logic depends on the contract, not the DynamoDB adapter; the real
``Ledger`` satisfies it structurally.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from replimend.models import FailureRecord, Incident, JobRecord, ObjectRef, ObjectState


class RemediationLedger(Protocol):
    def get_failure(self, ref: ObjectRef) -> FailureRecord | None: ...

    def transition(
        self,
        record: FailureRecord,
        to_state: ObjectState,
        *,
        reason: str,
        actor: str,
        job_id: str | None = None,
        next_attempt_at: datetime | None = None,
        attempts: int | None = None,
        failure_reason: str | None = None,
        detail: str | None = None,
    ) -> FailureRecord: ...

    def open_pairs(self) -> list[tuple[str, str]]: ...

    def due_failures(
        self, source_bucket: str, destination_bucket: str, *, now: datetime, limit: int | None = None
    ) -> Iterator[FailureRecord]: ...

    def failures_in_state(
        self, state: ObjectState, *, source_bucket: str | None = None, limit: int | None = None
    ) -> Iterator[FailureRecord]: ...

    def get_incident(self, source_bucket: str, destination_bucket: str, reason: str) -> Incident | None: ...

    def list_incidents(self, *, open_only: bool = True) -> list[Incident]: ...

    def set_incident_fixed(
        self, source_bucket: str, destination_bucket: str, reason: str, *, actor: str, fixed: bool = True
    ) -> Incident: ...

    def touch_incident(
        self,
        source_bucket: str,
        destination_bucket: str,
        reason: str,
        *,
        new_objects: int = 0,
        at: datetime | None = None,
    ) -> Incident: ...

    def record_diagnosis(
        self, source_bucket: str, destination_bucket: str, reason: str, summary: str
    ) -> object: ...

    def create_job(self, job: JobRecord) -> bool: ...

    def get_job(self, job_id: str) -> JobRecord | None: ...

    def update_job(self, job: JobRecord, **changes: object) -> JobRecord: ...

    def list_jobs(self, *, active_only: bool = False) -> list[JobRecord]: ...

    def active_jobs(self, source_bucket: str | None = None) -> list[JobRecord]: ...

    def find_job_by_token(self, token: str) -> JobRecord | None: ...
