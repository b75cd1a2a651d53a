"""The registry of S3 replication failure reasons: what each means, how to confirm it, how to fix it.

One declarative ``ReasonEntry`` per documented ``failureReason`` code (AWS user guide, "Amazon S3
replication failure reasons"; the same codes appear in Batch Replication completion reports), plus
``UNKNOWN_REASON`` for codes AWS adds later or events without a reason. Everything downstream (ledger
state, remediation gate, diagnosis, operator output) reads its decisions from here; a meta-test keeps
the registry complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from replimend.models import (
    FAILED_REPLICATION,
    MISSED_THRESHOLD,
    NOT_TRACKED,
    REPLICATED_AFTER_THRESHOLD,
    Action,
    Classification,
    ReplicationEvent,
)

#: Diagnosis checks an entry can name: check name → what it verifies against the live account.
CHECKS: Mapping[str, str] = MappingProxyType(
    {
        "source_bucket_exists": "the source bucket exists and this account can read its configuration",
        "source_bucket_region": "the source bucket is in the Region where replimend creates Batch jobs",
        "source_versioning": "versioning is Enabled on the source bucket",
        "destination_bucket_exists": "the destination bucket named in the rule exists",
        "destination_bucket_region": "the destination bucket is in the Region the rule's ARN implies",
        "destination_versioning": "versioning is Enabled on the destination bucket",
        "replication_rule": "a replication configuration exists and the rule for this destination is Enabled",
        "rule_filter": "the rule's filter (prefix, tags) matches the object",
        "source_storage_class": "the source object is not in Glacier Flexible Retrieval or Deep Archive",
        "replication_role_trust": "the replication role exists and trusts s3.amazonaws.com "
        "(and batchoperations.s3.amazonaws.com for Batch Replication)",
        "replication_role_source_permissions": "the replication role may read the source "
        "(s3:GetReplicationConfiguration, s3:ListBucket, s3:GetObjectVersionForReplication, "
        "s3:GetObjectVersionAcl, s3:GetObjectVersionTagging)",
        "replication_role_destination_permissions": "the replication role may write the destination "
        "(s3:ReplicateObject, s3:ReplicateDelete, s3:ReplicateTags)",
        "destination_bucket_policy": "the destination bucket policy allows the replication role "
        "(cross-account) and has no explicit Deny for it",
        "ownership_controls": "object ownership lets the destination owner own replicas "
        "(BucketOwnerEnforced or owner override) for cross-account replication",
        "kms_source_key": "the source object's KMS key exists, is Enabled, and the role may kms:Decrypt",
        "kms_destination_key": "ReplicaKmsKeyID is set for SSE-KMS objects, the key exists, is Enabled, "
        "and the role may kms:Encrypt / kms:GenerateDataKey",
        "object_lock": "Object Lock is enabled on the destination when it is on the source, and the role "
        "may read/write retention and legal holds",
        "batch_role": "the Batch Operations role exists, trusts batchoperations.s3.amazonaws.com and may "
        "s3:InitiateReplication, read the manifest and write the report",
        "replication_metrics": "replication metrics are Enabled on the rule (without them S3 sends no "
        "failure events)",
        "failure_notification": "the source bucket sends s3:Replication:* events to the failure queue",
        "inventory_replication_status": "the source bucket has an enabled CSV S3 Inventory with the "
        "ReplicationStatus field (how replimend finds objects stuck PENDING, which no event reports)",
        "source_object_exists": "the source key and version still exist (HeadObject with VersionId)",
        "source_replication_status": "the source version's x-amz-replication-status "
        "(COMPLETED, PENDING, FAILED)",
    }
)

VALID_CATEGORIES = frozenset(
    {
        "permissions",
        "versioning",
        "kms",
        "object-lock",
        "destination",
        "source-object",
        "configuration",
        "batch-job",
        "replication-time",
        "metrics",
        "not-replication",
        "unknown",
    }
)


@dataclass(frozen=True, slots=True)
class ReasonEntry:
    """Everything replimend knows about one failure reason (or one non-failure event type)."""

    code: str
    category: str
    action: Action
    checks: tuple[str, ...]  # names in CHECKS that can confirm the cause, most likely first
    fix: str  # what the operator does, in their words
    cli: str  # the AWS CLI command(s), one per line, with <placeholders>
    description: str  # what S3 means by the code
    batch_only: bool = False  # only reported by Batch Replication, never by live replication


_ROLE_POLICY_CLI = (
    "aws iam get-role-policy --role-name <replication-role> --policy-name <policy-name>\n"
    "aws iam put-role-policy --role-name <replication-role> --policy-name <policy-name> "
    "--policy-document file://replication-role-policy.json"
)
_DESTINATION_POLICY_CLI = (
    _ROLE_POLICY_CLI + "\naws s3api get-bucket-policy --bucket <destination-bucket>\n"
    "aws s3api put-bucket-policy --bucket <destination-bucket> --policy file://destination-bucket-policy.json"
)
_REPLICATION_CONFIG_CLI = (
    "aws s3api get-bucket-replication --bucket <source-bucket>\n"
    "aws s3api put-bucket-replication --bucket <source-bucket> "
    "--replication-configuration file://replication.json"
)
_DESTINATION_PERMISSION_CHECKS = (
    "replication_role_destination_permissions",
    "destination_bucket_policy",
    "replication_role_trust",
)
_SOURCE_PERMISSION_CHECKS = ("replication_role_source_permissions", "replication_role_trust")


def _multipart_entry(code: str, step: str) -> ReasonEntry:
    return ReasonEntry(
        code=code,
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=(*_DESTINATION_PERMISSION_CHECKS, "kms_destination_key"),
        fix="Allow s3:ReplicateObject on arn:aws:s3:::<destination-bucket>/* in the replication role's "
        "policy and, cross-account, in the destination bucket policy; remove any explicit Deny.",
        cli=_DESTINATION_POLICY_CLI,
        description=f"S3 could not {step} at the destination: the replication role may lack "
        "s3:ReplicateObject there.",
    )


_ENTRIES: tuple[ReasonEntry, ...] = (
    ReasonEntry(
        code="AssumeRoleNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=("replication_role_trust", "batch_role"),
        fix="Make sure the replication role exists and its trust policy allows s3.amazonaws.com "
        "(and batchoperations.s3.amazonaws.com for Batch Replication); check SCPs and permission "
        "boundaries. Right after creating the role, IAM propagation can cause this once.",
        cli="aws iam get-role --role-name <replication-role> --query Role.AssumeRolePolicyDocument\n"
        "aws iam update-assume-role-policy --role-name <replication-role> "
        "--policy-document file://replication-role-trust.json",
        description="S3 could not assume the IAM role named in the replication configuration or the "
        "Batch Operations job.",
    ),
    ReasonEntry(
        code="DstBucketInvalidRegion",
        category="destination",
        action=Action.RETRY_AFTER_FIX,
        checks=("destination_bucket_region", "replication_rule"),
        fix="Point the rule at the destination bucket's real ARN and Region, then re-drive.",
        cli="aws s3api get-bucket-location --bucket <destination-bucket>\n" + _REPLICATION_CONFIG_CLI,
        description="The destination bucket is not in the Region the Batch Replication job expects.",
        batch_only=True,
    ),
    ReasonEntry(
        code="DstBucketNotFound",
        category="destination",
        action=Action.RETRY_AFTER_FIX,
        checks=("destination_bucket_exists", "replication_rule"),
        fix="Create the destination bucket (versioning on) or correct the destination ARN in the rule.",
        cli="aws s3api create-bucket --bucket <destination-bucket> --region <destination-region> "
        "--create-bucket-configuration LocationConstraint=<destination-region>\n"
        "aws s3api put-bucket-versioning --bucket <destination-bucket> "
        "--versioning-configuration Status=Enabled\n" + _REPLICATION_CONFIG_CLI,
        description="The destination bucket named in the replication rule does not exist.",
    ),
    ReasonEntry(
        code="DstBucketObjectLockConfigMissing",
        category="object-lock",
        action=Action.RETRY_AFTER_FIX,
        checks=("object_lock", "destination_versioning"),
        fix="Enable Object Lock on the destination bucket (the source uses it).",
        cli="aws s3api get-object-lock-configuration --bucket <source-bucket>\n"
        "aws s3api put-object-lock-configuration --bucket <destination-bucket> "
        "--object-lock-configuration ObjectLockEnabled=Enabled",
        description="The source bucket uses Object Lock but the destination bucket does not.",
    ),
    ReasonEntry(
        code="DstBucketUnversioned",
        category="versioning",
        action=Action.RETRY_AFTER_FIX,
        checks=("destination_versioning",),
        fix="Enable versioning on the destination bucket.",
        cli="aws s3api get-bucket-versioning --bucket <destination-bucket>\n"
        "aws s3api put-bucket-versioning --bucket <destination-bucket> "
        "--versioning-configuration Status=Enabled",
        description="Versioning is not enabled on the destination bucket.",
    ),
    ReasonEntry(
        code="DstDelObjNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=_DESTINATION_PERMISSION_CHECKS,
        fix="Allow s3:ReplicateDelete on arn:aws:s3:::<destination-bucket>/* in the replication role's "
        "policy and, cross-account, in the destination bucket policy.",
        cli=_DESTINATION_POLICY_CLI,
        description="S3 could not replicate a delete marker: s3:ReplicateDelete may be missing.",
    ),
    ReasonEntry(
        code="DstKmsKeyInvalidState",
        category="kms",
        action=Action.RETRY_AFTER_FIX,
        checks=("kms_destination_key",),
        fix="Enable the destination KMS key (or cancel its scheduled deletion).",
        cli="aws kms describe-key --key-id <destination-kms-key> --query KeyMetadata.KeyState\n"
        "aws kms cancel-key-deletion --key-id <destination-kms-key>\n"
        "aws kms enable-key --key-id <destination-kms-key>",
        description="The destination KMS key is not usable (disabled, pending deletion or still being "
        "created).",
    ),
    ReasonEntry(
        code="DstKmsKeyNotFound",
        category="kms",
        action=Action.RETRY_AFTER_FIX,
        checks=("kms_destination_key", "replication_rule"),
        fix="Set the rule's ReplicaKmsKeyID to an existing key in the destination Region.",
        cli="aws kms describe-key --key-id <destination-kms-key>\n" + _REPLICATION_CONFIG_CLI,
        description="The destination KMS key configured in the replication rule does not exist.",
    ),
    _multipart_entry("DstMultipartCompleteNotPermitted", "complete a multipart upload"),
    _multipart_entry("DstMultipartInitNotPermitted", "start a multipart upload"),
    _multipart_entry("DstMultipartUploadNotPermitted", "upload parts of a multipart upload"),
    _multipart_entry(
        "DstMultipartPartUploadNotPermitted",
        "upload parts of a multipart upload (older name of DstMultipartUploadNotPermitted)",
    ),
    ReasonEntry(
        code="DstObjectHardDeleted",
        category="destination",
        action=Action.ESCALATE,
        checks=("source_object_exists",),
        fix="Batch Replication cannot replicate a version that was permanently deleted from the "
        "destination. Copy the source object in place (S3 Batch Operations copy, or copy-object) to "
        "create a new version, which live replication then replicates.",
        cli="aws s3api copy-object --bucket <source-bucket> --key <key> "
        "--copy-source '<source-bucket>/<key>?versionId=<version-id>' --metadata-directive COPY",
        description="That version was permanently deleted from the destination by version ID.",
        batch_only=True,
    ),
    ReasonEntry(
        code="DstPutAclNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=(*_DESTINATION_PERMISSION_CHECKS, "ownership_controls"),
        fix="Allow s3:ReplicateObject (which covers ACLs) on the destination for the replication role.",
        cli=_DESTINATION_POLICY_CLI,
        description="S3 could not replicate the object's ACL to the destination.",
    ),
    ReasonEntry(
        code="DstPutLegalHoldNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=(*_DESTINATION_PERMISSION_CHECKS, "object_lock"),
        fix="Allow s3:PutObjectLegalHold on arn:aws:s3:::<destination-bucket>/* for the replication role.",
        cli=_DESTINATION_POLICY_CLI,
        description="S3 could not put a legal hold on the replica.",
    ),
    ReasonEntry(
        code="DstPutObjectNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=(*_DESTINATION_PERMISSION_CHECKS, "kms_destination_key", "ownership_controls"),
        fix="Allow s3:ReplicateObject (and s3:ObjectOwnerOverrideToBucketOwner with owner override) on "
        "the destination; for SSE-KMS let the role kms:Encrypt/kms:GenerateDataKey* with the "
        "destination key (key policy when cross-account).",
        cli=_DESTINATION_POLICY_CLI + "\naws kms get-key-policy --key-id <destination-kms-key> "
        "--policy-name default",
        description="S3 could not write the replica: the role may lack s3:ReplicateObject, or the "
        "destination KMS key policy denies it.",
    ),
    ReasonEntry(
        code="DstPutRetentionNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=(*_DESTINATION_PERMISSION_CHECKS, "object_lock"),
        fix="Allow s3:PutObjectRetention on arn:aws:s3:::<destination-bucket>/* for the replication role.",
        cli=_DESTINATION_POLICY_CLI,
        description="S3 could not set a retention period on the replica.",
    ),
    ReasonEntry(
        code="DstPutTaggingNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=_DESTINATION_PERMISSION_CHECKS,
        fix="Allow s3:ReplicateObject / s3:ReplicateTags on the destination for the replication role.",
        cli=_DESTINATION_POLICY_CLI,
        description="S3 could not replicate the object's tags to the destination.",
    ),
    ReasonEntry(
        code="DstVersionNotFound",
        category="destination",
        action=Action.RETRY,
        checks=("source_object_exists", "source_replication_status", "destination_versioning"),
        fix="Nothing to change: re-drive the version with Batch Replication, which replicates the "
        "object version first and then its metadata.",
        cli="aws s3api head-object --bucket <source-bucket> --key <key> --version-id <version-id>\n"
        "aws s3api head-object --bucket <destination-bucket> --key <key> --version-id <version-id>",
        description="The version whose metadata had to be replicated is missing at the destination.",
    ),
    ReasonEntry(
        code="InitiateReplicationNotPermitted",
        category="batch-job",
        action=Action.RETRY_AFTER_FIX,
        checks=("batch_role",),
        fix="Allow s3:InitiateReplication on arn:aws:s3:::<source-bucket>/* in the Batch Operations "
        "job role's policy.",
        cli="aws iam put-role-policy --role-name <batch-role> --policy-name <policy-name> "
        "--policy-document file://batch-role-policy.json",
        description="The Batch Operations job role lacks s3:InitiateReplication on the source.",
        batch_only=True,
    ),
    ReasonEntry(
        code="SrcBucketInvalidRegion",
        category="batch-job",
        action=Action.RETRY_AFTER_FIX,
        checks=("source_bucket_region",),
        fix="Create Batch Replication jobs in the source bucket's Region (deploy replimend, or set its "
        "Region, where the source bucket lives).",
        cli="aws s3api get-bucket-location --bucket <source-bucket>",
        description="The source bucket is not in the Region where the Batch Replication job runs.",
        batch_only=True,
    ),
    ReasonEntry(
        code="SrcBucketNotFound",
        category="configuration",
        action=Action.ESCALATE,
        checks=("source_bucket_exists",),
        fix="The source bucket is gone or unreachable: a person must decide whether the data still "
        "exists anywhere. Batch Replication cannot help.",
        cli="aws s3api head-bucket --bucket <source-bucket>",
        description="The source bucket was not found.",
    ),
    ReasonEntry(
        code="SrcBucketReplicationConfigMissing",
        category="configuration",
        action=Action.RETRY_AFTER_FIX,
        checks=("replication_rule", "source_versioning", "replication_metrics", "failure_notification"),
        fix="Restore the source bucket's replication configuration (with metrics enabled).",
        cli=_REPLICATION_CONFIG_CLI,
        description="The source bucket has no replication configuration.",
    ),
    ReasonEntry(
        code="SrcGetAclNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=(*_SOURCE_PERMISSION_CHECKS, "ownership_controls"),
        fix="Allow s3:GetObjectVersionAcl on arn:aws:s3:::<source-bucket>/* for the replication role; "
        "make sure the bucket owner owns the object (BucketOwnerEnforced or bucket-owner-full-control).",
        cli=_ROLE_POLICY_CLI + "\naws s3api get-bucket-ownership-controls --bucket <source-bucket>",
        description="S3 could not read the source object's ACL.",
    ),
    ReasonEntry(
        code="SrcGetLegalHoldNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=(*_SOURCE_PERMISSION_CHECKS, "object_lock"),
        fix="Allow s3:GetObjectLegalHold on arn:aws:s3:::<source-bucket>/* for the replication role.",
        cli=_ROLE_POLICY_CLI,
        description="S3 could not read the source object's legal hold.",
    ),
    ReasonEntry(
        code="SrcGetObjectNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=(*_SOURCE_PERMISSION_CHECKS, "kms_source_key"),
        fix="Allow s3:GetObjectVersionForReplication on arn:aws:s3:::<source-bucket>/* for the "
        "replication role; for SSE-KMS objects allow kms:Decrypt on the source key.",
        cli=_ROLE_POLICY_CLI + "\naws kms get-key-policy --key-id <source-kms-key> --policy-name default",
        description="S3 could not read the source object.",
    ),
    ReasonEntry(
        code="SrcGetRetentionNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=(*_SOURCE_PERMISSION_CHECKS, "object_lock"),
        fix="Allow s3:GetObjectRetention on arn:aws:s3:::<source-bucket>/* for the replication role.",
        cli=_ROLE_POLICY_CLI,
        description="S3 could not read the source object's retention settings.",
    ),
    ReasonEntry(
        code="SrcGetTaggingNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=_SOURCE_PERMISSION_CHECKS,
        fix="Allow s3:GetObjectVersionTagging on arn:aws:s3:::<source-bucket>/* for the replication role.",
        cli=_ROLE_POLICY_CLI,
        description="S3 could not read the source object's tags.",
    ),
    ReasonEntry(
        code="SrcHeadObjectNotPermitted",
        category="permissions",
        action=Action.RETRY_AFTER_FIX,
        checks=(*_SOURCE_PERMISSION_CHECKS, "kms_source_key"),
        fix="Allow s3:GetObjectVersionForReplication on arn:aws:s3:::<source-bucket>/* for the "
        "replication role.",
        cli=_ROLE_POLICY_CLI,
        description="S3 could not read the source object's metadata.",
    ),
    ReasonEntry(
        code="SrcKeyNotFound",
        category="source-object",
        action=Action.CLOSE_OBSOLETE,
        checks=("source_object_exists",),
        fix="Nothing to do: the key was deleted before replication finished.",
        cli="aws s3api list-object-versions --bucket <source-bucket> --prefix <key>",
        description="The source key was deleted before replication finished.",
    ),
    ReasonEntry(
        code="SrcKmsKeyInvalidState",
        category="kms",
        action=Action.RETRY_AFTER_FIX,
        checks=("kms_source_key",),
        fix="Enable the source KMS key (or cancel its scheduled deletion).",
        cli="aws kms describe-key --key-id <source-kms-key> --query KeyMetadata.KeyState\n"
        "aws kms cancel-key-deletion --key-id <source-kms-key>\n"
        "aws kms enable-key --key-id <source-kms-key>",
        description="The source object's KMS key is not usable (disabled or pending deletion).",
    ),
    ReasonEntry(
        code="SrcObjectNotEligible",
        category="configuration",
        action=Action.RETRY_AFTER_FIX,
        checks=("rule_filter", "source_storage_class", "replication_rule"),
        fix="Make the rule's filter (prefix/tags) match the object, or restore it from Glacier Flexible "
        "Retrieval / Deep Archive; tags must be present when the object is created.",
        cli=_REPLICATION_CONFIG_CLI + "\naws s3api get-object-tagging --bucket <source-bucket> --key <key> "
        "--version-id <version-id>",
        description="The object (its storage class or tags) does not match the replication rule.",
    ),
    ReasonEntry(
        code="SrcObjectNotFound",
        category="source-object",
        action=Action.CLOSE_OBSOLETE,
        checks=("source_object_exists",),
        fix="Nothing to do: the source object no longer exists.",
        cli="aws s3api head-object --bucket <source-bucket> --key <key> --version-id <version-id>",
        description="The source object does not exist.",
    ),
    ReasonEntry(
        code="SrcReplicationNotPending",
        category="source-object",
        action=Action.CLOSE_DONE,
        checks=("source_replication_status",),
        fix="Nothing to do: the object was already replicated.",
        cli="aws s3api head-object --bucket <source-bucket> --key <key> --version-id <version-id> "
        "--query ReplicationStatus",
        description="The object is no longer pending replication: it was already replicated.",
    ),
    ReasonEntry(
        code="SrcVersionNotFound",
        category="source-object",
        action=Action.CLOSE_OBSOLETE,
        checks=("source_object_exists",),
        fix="Nothing to do: the version was deleted before replication finished.",
        cli="aws s3api list-object-versions --bucket <source-bucket> --prefix <key>",
        description="The source version was deleted before replication finished.",
    ),
)

#: Every documented failureReason code → its entry.
REASONS: Mapping[str, ReasonEntry] = MappingProxyType({entry.code: entry for entry in _ENTRIES})

UNKNOWN_REASON = ReasonEntry(
    code="unknown",
    category="unknown",
    action=Action.ESCALATE,
    checks=(
        "replication_rule",
        "source_versioning",
        "destination_versioning",
        "replication_role_trust",
        "replication_role_source_permissions",
        "replication_role_destination_permissions",
        "source_object_exists",
    ),
    fix="replimend does not know this failure reason: look it up in the S3 replication troubleshooting "
    "guide, fix the cause, then add an entry for it to replimend.reasons.",
    cli="aws s3api get-bucket-replication --bucket <source-bucket>\n"
    "aws s3api head-object --bucket <source-bucket> --key <key> --version-id <version-id>",
    description="A failed-replication event whose failureReason is missing or not in the registry.",
)

#: Replication events that are not failures, and S3 events that are not replication events.
EVENT_TYPE_ENTRIES: Mapping[str, ReasonEntry] = MappingProxyType(
    {
        MISSED_THRESHOLD: ReasonEntry(
            code=MISSED_THRESHOLD,
            category="replication-time",
            action=Action.OBSERVE,
            checks=("replication_metrics",),
            fix="No remediation: the object has not replicated within the S3 RTC threshold yet; a "
            "FailedReplication event follows if it fails.",
            cli="aws cloudwatch get-metric-statistics --namespace AWS/S3 --metric-name ReplicationLatency "
            "--dimensions Name=SourceBucket,Value=<source-bucket> "
            "Name=DestinationBucket,Value=<destination-bucket> Name=RuleId,Value=<rule-id> "
            "--statistics Maximum --period 300 --start-time <start-time> --end-time <end-time>",
            description="An object using S3 RTC has not replicated within the 15-minute threshold.",
        ),
        REPLICATED_AFTER_THRESHOLD: ReasonEntry(
            code=REPLICATED_AFTER_THRESHOLD,
            category="replication-time",
            action=Action.OBSERVE,
            checks=("replication_metrics",),
            fix="No remediation: the object replicated, late.",
            cli="aws s3api head-object --bucket <source-bucket> --key <key> --version-id <version-id> "
            "--query ReplicationStatus",
            description="An object using S3 RTC replicated after the 15-minute threshold.",
        ),
        NOT_TRACKED: ReasonEntry(
            code=NOT_TRACKED,
            category="metrics",
            action=Action.OBSERVE,
            checks=("replication_metrics", "replication_rule", "inventory_replication_status"),
            fix="No remediation: replication metrics no longer track this object; check the rule's "
            "Metrics setting if that is unexpected.",
            cli="aws s3api get-bucket-replication --bucket <source-bucket>",
            description="An object eligible for live replication is no longer tracked by replication "
            "metrics.",
        ),
    }
)

UNKNOWN_REPLICATION_EVENT = ReasonEntry(
    code="unknown-replication-event",
    category="unknown",
    action=Action.OBSERVE,
    checks=("replication_rule",),
    fix="A replication event type replimend does not know: it is recorded, not remediated. Look it up "
    "in the S3 replication events documentation.",
    cli="aws s3api get-bucket-notification-configuration --bucket <source-bucket>",
    description="An s3:Replication:* event type other than the four S3 documents.",
)

NOT_REPLICATION = ReasonEntry(
    code="not-replication",
    category="not-replication",
    action=Action.IGNORE,
    checks=("failure_notification",),
    fix="Nothing to do: not a replication event (s3:TestEvent, or another S3 event routed to the queue).",
    cli="aws s3api get-bucket-notification-configuration --bucket <source-bucket>",
    description="An S3 event that is not a replication event: ignored.",
)


def reason_entry(code: str | None) -> ReasonEntry:
    """The registry entry of a failureReason code; ``UNKNOWN_REASON`` when absent or not known."""
    if code is None:
        return UNKNOWN_REASON
    return REASONS.get(code, UNKNOWN_REASON)


def entry_for(event: ReplicationEvent) -> ReasonEntry:
    """The entry that decides what happens to ``event``: by failure reason, else by event type."""
    if event.event_type == FAILED_REPLICATION:
        return reason_entry(event.failure_reason)
    if event.event_type in EVENT_TYPE_ENTRIES:
        return EVENT_TYPE_ENTRIES[event.event_type]
    if event.event_type.startswith("Replication:"):
        return UNKNOWN_REPLICATION_EVENT
    return NOT_REPLICATION


def classify_failure(event: ReplicationEvent) -> Classification:
    """What replimend does about ``event`` (action and category), and whether the registry knows it."""
    entry = entry_for(event)
    if event.event_type == FAILED_REPLICATION:
        known = event.failure_reason is not None and event.failure_reason in REASONS
    else:
        known = event.event_type in EVENT_TYPE_ENTRIES or not event.event_type.startswith("Replication:")
    return Classification(
        action=entry.action,
        category=entry.category,
        failure_reason=event.failure_reason,
        known=known,
    )


__all__ = [
    "CHECKS",
    "EVENT_TYPE_ENTRIES",
    "NOT_REPLICATION",
    "REASONS",
    "UNKNOWN_REASON",
    "UNKNOWN_REPLICATION_EVENT",
    "VALID_CATEGORIES",
    "ReasonEntry",
    "classify_failure",
    "entry_for",
    "reason_entry",
]
