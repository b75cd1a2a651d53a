"""S3 live replication for the embedded AWS (moto stores replication configurations but never
replicates, never sets ReplicationStatus and never emits replication events).

For every new object version in a bucket with a replication configuration, the engine decides what
S3 would do from the real state of the emulated account, read through its own un-hooked boto3
clients: the rules (status, filter, priority, SSE-KMS opt-in), the replication role (existence,
trust of ``s3.amazonaws.com``, permissions evaluated by :mod:`replimend_local.iam`), the
destination bucket (existence, versioning, Object Lock, bucket policy), the KMS keys (existence,
state, key policy). On success it writes the replica (bytes, metadata, tags, Object Lock settings,
the replica KMS key) and marks the source COMPLETED and the replica REPLICA; on failure it marks
the source FAILED with the failure-reason code S3 uses and, when the rule has replication metrics
enabled and the source bucket's notification configuration asks for it, delivers an
``s3:Replication:OperationFailedReplication`` event to the SQS queue or SNS topic, shaped as S3
shapes it.

Several rules and destinations: per destination the highest-priority enabled rule whose filter
(:mod:`replimend_local.s3_rules`) selects the version decides; one outcome and, on failure, one event
per destination; the source reads COMPLETED only when every destination succeeded, FAILED if any
failed. Tags travel with ``s3:ReplicateObject`` (no ``s3:ReplicateTags`` needed); without
``s3:GetObjectVersionTagging`` the replica is written without them, as AWS documents.

Outages: :meth:`ReplicationBackend.set_region_available` marks a Region unavailable; replication to a
destination in it leaves the source PENDING and sends no event, and resumes when the Region is back,
as AWS documents (replication-status.html). What a Batch Replication task does meanwhile AWS does not
document: here the task's outcome is PENDING (not a success; the Batch Operations emulator reports
the task failed, UnknownError) and the object resumes with the Region.

Triggers: the ``after-call`` hooks of s3 PutObject, CopyObject and CompleteMultipartUpload on hooked
sessions (see :meth:`ReplicationEngine.handlers` and :mod:`replimend_local.hooks`), or
:meth:`ReplicationEngine.replicate_version` directly (S3 Batch Operations uses ``trigger="batch"``;
whether a batch task sends failure events is AWS-undocumented, so it is a switch,
:attr:`ReplicationBackend.batch_failure_events`, off by default).
HeadObject/GetObject responses of hooked clients carry ``ReplicationStatus``.

Two moto gaps are closed here as well: GetBucketReplication answers moto's lossy rendering (every
rule becomes ``Filter: {Prefix: ""}``, SourceSelectionCriteria is dropped), so the engine keeps the
configuration each hooked PutBucketReplication sent and answers GetBucketReplication with it while
it still agrees with moto's (same role, rules and destinations). And S3 gives a replica the source
version's id, which moto cannot be told: when the moto server runs in this process the engine sets
it on moto's stored replica; otherwise :meth:`ReplicationEngine.replica_version_id` maps it.

Not emulated: replication of delete markers, ACL/tag-only updates and replica modification sync;
RTC and its threshold events; PENDING as a passing state (replication is synchronous with the PUT);
real cross-account accounts (``Destination.Account`` different from the source account makes the
destination bucket policy decide, as it would across accounts); KMS grants and encryption-context
conditions; S3 Bucket Keys.
"""

from replimend_local.s3_replication.engine import ReplicationBackend
from replimend_local.s3_replication.models import (
    COMPLETED,
    FAILED,
    FAILED_REPLICATION_EVENT,
    PENDING,
    REPLICA,
    ApplicableRule,
    ReplicationOutcome,
    SourceVersion,
    Trigger,
)
from replimend_local.s3_replication.responses import ReplicationEngine

__all__ = [
    "COMPLETED",
    "FAILED",
    "FAILED_REPLICATION_EVENT",
    "PENDING",
    "REPLICA",
    "ApplicableRule",
    "ReplicationBackend",
    "ReplicationEngine",
    "ReplicationOutcome",
    "SourceVersion",
    "Trigger",
]
