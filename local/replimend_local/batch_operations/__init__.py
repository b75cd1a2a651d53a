"""S3 Batch Operations emulator: s3control CreateJob / DescribeJob / ListJobs / UpdateJobStatus /
UpdateJobPriority for the ``S3ReplicateObject`` operation (S3 Batch Replication).

moto does not implement these operations, so :class:`BatchOperationsEmulator` answers them through botocore
event hooks (:mod:`replimend_local.hooks`): production code calls ``boto3.client("s3control")``
exactly as in AWS, botocore validates the request against the real service model, and the emulator
replies with the response AWS would send, or the modelled error (``BadRequestException``,
``IdempotencyException``, ``NotFoundException``, ``JobStatusException``, ...). s3control never reaches
the moto server, so the account-id host prefix does not matter.

Everything a job does is decided from the emulated account's real state on the moto server: the
manifest object and its ETag, the job role's trust and permission policies (:mod:`replimend_local.iam`), the
source bucket's replication configuration and region, and, per task, the replication engine's
verdict for every destination. Completion reports and generated manifests are written to the moto
server in AWS's formats (:mod:`.manifests`); ``JobCreated`` / ``JobStatusChanged`` events go to
the default EventBridge bus of the job's region in the CloudTrail-delivered shape, and to any
registered sink.

Jobs advance deterministically, when asked to (``execution="manual"``, the default):
:meth:`BatchOperationsEmulator.process_jobs` (alias ``run_pending``) moves every runnable job forward,
:meth:`advance` moves one job one status. ``execution="sync"`` runs a job to its end (or to
``Suspended``) inside CreateJob / UpdateJobStatus; :meth:`start_background` advances jobs from a
daemon thread every ``interval`` seconds.

What CreateJob rejects (BadRequestException): both or neither of Manifest and ManifestGenerator, an
operation other than S3ReplicateObject, Priority above 2147483647, a RoleArn that is not a role ARN,
malformed ARNs, CSV Fields without Bucket and Key, enum values botocore does not check; a reused
ClientRequestToken with other parameters is an IdempotencyException (the same parameters return the
same JobId). What fails a job while ``Preparing`` (FailureReasons codes are this emulator's own, the
reasons quote AWS's documented wording where there is one): AssumeRoleNotPermitted (role missing or
not trusting batchoperations.s3.amazonaws.com), ReportNotWritable ("The job report could not be
written to your report bucket"), ManifestAccessDenied, ManifestNotFound, ManifestETagMismatch,
ManifestEncryptionNotSupported (SSE-KMS / SSE-C CSV manifest), InvalidManifest (header row, invalid
or several buckets, rows with and without version ids, empty), SrcBucketReplicationConfigMissing and
NoKeysMatchingFilter ("Manifest generation found no keys matching the filter criteria") for
generated manifests. Each task: InitiateReplicationNotPermitted (job role), SrcBucketNotFound,
SrcBucketInvalidRegion, SrcBucketReplicationConfigMissing, then the replication engine's outcome
per destination (the task fails with the first failed destination's reason). Once at least 1,000
tasks ran and more than half failed, the job goes Failing -> Failed (TaskFailureThresholdExceeded)
without running the rest.

Not emulated: operations other than S3ReplicateObject; Pausing/Paused (S3 pauses lower-priority
jobs under load); ExpectedBucketOwner checks; job tags; the 90-day listing window is applied
(jobs vanish 90 days after they end) but nothing else ages; ``ConfirmationRequired`` left out is
treated as True, as the CLI documents for API-created jobs.

Usage::

    batch = BatchOperationsEmulator(endpoint_url, region="us-east-1", account_id="123456789012")
    hooks.install_global(batch.handlers())   # or hooks.install(session, batch.handlers())
    ...  # production code calls s3control.create_job(...)
    batch.process_jobs()                     # New -> Preparing -> Ready -> Active -> ... -> Complete
"""

from replimend_local.batch_operations.models import (
    BATCH_PRINCIPAL,
    RUNNABLE,
    SERVICE_ID,
    TERMINAL,
    BatchOperationsBackend,
    EventSink,
    Execution,
)
from replimend_local.batch_operations.ports import (
    IamEvalRoleAuthority,
    ReplicationEnginePort,
    ReplicationOutcomeLike,
    RoleAuthority,
)
from replimend_local.batch_operations.responses import BatchOperationsEmulator, conform

__all__ = [
    "BATCH_PRINCIPAL",
    "RUNNABLE",
    "SERVICE_ID",
    "TERMINAL",
    "BatchOperationsBackend",
    "BatchOperationsEmulator",
    "EventSink",
    "Execution",
    "IamEvalRoleAuthority",
    "ReplicationEnginePort",
    "ReplicationOutcomeLike",
    "RoleAuthority",
    "conform",
]
