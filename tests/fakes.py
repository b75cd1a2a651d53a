"""In-memory fakes of the ports, for unit tests of the logic without moto.

``InMemoryLedger`` stores records in a dict and makes its decisions with ``replimend.lifecycle``
exactly as the DynamoDB ledger does; only the storage differs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from replimend.errors import AwsCallError, ConflictError, NotFoundError
from replimend.lifecycle import DUE_STATES, RecordOutcome, check_transition, decide_event
from replimend.models import (
    Classification,
    FailureRecord,
    HistoryEntry,
    ObjectRef,
    ObjectState,
    ReplicationEvent,
)
from replimend.ports import KeyInfo, RoleInfo, Simulated, SimulationRequest


class InMemoryLedger:
    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.records: dict[ObjectRef, FailureRecord] = {}
        self.lines: dict[ObjectRef, list[HistoryEntry]] = {}
        self.clock = clock or (lambda: datetime(2024, 9, 5, tzinfo=UTC))

    def record_event(
        self, event: ReplicationEvent, classification: Classification, *, actor: str = "ingest"
    ) -> RecordOutcome:
        assert event.source_bucket and event.key is not None
        ref = ObjectRef(event.source_bucket, event.key, event.version_id, event.destination_bucket or "-")
        record = self.records.get(ref)
        decision = decide_event(record, event, classification)
        if decision.outcome in (RecordOutcome.IGNORED, RecordOutcome.OBSERVED, RecordOutcome.DUPLICATE):
            return decision.outcome
        now = self.clock()
        state = decision.to_state or ObjectState.FAILED
        if record is None:
            check_transition(None, state)
            record = FailureRecord(
                ref=ref,
                state=state,
                failure_reason=classification.failure_reason,
                action=classification.action,
                category=classification.category,
                state_since=now,
                state_by_event=True,
                version=0,
            )
        if decision.transition:
            check_transition(self.records[ref].state if ref in self.records else None, state)
            record = dataclasses.replace(record, state=state, state_since=now, state_by_event=True)
        if decision.newest:
            record = dataclasses.replace(
                record,
                failure_reason=classification.failure_reason,
                action=classification.action,
                last_seen=event.event_time,
                last_sequencer=event.sequencer,
                last_event_id=event.event_id,
            )
        record = dataclasses.replace(
            record,
            first_seen=decision.first_seen or record.first_seen,
            event_ids=record.event_ids | {event.event_id},
            next_attempt_at=now if state in DUE_STATES and decision.transition else record.next_attempt_at,
            version=record.version + 1,
        )
        self.records[ref] = record
        self.lines.setdefault(ref, []).append(
            HistoryEntry(
                ref,
                event.event_time or now,
                "event",
                None,
                None,
                classification.failure_reason,
                actor,
                event_id=event.event_id,
            )
        )
        return decision.outcome

    def get_failure(self, ref: ObjectRef) -> FailureRecord | None:
        return self.records.get(ref)

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
    ) -> FailureRecord:
        current = self.records.get(record.ref)
        if current is None:
            raise NotFoundError(str(record.ref))
        if current.version != record.version:
            raise ConflictError("moved", current)
        check_transition(current.state, to_state)
        now = self.clock()
        moved = dataclasses.replace(
            current,
            state=to_state,
            state_since=now,
            state_by_event=False,
            version=current.version + 1,
            job_id=job_id or current.job_id,
            attempts=current.attempts if attempts is None else attempts,
            failure_reason=failure_reason or current.failure_reason,
            next_attempt_at=next_attempt_at or (now if to_state in DUE_STATES else current.next_attempt_at),
        )
        self.records[record.ref] = moved
        self.lines.setdefault(record.ref, []).append(
            HistoryEntry(
                record.ref,
                now,
                "transition",
                current.state,
                to_state,
                reason,
                actor,
                job_id=job_id,
                detail=detail,
            )
        )
        return moved


# ---- diagnosis ----------------------------------------------------------------------------------

FAKE_ROLE = "arn:aws:iam::111122223333:role/replication"


class FakeConfigReader:
    """A ConfigReader over dicts; a missing bucket is NotFoundError, ``denied`` reads AccessDenied."""

    def __init__(self, source: str = "src", destination: str = "dst") -> None:
        self.buckets: dict[str, dict[str, Any]] = {
            source: {"region": "us-east-1", "versioning": "Enabled", "lock": False, "notifications": {}},
            destination: {"region": "us-west-2", "versioning": "Enabled", "lock": False, "policy": None},
        }
        self.config: dict[str, Any] | None = {
            "Role": FAKE_ROLE,
            "Rules": [
                {
                    "ID": "r1",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Destination": {
                        "Bucket": f"arn:aws:s3:::{destination}",
                        "Metrics": {"Status": "Enabled"},
                    },
                }
            ],
        }
        self.trust: dict[str, Any] = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                     "Action": "sts:AssumeRole"}]}  # fmt: skip
        self.allowed: set[str] = {"*"}
        self.denied_reads: set[str] = set()
        self.keys: dict[str, KeyInfo] = {}
        self.key_policies: dict[str, dict[str, Any]] = {}
        self.simulations: list[SimulationRequest] = []

    def _bucket(self, name: str, read: str) -> dict[str, Any]:
        if read in self.denied_reads:
            raise AwsCallError(read, "AccessDenied", "denied")
        if name not in self.buckets:
            raise NotFoundError(f"{read}: NoSuchBucket")
        return self.buckets[name]

    def bucket_region(self, bucket: str) -> str:
        return str(self._bucket(bucket, "GetBucketLocation")["region"])

    def bucket_versioning(self, bucket: str) -> str | None:
        return self._bucket(bucket, "GetBucketVersioning").get("versioning")

    def replication_configuration(self, bucket: str) -> dict[str, Any] | None:
        self._bucket(bucket, "GetBucketReplication")
        return self.config

    def object_lock_enabled(self, bucket: str) -> bool:
        return bool(self._bucket(bucket, "GetObjectLockConfiguration").get("lock"))

    def object_ownership(self, bucket: str) -> str | None:
        return self._bucket(bucket, "GetBucketOwnershipControls").get("ownership")

    def notification_configuration(self, bucket: str) -> dict[str, Any]:
        return dict(self._bucket(bucket, "GetBucketNotificationConfiguration").get("notifications") or {})

    def bucket_policy(self, bucket: str) -> str | None:
        return self._bucket(bucket, "GetBucketPolicy").get("policy")

    def inventory_configurations(self, bucket: str) -> list[dict[str, Any]]:
        return list(self._bucket(bucket, "ListBucketInventoryConfigurations").get("inventories") or [])

    def head_object(self, bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
        objects = self._bucket(bucket, "HeadObject").get("objects", {})
        if key not in objects:
            raise NotFoundError("HeadObject: 404")
        return dict(objects[key]["head"])

    def object_tags(self, bucket: str, key: str, version_id: str | None) -> dict[str, str]:
        return dict(self._bucket(bucket, "GetObjectTagging").get("objects", {})[key].get("tags", {}))

    def role(self, role_arn: str) -> RoleInfo:
        if role_arn != FAKE_ROLE:
            raise NotFoundError("GetRole: NoSuchEntity")
        return RoleInfo("replication", FAKE_ROLE, self.trust)

    def simulate(self, request: SimulationRequest) -> list[Simulated]:
        self.simulations.append(request)
        return [
            Simulated(a, r, "allowed" if "*" in self.allowed or a in self.allowed else "implicitDeny")
            for a in request.actions
            for r in request.resources
        ]

    def describe_key(self, key_id: str, region: str) -> KeyInfo:
        if key_id not in self.keys:
            raise NotFoundError("DescribeKey: NotFoundException")
        return self.keys[key_id]

    def key_policy(self, key_arn: str, region: str) -> str:
        return json.dumps(self.key_policies[key_arn])
