"""Domain types shared by every stage of the pipeline. Pure data: no AWS calls here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    """What the pipeline does about a replication event (meanings in DESIGN.md)."""

    RETRY_AFTER_FIX = "retry_after_fix"
    RETRY = "retry"
    CLOSE_OBSOLETE = "close_obsolete"
    CLOSE_DONE = "close_done"
    ESCALATE = "escalate"
    OBSERVE = "observe"
    IGNORE = "ignore"


class ObjectState(StrEnum):
    """Lifecycle of one (source bucket, key, version, destination) failure."""

    FAILED = "FAILED"  # due for remediation once gate and backoff allow
    BLOCKED = "BLOCKED"  # cause not fixed yet; an incident is open
    IN_JOB = "IN_JOB"  # in a Batch Replication job
    REPLICATED = "REPLICATED"  # a job replicated it
    GAVE_UP = "GAVE_UP"  # max attempts reached; escalated
    OBSOLETE = "OBSOLETE"  # source version gone; nothing to replicate
    DONE = "DONE"  # already replicated
    ESCALATED = "ESCALATED"  # needs a person (not fixable by Batch Replication, or unknown reason)


#: States in which an object still needs work (the due-work index holds only these).
#: The actor that resolves an incident when its diagnosis passes (``Incident.resolved_by``).
DIAGNOSIS_ACTOR = "diagnosis"

OPEN_STATES = frozenset({ObjectState.FAILED, ObjectState.BLOCKED, ObjectState.IN_JOB})
#: States that end an object's story (history is kept).
CLOSED_STATES = frozenset(
    {
        ObjectState.REPLICATED,
        ObjectState.GAVE_UP,
        ObjectState.OBSOLETE,
        ObjectState.DONE,
        ObjectState.ESCALATED,
    }
)

TEST_EVENT = "s3:TestEvent"
FAILED_REPLICATION = "Replication:OperationFailedReplication"
MISSED_THRESHOLD = "Replication:OperationMissedThreshold"
REPLICATED_AFTER_THRESHOLD = "Replication:OperationReplicatedAfterThreshold"
NOT_TRACKED = "Replication:OperationNotTracked"
REPLICATION_EVENT_TYPES = frozenset(
    {FAILED_REPLICATION, MISSED_THRESHOLD, REPLICATED_AFTER_THRESHOLD, NOT_TRACKED}
)


@dataclass(frozen=True, slots=True)
class ReplicationEvent:
    """One S3 event record, normalised from any delivery form.

    Replication fields are optional because S3 documents every ``replicationEventData`` field
    as optional; test events and other S3 events carry only ``event_type``.
    """

    event_type: str  # eventName as S3 sends it (no "s3:" prefix), or "s3:TestEvent"
    event_id: str  # stable identity of the record (hash of its content): dedup of history
    source_bucket: str | None = None
    key: str | None = None  # decoded (unquote_plus)
    version_id: str | None = None
    sequencer: str | None = None
    size: int | None = None
    etag: str | None = None
    region: str | None = None
    event_time: datetime | None = None
    destination_bucket_arn: str | None = None
    destination_bucket: str | None = None  # name taken from the ARN
    rule_id: str | None = None
    failure_reason: str | None = None
    s3_operation: str | None = None
    request_time: str | None = None
    threshold: str | None = None
    replication_time: str | None = None


@dataclass(frozen=True, slots=True)
class UnparseableRecord:
    """A message or record that could not be parsed: it is reported, never silently dropped."""

    error: str
    source: str = ""  # where it came from (e.g. SQS messageId, "Records[3]")


@dataclass(frozen=True, slots=True)
class Classification:
    """What the registry says about an event."""

    action: Action
    category: str
    failure_reason: str | None  # the code as received (None when absent)
    known: bool  # False for a failure reason the registry does not know


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Identity of one failure in the ledger: a version of a key, towards one destination."""

    source_bucket: str
    key: str
    version_id: str | None
    destination_bucket: str  # bucket name (the ARN is kept on the record)


@dataclass(slots=True)
class FailureRecord:
    """The ledger's view of one object failure (one item per ObjectRef)."""

    ref: ObjectRef
    state: ObjectState
    failure_reason: str | None
    action: Action
    category: str
    attempts: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    last_sequencer: str | None = None
    destination_bucket_arn: str | None = None
    rule_id: str | None = None
    region: str | None = None
    next_attempt_at: datetime | None = None
    job_id: str | None = None
    job_ids: list[str] = field(default_factory=list)
    version: int = 0  # optimistic-lock counter: every conditional write checks and bumps it
    state_since: datetime | None = None
    state_by_event: bool = False  # the current state was set by an S3 event (the newest one decides)
    last_event_id: str | None = None
    event_ids: frozenset[str] = frozenset()  # events already in this record's history (dedup)
    history_count: int = 0  # history lines kept on the record itself
    #: how replimend learned of it: "event" (an S3 failure event) or "backfill" (a backfill job's report)
    found_by: str = "event"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of an object's audit trail (append-only)."""

    ref: ObjectRef
    at: datetime
    kind: str  # "event" (an S3 event observed) or "transition" (a state change)
    from_state: ObjectState | None
    to_state: ObjectState | None
    reason: str | None  # failure reason or why the transition happened
    actor: str  # "ingest", "remediate", "track_jobs", "backfill", "operator:<who>"
    job_id: str | None = None
    event_id: str | None = None
    detail: str | None = None
    failure_reason: str | None = None  # the object's failure reason when this line was written


class JobStatus(StrEnum):
    """S3 Batch Operations job status (botocore s3control JobStatus enum)."""

    NEW = "New"
    PREPARING = "Preparing"
    SUSPENDED = "Suspended"
    READY = "Ready"
    ACTIVE = "Active"
    PAUSING = "Pausing"
    PAUSED = "Paused"
    COMPLETING = "Completing"
    COMPLETE = "Complete"
    FAILING = "Failing"
    FAILED = "Failed"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"


TERMINAL_JOB_STATUSES = frozenset({JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(slots=True)
class JobRecord:
    """A Batch Replication job replimend started (or, for backfill, generated)."""

    job_id: str
    source_bucket: str
    destination_bucket: str | None  # its only destination; None when it covers several (or generated)
    status: str  # JobStatus value as last seen
    client_request_token: str
    object_count: int
    manifest_arn: str | None = None
    manifest_etag: str | None = None
    report_bucket: str | None = None
    report_prefix: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    tasks_succeeded: int = 0
    tasks_failed: int = 0
    failure_reasons: list[str] = field(default_factory=list)
    kind: str = "remediation"  # "remediation" (our CSV manifest) or "backfill" (generated manifest)
    outcome_recorded: bool = False  # per-object outcomes applied from the completion report
    region: str | None = None  # the job's Region (the source bucket's): where DescribeJob is called
    stale_since: datetime | None = None  # set when a job is stuck (Suspended/too old): polling stops
    destinations: list[str] = field(default_factory=list)  # the destinations of its objects' records
    #: completion-report rows applied by runs that reached their time budget, and how many of them
    #: matched an object of the job: the next run goes on from there
    report_rows_done: int = 0
    report_rows_matched: int = 0
    version: int = 0


@dataclass(slots=True)
class Incident:
    """An open cause: failures of one reason between one source and one destination."""

    source_bucket: str
    destination_bucket: str
    failure_reason: str
    opened_at: datetime
    object_count: int = 0
    fixed: bool = False
    fixed_at: datetime | None = None
    fixed_by: str | None = None
    last_diagnosis: str | None = None  # summary of the last gate check
    version: int = 0
    #: the checks of the last diagnosis: {"name", "status", "evidence", "fix"} each
    last_checks: list[dict[str, Any]] = field(default_factory=list)
    #: when the last "still open" reminder went out (None: never)
    last_reminded_at: datetime | None = None

    @property
    def resolved_by(self) -> str | None:
        """Who released the incident's objects: ``diagnosis`` (its checks passed), ``operator`` (an
        explicit override, for causes no check can see), or None while it is open."""
        if not self.fixed:
            return None
        return DIAGNOSIS_ACTOR if self.fixed_by == DIAGNOSIS_ACTOR else "operator"


@dataclass(frozen=True, slots=True)
class ObservedEvent:
    """An observe-only S3 event (an RTC threshold miss, a not-tracked object): no failure, no state."""

    ref: ObjectRef
    at: datetime
    event_type: str  # as recorded, e.g. "Replication:OperationMissedThreshold"
    rule_id: str | None  # the replication rule that named it (None on items written before it was kept)
