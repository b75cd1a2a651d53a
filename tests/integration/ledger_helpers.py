"""Builders shared by the ledger and ingest integration tests (plain functions, no fixtures)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from replimend.models import FAILED_REPLICATION, Action, Classification, ReplicationEvent

T0 = datetime(2024, 9, 5, 21, 4, 32, 527000, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0 + timedelta(minutes=1)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def failure_event(
    *,
    key: str = "photos/cat 1.png",
    version: str | None = "v1",
    source: str = "src-bucket",
    destination: str = "dst-bucket",
    reason: str = "AssumeRoleNotPermitted",
    sequencer: str | None = "0066DA1CBF104C0D51",
    at: datetime = T0,
    event_type: str = FAILED_REPLICATION,
) -> ReplicationEvent:
    identity = f"{source}|{key}|{version}|{destination}|{reason}|{sequencer}|{at.isoformat()}|{event_type}"
    return ReplicationEvent(
        event_type=event_type,
        event_id=hashlib.sha256(identity.encode()).hexdigest()[:32],
        source_bucket=source,
        key=key,
        version_id=version,
        sequencer=sequencer,
        size=520080,
        etag="e12345ca7e88a38428305d3ff7fcb99f",
        region="us-east-1",
        event_time=at,
        destination_bucket_arn=f"arn:aws:s3:::{destination}",
        destination_bucket=destination,
        rule_id="rule-1",
        failure_reason=reason,
        s3_operation="OBJECT_PUT",
    )


def classified(
    action: Action, reason: str | None = "AssumeRoleNotPermitted", *, known: bool = True
) -> Classification:
    return Classification(action=action, category="permissions", failure_reason=reason, known=known)


RETRY_AFTER_FIX = classified(Action.RETRY_AFTER_FIX)
RETRY = classified(Action.RETRY, "DstPutObjectNotPermitted")
