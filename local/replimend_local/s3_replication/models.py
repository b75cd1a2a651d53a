"""The state of emulated S3 replication: outcomes, rules that apply, source versions, and the
statuses and configurations shared by every engine on one endpoint."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

logger = logging.getLogger(__name__)

COMPLETED: Final = "COMPLETED"
FAILED: Final = "FAILED"
PENDING: Final = "PENDING"
REPLICA: Final = "REPLICA"
FAILED_REPLICATION_EVENT = "s3:Replication:OperationFailedReplication"
_REPLICATION_EVENT_WILDCARDS = ("s3:Replication:*",)
S3_SERVICE_PRINCIPAL = "s3.amazonaws.com"
_KMS_SSE = ("aws:kms", "aws:kms:dsse")
_COPIED_HEADERS = (
    "ContentType",
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
    "WebsiteRedirectLocation",
)

Trigger = Literal["live", "batch"]


@dataclass(frozen=True)
class ReplicationOutcome:
    """What happened to one source version for one destination.

    ``destination_bucket`` is a bucket name; it is empty when the failure precedes the choice of a
    destination (batch only: SrcBucketNotFound, SrcBucketReplicationConfigMissing, SrcKeyNotFound,
    SrcVersionNotFound, SrcObjectNotEligible).
    """

    destination_bucket: str
    rule_id: str | None
    status: Literal["COMPLETED", "FAILED", "PENDING"]
    failure_reason: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == COMPLETED


@dataclass(frozen=True)
class ApplicableRule:
    """A rule that applies to an object version, for one destination."""

    rule_id: str | None
    priority: int
    destination_bucket: str
    destination_arn: str
    rule: Mapping[str, Any]

    @property
    def metrics_enabled(self) -> bool:
        return (self.rule.get("Destination", {}).get("Metrics") or {}).get("Status") == "Enabled"


@dataclass(frozen=True)
class SourceVersion:
    bucket: str
    key: str
    version_id: str
    head: Mapping[str, Any]
    tags: Mapping[str, str]

    @property
    def kms_key_id(self) -> str | None:
        if self.head.get("ServerSideEncryption") in _KMS_SSE:
            return str(self.head.get("SSEKMSKeyId") or "") or None
        return None

    @property
    def is_kms_encrypted(self) -> bool:
        return self.head.get("ServerSideEncryption") in _KMS_SSE

    @property
    def size(self) -> int:
        return int(self.head.get("ContentLength", 0))

    @property
    def etag(self) -> str:
        return str(self.head.get("ETag", "")).strip('"')


@dataclass
class _SharedState:
    """State of the emulated S3 replication shared by every engine on one endpoint (the batch
    emulator may build its own engine; statuses and configurations must be the same)."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    statuses: dict[tuple[str, str, str], str] = field(default_factory=dict)
    outcomes: dict[tuple[str, str, str], tuple[ReplicationOutcome, ...]] = field(default_factory=dict)
    replica_versions: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    configurations: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_sequencer: int = 0
    errors: list[str] = field(default_factory=list)
    #: whether Batch Replication tasks send failure events too (AWS does not document it; see
    #: ReplicationBackend.batch_failure_events)
    batch_failure_events: bool = False
    #: Regions the embedded account treats as unavailable (see ReplicationBackend.set_region_available)
    unavailable_regions: set[str] = field(default_factory=set)
    #: (bucket, key, version) -> destination buckets whose replication waits for their Region
    pending: dict[tuple[str, str, str], frozenset[str]] = field(default_factory=dict)


_STATES: dict[tuple[str, str], _SharedState] = {}
_STATES_LOCK = threading.Lock()


def _shared_state(endpoint_url: str, account_id: str) -> _SharedState:
    with _STATES_LOCK:
        return _STATES.setdefault((endpoint_url.rstrip("/"), account_id), _SharedState())
