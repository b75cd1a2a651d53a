"""Ports: every contract between a stage (ingest, remediate, track) and an adapter, and the value
types that cross them.

The stages depend on these Protocols, never on an adapter; the adapters (``replimend.ledger``,
``replimend.aws``) satisfy them structurally, and ``replimend.wiring`` plugs one into the other.
Nothing here talks to AWS: no boto3, no botocore.

  ledger    EventLedger (ingest) · RemediationLedger (remediate, track) · RecordOutcome
  gate      CauseGate · PairGate · GateDecision
  S3        ObjectInspector · SourceVersionStatus · ManifestStorage
  s3control JobStarter · ReplicationJobRequest · JobDescriber · JobDescription
            BackfillJobStarter · BackfillJobRequest · ListedJob
  diagnosis ConfigReader · RoleInfo · KeyInfo · SimulationRequest · Simulated
  alerts    Notifier
  enroll    BucketEnrollment
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from replimend.lifecycle import RecordOutcome
from replimend.models import (
    Classification,
    FailureRecord,
    Incident,
    JobRecord,
    ObjectRef,
    ObjectState,
    ReplicationEvent,
)

# ---- ledger --------------------------------------------------------------------------------


class EventLedger(Protocol):
    """The part of the ledger ingest needs."""

    def batch(self) -> AbstractContextManager[object]:
        """Per-batch writes (incident counts, activity pages) buffered until the block ends."""
        ...

    def record_event(
        self, event: ReplicationEvent, classification: Classification, *, actor: str = "ingest"
    ) -> RecordOutcome:
        """Record one classified event (the rules are ``lifecycle.decide_event``)."""
        ...


class RemediationLedger(Protocol):
    """The ledger operations remediation and tracking use."""

    def batch(self) -> AbstractContextManager[object]: ...

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

    def record_found(
        self,
        ref: ObjectRef,
        state: ObjectState,
        *,
        failure_reason: str | None,
        job_id: str,
        actor: str = ...,
        detail: str | None = None,
    ) -> FailureRecord | None:
        """Enter a version a backfill job's report names (``found_by: backfill``); None if known."""
        ...

    def open_sources(self) -> list[str]: ...

    def due_versions(self, source_bucket: str, *, now: datetime) -> Iterator[list[FailureRecord]]: ...

    def version_records(
        self, source_bucket: str, key: str, version_id: str | None
    ) -> list[FailureRecord]: ...

    def failures_in_state(
        self, state: ObjectState, *, source_bucket: str | None = None, limit: int | None = None
    ) -> Iterator[FailureRecord]: ...

    def get_incident(self, source_bucket: str, destination_bucket: str, reason: str) -> Incident | None: ...

    def claim_incident_reminder(
        self, source_bucket: str, destination_bucket: str, reason: str, *, interval: timedelta
    ) -> bool:
        """True when this caller may send the incident's "still open" reminder now (at most one per
        ``interval`` per incident, whatever passes run at once)."""
        ...

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
        self,
        source_bucket: str,
        destination_bucket: str,
        reason: str,
        summary: str,
        checks: Sequence[Mapping[str, Any]] = (),
    ) -> Incident: ...

    def create_job(self, job: JobRecord) -> bool: ...

    def get_job(self, job_id: str) -> JobRecord | None: ...

    def update_job(self, job: JobRecord, **changes: object) -> JobRecord: ...

    def list_jobs(self, *, active_only: bool = False) -> list[JobRecord]: ...

    def active_jobs(self, source_bucket: str | None = None) -> list[JobRecord]: ...

    def find_job_by_token(self, token: str) -> JobRecord | None: ...


# ---- the cause gate ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateDecision:
    fixed: bool
    summary: str
    #: the checks behind the decision ({"name", "status", "evidence", "fix"} each), recorded on the incident
    checks: tuple[Mapping[str, Any], ...] = ()
    #: when open: "diagnosis" (its checks passed) or "operator" (an explicit override)
    resolved_by: str | None = None


class Notifier(Protocol):
    """Where incident alerts go (an SNS topic): one message per incident event, never per failure."""

    def publish(self, subject: str, message: str) -> None: ...


class CauseGate(Protocol):
    """Whether the cause of ``reason`` failures from source to destination is confirmed fixed."""

    def is_fixed(self, source_bucket: str, destination_bucket: str, reason: str) -> GateDecision: ...


class PairGate(Protocol):
    """Whether replication from a source to a destination passes the named diagnosis checks."""

    def check_pair(
        self, source_bucket: str, destination_bucket: str, checks: Iterable[str]
    ) -> GateDecision: ...


# ---- S3 ------------------------------------------------------------------------------------


class SourceVersionStatus(StrEnum):
    """What HeadObject says about the failed source version."""

    GONE = "gone"  # version (or key) no longer exists: nothing to replicate
    REPLICATED = "replicated"  # ReplicationStatus COMPLETED: every destination has it
    NEEDS_REPLICATION = "needs_replication"  # present, not (yet) replicated everywhere
    UNVERIFIED = "unverified"  # could not check (e.g. 403): the job will tell


class ReplicaStatus(StrEnum):
    """Whether a destination holds the replica of a version (same key and version id: S3 keeps the
    version id when it replicates, "What does Amazon S3 replicate?")."""

    PRESENT = "present"
    ABSENT = "absent"
    UNKNOWN = "unknown"  # could not check (no read permission on the destination, cross-account, …)


class ObjectInspector(Protocol):
    def source_version_status(self, bucket: str, key: str, version_id: str | None) -> SourceVersionStatus: ...

    def replica_status(self, bucket: str, key: str, version_id: str | None) -> ReplicaStatus: ...

    def bucket_region(self, bucket: str) -> str: ...


class ManifestStorage(Protocol):
    """Objects replimend writes and reads itself: manifests, pending markers, completion reports."""

    def put_manifest(self, bucket: str, key: str, body: Any) -> str: ...

    def put_text(self, bucket: str, key: str, text: str, content_type: str = ...) -> None: ...

    def get_bytes(self, bucket: str, key: str) -> bytes: ...

    def iter_lines(self, bucket: str, key: str) -> Iterator[str]:
        """The object's lines; bytes that are not UTF-8 as surrogate escapes (errors="surrogateescape")."""
        ...

    def list_keys(self, bucket: str, prefix: str) -> Iterator[str]: ...

    def delete(self, bucket: str, key: str) -> None: ...


class ArchiveStore(Protocol):
    """Where the audit archive's objects go (the audit bucket)."""

    def put_bytes(self, bucket: str, key: str, body: bytes, *, content_type: str) -> None: ...


# ---- s3control (Batch Replication jobs) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplicationJobRequest:
    """Everything CreateJob needs for one manifest; stored verbatim so a retry resends it unchanged."""

    account_id: str
    region: str
    source_bucket: str
    destinations: list[str]  # every destination of the versions in it (a task replicates to all)
    manifest_bucket: str
    manifest_key: str
    manifest_etag: str  # unquoted
    object_count: int
    report_bucket: str
    report_prefix: str
    role_arn: str
    priority: int
    token: str
    description: str
    partition: str = "aws"  # the ARN partition: aws, aws-cn, aws-us-gov

    @property
    def manifest_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.manifest_bucket}/{self.manifest_key}"

    @property
    def report_bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.report_bucket}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, document: str | bytes) -> ReplicationJobRequest:
        data = json.loads(document)
        # Fields with a default may be missing from a marker an older version wrote.
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


class JobStarter(Protocol):
    def create_replication_job(self, request: ReplicationJobRequest) -> str:
        """Start the job; the JobId. The same request (token) must not start a second job."""
        ...

    def find_job(self, region: str, tag: str) -> str | None:
        """The id of a job whose Description holds ``tag`` (ListJobs), or None.

        Crash recovery relies on this, not on what CreateJob does with a ClientRequestToken it has
        seen: AWS documents no answer for a re-used token, nor for how long it remembers one.
        """
        ...


@dataclass(frozen=True, slots=True)
class BackfillJobRequest:
    """CreateJob for a backfill: S3 generates the manifest from the source bucket's replication
    configuration and ``filter`` (a botocore ``JobManifestGeneratorFilter``), keeps it under
    ``manifest_prefix`` in the manifest bucket, and writes the report to the report bucket."""

    account_id: str
    region: str
    source_bucket: str
    destinations: list[str]  # the destinations of the source's enabled rules (a task replicates to all)
    manifest_bucket: str
    manifest_prefix: str
    report_bucket: str
    report_prefix: str
    role_arn: str
    priority: int
    token: str
    description: str
    filter: dict[str, Any]
    partition: str = "aws"

    def arn(self, bucket: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}"


@dataclass(frozen=True, slots=True)
class ListedJob:
    """One ListJobs entry (JobListDescriptor), reduced to what the overlap check reads."""

    job_id: str
    status: str
    description: str
    operation: str | None = None


class BackfillJobStarter(Protocol):
    def create_backfill_job(self, request: BackfillJobRequest) -> str:
        """Start a generated-manifest Batch Replication job; its JobId."""
        ...

    def find_job(self, region: str, tag: str) -> str | None: ...

    def list_active_jobs(self, region: str) -> list[ListedJob]:
        """Every job of the account in ``region`` that has not ended (ListJobs, every page)."""
        ...


@dataclass(frozen=True, slots=True)
class JobDescription:
    """What DescribeJob says about a job, reduced to what tracking uses."""

    job_id: str
    status: str
    total_tasks: int = 0
    tasks_succeeded: int = 0
    tasks_failed: int = 0
    failure_reasons: list[str] = field(default_factory=list)
    status_update_reason: str | None = None
    suspended_cause: str | None = None
    report_enabled: bool = False
    report_bucket: str | None = None  # bucket name
    report_prefix: str | None = None
    manifest_arn: str | None = None
    created_at: datetime | None = None
    terminated_at: datetime | None = None


class JobDescriber(Protocol):
    def describe_job(self, job_id: str, region: str) -> JobDescription:
        """The job's status and progress; NotFoundError when the job does not exist (any more)."""
        ...


# ---- diagnosis: configuration reads ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoleInfo:
    """What GetRole says about a role: its ARN and trust policy (the document, decoded)."""

    name: str
    arn: str
    trust_policy: dict[str, Any]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What KMS DescribeKey says about a key (``KeyState`` is the model's enum)."""

    key_id: str
    arn: str
    state: str
    region: str


@dataclass(frozen=True, slots=True)
class SimulationRequest:
    """One iam:SimulatePrincipalPolicy call: the role's own policies, optionally with one resource
    policy (a bucket or key policy) owned by ``resource_owner``."""

    role_arn: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    resource_policy: str | None = None
    resource_owner: str | None = None  # account id


@dataclass(frozen=True, slots=True)
class Simulated:
    """One EvaluationResult: ``allowed`` | ``explicitDeny`` | ``implicitDeny``, and the ids of the
    policies whose statements matched (``resource`` for the resource policy)."""

    action: str
    resource: str
    decision: str
    matched_policies: tuple[str, ...] = ()
    matched_resource_policy: bool = False

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


class ConfigReader(Protocol):
    """Read-only views of the configuration diagnosis checks (``replimend.diagnose``).

    Every method raises ``NotFoundError`` when the thing read does not exist and ``AwsCallError`` when
    the read itself fails (AccessDenied, throttling); "not configured" is a value (None, {}), not an
    error."""

    def bucket_region(self, bucket: str) -> str: ...

    def bucket_versioning(self, bucket: str) -> str | None: ...

    def replication_configuration(self, bucket: str) -> dict[str, Any] | None: ...

    def object_lock_enabled(self, bucket: str) -> bool: ...

    def object_ownership(self, bucket: str) -> str | None: ...

    def notification_configuration(self, bucket: str) -> dict[str, Any]: ...

    def bucket_policy(self, bucket: str) -> str | None: ...

    def head_object(self, bucket: str, key: str, version_id: str | None) -> dict[str, Any]: ...

    def object_tags(self, bucket: str, key: str, version_id: str | None) -> dict[str, str]: ...

    def role(self, role_arn: str) -> RoleInfo: ...

    def simulate(self, request: SimulationRequest) -> list[Simulated]: ...

    def describe_key(self, key_id: str, region: str) -> KeyInfo: ...

    def key_policy(self, key_arn: str, region: str) -> str: ...

    def inventory_configurations(self, bucket: str) -> list[dict[str, Any]]:
        """The bucket's S3 Inventory configurations (ListBucketInventoryConfigurations, every page)."""
        ...


# ---- enrollment -----------------------------------------------------------------------------


class BucketEnrollment(Protocol):
    """What ``replimend.enrollment`` reads and writes of a source bucket and replimend's queue.

    Reads answer "not configured" as a value (None, {}); writes replace the whole configuration
    (``put_bucket_tags`` with no tags deletes the tag set)."""

    def bucket_region(self, bucket: str) -> str: ...

    def replication_configuration(self, bucket: str) -> dict[str, Any] | None: ...

    def notification_configuration(self, bucket: str) -> dict[str, Any]: ...

    def bucket_tags(self, bucket: str) -> dict[str, str]: ...

    def put_replication_configuration(self, bucket: str, configuration: dict[str, Any]) -> None: ...

    def put_notification_configuration(self, bucket: str, configuration: dict[str, Any]) -> None: ...

    def put_bucket_tags(self, bucket: str, tags: dict[str, str]) -> None: ...

    def queue_policy(self, queue_arn: str) -> str | None: ...

    def account_id(self) -> str: ...
