"""S3 live replication for the embedded AWS (moto stores replication configurations but never
replicates, never sets ReplicationStatus and never emits replication events).

For every new object version in a bucket with a replication configuration, the engine decides what
S3 would do from the real state of the emulated account, read through its own un-hooked boto3
clients: the rules (status, filter, priority, SSE-KMS opt-in), the replication role (existence,
trust of ``s3.amazonaws.com``, permissions evaluated by :mod:`replimend_local.iam_eval`), the
destination bucket (existence, versioning, Object Lock, bucket policy), the KMS keys (existence,
state, key policy). On success it writes the replica (bytes, metadata, tags, Object Lock settings,
the replica KMS key) and marks the source COMPLETED and the replica REPLICA; on failure it marks
the source FAILED with the failure-reason code S3 uses and, when the rule has replication metrics
enabled and the source bucket's notification configuration asks for it, delivers an
``s3:Replication:OperationFailedReplication`` event to the SQS queue or SNS topic, shaped as S3
shapes it.

Triggers: the ``after-call`` hooks of s3 PutObject, CopyObject and CompleteMultipartUpload on hooked
sessions (see :meth:`ReplicationEngine.handlers` and :mod:`replimend_local.hooks`), or
:meth:`ReplicationEngine.replicate_version` directly (S3 Batch Operations uses ``trigger="batch"``).
HeadObject/GetObject responses of hooked clients carry ``ReplicationStatus``.

Two moto gaps are closed here as well: GetBucketReplication answers moto's lossy rendering (every
rule becomes ``Filter: {Prefix: ""}``, SourceSelectionCriteria is dropped), so the engine keeps the
configuration each hooked PutBucketReplication sent and answers GetBucketReplication with it while
it still agrees with moto's (same role, rules and destinations). And S3 gives a replica the source
version's id, which moto cannot be told: when the moto server runs in this process the engine sets
it on moto's stored replica; otherwise :meth:`ReplicationEngine.replica_version_id` maps it.

Not emulated: replication of delete markers, ACL/tag-only updates and replica modification sync;
RTC and its threshold events; PENDING as a visible state (replication is synchronous with the PUT);
real cross-account accounts (``Destination.Account`` different from the source account makes the
destination bucket policy decide, as it would across accounts); KMS grants and encryption-context
conditions; S3 Bucket Keys.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import quote_plus, urlencode

from botocore.exceptions import ClientError

from replimend_local import hooks
from replimend_local.iam_eval import (
    Evaluation,
    IamEvaluator,
    NoSuchRoleError,
    Principal,
    RolePolicies,
    SourcedPolicy,
    evaluate,
    parse_policy_document,
)
from replimend_local.moto_patches import set_replica_version_id
from replimend_local.s3_rules import bucket_name, rule_filter_matches

logger = logging.getLogger(__name__)

COMPLETED: Final = "COMPLETED"
FAILED: Final = "FAILED"
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
    status: Literal["COMPLETED", "FAILED"]
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


class _ReplicationFailure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


_STATES: dict[tuple[str, str], _SharedState] = {}
_STATES_LOCK = threading.Lock()


def _shared_state(endpoint_url: str, account_id: str) -> _SharedState:
    with _STATES_LOCK:
        return _STATES.setdefault((endpoint_url.rstrip("/"), account_id), _SharedState())


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status_code(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _iso_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class ReplicationEngine:
    """S3 live replication of the embedded account at ``endpoint_url`` (see the module docstring)."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        account_id: str = "123456789012",
        *,
        align_replica_version_ids: bool = True,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self._align_version_ids = align_replica_version_ids
        self._state = _shared_state(endpoint_url, account_id)
        self._session = hooks.plain_session(region)
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self._iam = IamEvaluator(self._client("iam"))

    # --- clients -----------------------------------------------------------------------------

    def _client(self, service: str, region: str | None = None) -> Any:
        region = region or self.region
        with self._clients_lock:
            if (service, region) not in self._clients:
                self._clients[(service, region)] = self._session.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self.endpoint_url,
                    region_name=region,
                )
            return self._clients[(service, region)]

    @property
    def _s3(self) -> Any:
        return self._client("s3")

    # --- public API ----------------------------------------------------------------------------

    def handlers(self) -> list[hooks.Hook]:
        """Hooks to install (hooks.install/install_default/install_global) so hooked clients
        trigger replication and see ReplicationStatus and faithful replication configurations."""
        hook_list = [hooks.capture_params("s3")]
        for operation in ("PutObject", "CopyObject", "CompleteMultipartUpload"):
            hook_list.append(
                hooks.Hook(f"after-call.s3.{operation}", self._after_write, f"replication.write.{operation}")
            )
        for operation in ("HeadObject", "GetObject"):
            hook_list.append(
                hooks.Hook(f"after-call.s3.{operation}", self._after_read, f"replication.status.{operation}")
            )
        hook_list += [
            hooks.Hook(
                "after-call.s3.PutBucketReplication", self._after_put_configuration, "replication.config.put"
            ),
            hooks.Hook(
                "after-call.s3.DeleteBucketReplication",
                self._after_delete_configuration,
                "replication.config.delete",
            ),
            hooks.Hook(
                "after-call.s3.GetBucketReplication", self._after_get_configuration, "replication.config.get"
            ),
        ]
        return hook_list

    def replication_status(self, bucket: str, key: str, version_id: str) -> str | None:
        """COMPLETED, FAILED or REPLICA; None when the version was never eligible for a rule."""
        with self._state.lock:
            return self._state.statuses.get((bucket, key, version_id))

    def last_outcomes(self, bucket: str, key: str, version_id: str) -> tuple[ReplicationOutcome, ...]:
        with self._state.lock:
            return self._state.outcomes.get((bucket, key, version_id), ())

    def replica_version_id(
        self, source_bucket: str, key: str, version_id: str, destination_bucket: str
    ) -> str | None:
        """The version id of the replica of a source version (equal to it when aligned, as in S3)."""
        with self._state.lock:
            return self._state.replica_versions.get((source_bucket, key, version_id, destination_bucket))

    def errors(self) -> list[str]:
        """Emulator errors swallowed inside hooks (the caller's S3 call still succeeded)."""
        with self._state.lock:
            return list(self._state.errors)

    def reset(self) -> None:
        """Forget statuses, outcomes and stored configurations (after resetting the moto server)."""
        with self._state.lock:
            self._state.statuses.clear()
            self._state.outcomes.clear()
            self._state.replica_versions.clear()
            self._state.configurations.clear()
            self._state.errors.clear()

    def record_configuration(self, bucket: str, configuration: Mapping[str, Any]) -> None:
        """Keep the replication configuration a caller put (moto's rendering of it is lossy)."""
        with self._state.lock:
            self._state.configurations[bucket] = json.loads(json.dumps(configuration, default=str))

    def forget_configuration(self, bucket: str) -> None:
        with self._state.lock:
            self._state.configurations.pop(bucket, None)

    def faithful_configuration(self, bucket: str, moto_view: Mapping[str, Any]) -> dict[str, Any]:
        """What GetBucketReplication answers in S3: the configuration as put, while moto still holds it."""
        with self._state.lock:
            stored = self._state.configurations.get(bucket)
        if stored is not None and _same_configuration(stored, moto_view):
            return _with_moto_ids(stored, moto_view)
        return dict(moto_view)

    def replication_configuration(self, bucket: str) -> dict[str, Any] | None:
        """The bucket's replication configuration as it was put (moto's own rendering is lossy);
        None when the bucket has none or does not exist."""
        try:
            return self._configuration(bucket)
        except _ReplicationFailure:
            return None

    def _configuration(self, bucket: str) -> dict[str, Any]:
        try:
            moto_view = self._s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
        except ClientError as error:
            if _error_code(error) == "NoSuchBucket":
                raise _ReplicationFailure("SrcBucketNotFound") from error
            if _error_code(error) == "ReplicationConfigurationNotFoundError":
                raise _ReplicationFailure("SrcBucketReplicationConfigMissing") from error
            raise
        return self.faithful_configuration(bucket, moto_view)

    def eligible_rules(self, bucket: str, key: str, version: SourceVersion | str) -> list[ApplicableRule]:
        """Per destination, the highest-priority enabled rule that applies to the version (filter,
        SSE-KMS opt-in). ``version`` is a version id or an already read :class:`SourceVersion`;
        [] when there is no configuration or the version does not exist."""
        configuration = self.replication_configuration(bucket)
        if configuration is None:
            return []
        if isinstance(version, str):
            try:
                version = self._read_source_version(bucket, key, version)
            except _ReplicationFailure:
                return []
        return _eligible_rules(configuration, key, version)

    def replicate_version(
        self, source_bucket: str, key: str, version_id: str, *, trigger: Trigger = "live"
    ) -> list[ReplicationOutcome]:
        """Replicate one source version as S3 would, record its status and (live only) send the
        failure events. Returns one outcome per destination; [] when live replication does not
        apply (no configuration, no matching rule, version gone, a replica)."""
        if trigger not in ("live", "batch"):
            raise ValueError(f"trigger must be 'live' or 'batch', not {trigger!r}")
        with self._state.lock:
            try:
                return self._replicate(source_bucket, key, version_id, trigger)
            except _ReplicationFailure as failure:
                if trigger == "live":
                    return []
                outcome = ReplicationOutcome("", None, FAILED, failure.reason)
                self._state.outcomes[(source_bucket, key, version_id)] = (outcome,)
                return [outcome]

    # --- the replication decision ----------------------------------------------------------------

    def _replicate(
        self, bucket: str, key: str, version_id: str, trigger: Trigger
    ) -> list[ReplicationOutcome]:
        configuration = self._configuration(bucket)
        version = self._read_source_version(bucket, key, version_id)
        if trigger == "live" and self.replication_status(bucket, key, version_id) == REPLICA:
            return []  # S3 does not replicate replicas again (only Batch Replication does)
        rules = _eligible_rules(configuration, key, version)
        if not rules:
            raise _ReplicationFailure("SrcObjectNotEligible")
        role_arn = str(configuration.get("Role", ""))
        outcomes: list[ReplicationOutcome] = []
        for rule in rules:
            try:
                self._check_and_copy(version, rule, role_arn)
            except _ReplicationFailure as failure:
                outcomes.append(
                    ReplicationOutcome(rule.destination_bucket, rule.rule_id, FAILED, failure.reason)
                )
                if trigger == "live":
                    self._notify_failure(version, rule, failure.reason)
            else:
                outcomes.append(ReplicationOutcome(rule.destination_bucket, rule.rule_id, COMPLETED))
        status = FAILED if any(not o.succeeded for o in outcomes) else COMPLETED
        self._state.statuses[(bucket, key, version_id)] = status
        self._state.outcomes[(bucket, key, version_id)] = tuple(outcomes)
        return outcomes

    def _bucket_exists(self, bucket: str) -> bool:
        try:
            self._s3.head_bucket(Bucket=bucket)
        except ClientError as error:
            if _status_code(error) == 404 or _error_code(error) in ("404", "NoSuchBucket"):
                return False
            raise
        return True

    def _read_source_version(self, bucket: str, key: str, version_id: str) -> SourceVersion:
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key, VersionId=version_id)
        except ClientError as error:
            if _status_code(error) in (400, 404, 405):
                raise _ReplicationFailure(self._missing_source_reason(bucket, key)) from error
            raise
        tag_set = self._s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=version_id)["TagSet"]
        tags = {t["Key"]: t["Value"] for t in tag_set}
        return SourceVersion(bucket, key, version_id, head, tags)

    def _missing_source_reason(self, bucket: str, key: str) -> str:
        listing = self._s3.list_object_versions(Bucket=bucket, Prefix=key)
        entries = [
            v for v in listing.get("Versions", []) + listing.get("DeleteMarkers", []) if v["Key"] == key
        ]
        return "SrcVersionNotFound" if entries else "SrcKeyNotFound"

    def _check_and_copy(self, version: SourceVersion, rule: ApplicableRule, role_arn: str) -> None:
        source_arn = f"arn:aws:s3:::{version.bucket}"
        role = self._assumable_role(role_arn, source_arn)
        destination = rule.destination_bucket
        if not self._bucket_exists(destination):
            raise _ReplicationFailure("DstBucketNotFound")
        versioning = self._s3.get_bucket_versioning(Bucket=destination).get("Status")
        if versioning != "Enabled":
            raise _ReplicationFailure("DstBucketUnversioned")
        if self._object_lock_enabled(version.bucket) and not self._object_lock_enabled(destination):
            raise _ReplicationFailure("DstBucketObjectLockConfigMissing")
        self._check_source_access(version, role)
        replica_key_arn = self._check_replica_key(version, rule, role)
        self._check_destination_access(version, rule, role)
        self._copy(version, rule, replica_key_arn)

    def _assumable_role(self, role_arn: str, source_arn: str) -> RolePolicies:
        if not role_arn:
            raise _ReplicationFailure("AssumeRoleNotPermitted")
        try:
            role = self._iam.role_policies(role_arn)
        except (NoSuchRoleError, ValueError) as error:
            raise _ReplicationFailure("AssumeRoleNotPermitted") from error
        trusted = evaluate(
            [role.trust],
            "sts:AssumeRole",
            role.arn,
            principal=Principal.service(S3_SERVICE_PRINCIPAL),
            context={"aws:SourceAccount": [self.account_id], "aws:SourceArn": [source_arn]},
        )
        if not trusted.allowed:
            raise _ReplicationFailure("AssumeRoleNotPermitted")
        return role

    def _role_may(self, role: RolePolicies, action: str, resource: str) -> Evaluation:
        return IamEvaluator._identity_decision(role.identity, role.boundary, action, resource, None)

    def _object_lock_enabled(self, bucket: str) -> bool:
        try:
            lock = self._s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
        except ClientError as error:
            if _error_code(error) in ("ObjectLockConfigurationNotFoundError", "NoSuchBucket"):
                return False
            raise
        return lock.get("ObjectLockEnabled") == "Enabled"

    def _acls_enabled(self, bucket: str) -> bool:
        try:
            controls = self._s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
        except ClientError as error:
            if _error_code(error) == "OwnershipControlsNotFoundError":
                return False  # new buckets default to BucketOwnerEnforced: ACLs disabled
            raise
        return all(rule.get("ObjectOwnership") != "BucketOwnerEnforced" for rule in controls.get("Rules", []))

    def _check_source_access(self, version: SourceVersion, role: RolePolicies) -> None:
        object_arn = f"arn:aws:s3:::{version.bucket}/{version.key}"
        if not self._role_may(role, "s3:GetObjectVersionForReplication", object_arn).allowed:
            raise _ReplicationFailure("SrcGetObjectNotPermitted")
        if version.is_kms_encrypted:
            key = self._describe_key(version.kms_key_id or "")
            if key is None or key.get("KeyState") != "Enabled":
                raise _ReplicationFailure("SrcKmsKeyInvalidState")
            if not self._kms_permits(role, key, ("kms:Decrypt",)):
                raise _ReplicationFailure("SrcGetObjectNotPermitted")
        if (
            self._acls_enabled(version.bucket)
            and not self._role_may(role, "s3:GetObjectVersionAcl", object_arn).allowed
        ):
            raise _ReplicationFailure("SrcGetAclNotPermitted")
        if version.tags and not self._role_may(role, "s3:GetObjectVersionTagging", object_arn).allowed:
            raise _ReplicationFailure("SrcGetTaggingNotPermitted")
        if (
            version.head.get("ObjectLockMode")
            and not self._role_may(role, "s3:GetObjectRetention", object_arn).allowed
        ):
            raise _ReplicationFailure("SrcGetRetentionNotPermitted")
        if (
            version.head.get("ObjectLockLegalHoldStatus") == "ON"
            and not self._role_may(role, "s3:GetObjectLegalHold", object_arn).allowed
        ):
            raise _ReplicationFailure("SrcGetLegalHoldNotPermitted")

    def _check_replica_key(
        self, version: SourceVersion, rule: ApplicableRule, role: RolePolicies
    ) -> str | None:
        if not version.is_kms_encrypted:
            return None
        replica_key_id = (rule.rule.get("Destination", {}).get("EncryptionConfiguration") or {}).get(
            "ReplicaKmsKeyID"
        )
        # AWS refuses such a configuration; a rule that still lacks the key names no usable key.
        if not replica_key_id:
            raise _ReplicationFailure("DstKmsKeyNotFound")
        key = self._describe_key(str(replica_key_id))
        if key is None:
            raise _ReplicationFailure("DstKmsKeyNotFound")
        if key.get("KeyState") != "Enabled":
            raise _ReplicationFailure("DstKmsKeyInvalidState")
        if not self._kms_permits(role, key, ("kms:Encrypt", "kms:GenerateDataKey")):
            raise _ReplicationFailure("DstPutObjectNotPermitted")
        return str(key["Arn"])

    def _check_destination_access(
        self, version: SourceVersion, rule: ApplicableRule, role: RolePolicies
    ) -> None:
        object_arn = f"arn:aws:s3:::{rule.destination_bucket}/{version.key}"
        destination = rule.rule.get("Destination", {})
        cross_account = bool(destination.get("Account")) and destination.get("Account") != self.account_id
        bucket_policy = self._bucket_policy(rule.destination_bucket)

        def permitted(action: str) -> bool:
            identity = self._role_may(role, action, object_arn)
            if identity.decision == "explicitDeny":
                return False
            by_bucket = (
                evaluate([bucket_policy], action, object_arn, principal=Principal.aws(role.arn))
                if bucket_policy is not None
                else Evaluation("implicitDeny")
            )
            if by_bucket.decision == "explicitDeny":
                return False
            if cross_account:
                return identity.allowed and by_bucket.allowed
            return identity.allowed or by_bucket.allowed

        if not permitted("s3:ReplicateObject"):
            raise _ReplicationFailure("DstPutObjectNotPermitted")
        if (destination.get("AccessControlTranslation") or {}).get(
            "Owner"
        ) == "Destination" and not permitted("s3:ObjectOwnerOverrideToBucketOwner"):
            raise _ReplicationFailure("DstPutObjectNotPermitted")
        if version.tags and not permitted("s3:ReplicateTags"):
            raise _ReplicationFailure("DstPutTaggingNotPermitted")
        if version.head.get("ObjectLockMode") and not permitted("s3:PutObjectRetention"):
            raise _ReplicationFailure("DstPutRetentionNotPermitted")
        if version.head.get("ObjectLockLegalHoldStatus") == "ON" and not permitted("s3:PutObjectLegalHold"):
            raise _ReplicationFailure("DstPutLegalHoldNotPermitted")

    def _bucket_policy(self, bucket: str) -> SourcedPolicy | None:
        try:
            text = self._s3.get_bucket_policy(Bucket=bucket)["Policy"]
        except ClientError as error:
            if _error_code(error) == "NoSuchBucketPolicy":
                return None
            raise
        return SourcedPolicy(f"{bucket}-policy", "resource", parse_policy_document(text))

    def _describe_key(self, key_id: str) -> dict[str, Any] | None:
        if not key_id:
            return None
        region = key_id.split(":")[3] if key_id.startswith("arn:") else self.region
        try:
            return dict(self._client("kms", region).describe_key(KeyId=key_id)["KeyMetadata"])
        except ClientError as error:
            if _error_code(error) in ("NotFoundException", "InvalidArnException"):
                return None
            raise

    def _kms_permits(self, role: RolePolicies, key: Mapping[str, Any], actions: Sequence[str]) -> bool:
        """Key policy and IAM together, as KMS decides: the key policy must allow the role itself,
        or allow the account (root), in which case the role's IAM policies must allow too."""
        key_arn = str(key["Arn"])
        try:
            text = self._client("kms", key_arn.split(":")[3]).get_key_policy(
                KeyId=key_arn, PolicyName="default"
            )["Policy"]
            key_policy = SourcedPolicy("key-policy", "resource", parse_policy_document(text))
        except ClientError:
            key_policy = None
        for action in actions:
            identity = self._role_may(role, action, key_arn)
            if identity.decision == "explicitDeny":
                return False
            if key_policy is None:
                if not identity.allowed:
                    return False
                continue
            by_key = evaluate([key_policy], action, key_arn, principal=Principal.aws(role.arn))
            if by_key.decision != "allowed":
                return False
            if not identity.allowed and not _names_principal_directly(key_policy, by_key, role.arn):
                return False
        return True

    # --- copying -----------------------------------------------------------------------------------

    def _copy(self, version: SourceVersion, rule: ApplicableRule, replica_key_arn: str | None) -> None:
        source = self._s3.get_object(Bucket=version.bucket, Key=version.key, VersionId=version.version_id)
        body = source["Body"].read()
        put: dict[str, Any] = {
            "Bucket": rule.destination_bucket,
            "Key": version.key,
            "Body": body,
            "Metadata": dict(source.get("Metadata") or {}),
        }
        for header in _COPIED_HEADERS:
            if source.get(header):
                put[header] = source[header]
        if version.tags:
            put["Tagging"] = urlencode(version.tags)
        storage_class = rule.rule.get("Destination", {}).get("StorageClass") or source.get("StorageClass")
        if storage_class and storage_class != "STANDARD":
            put["StorageClass"] = storage_class
        if replica_key_arn:
            put["ServerSideEncryption"] = "aws:kms"
            put["SSEKMSKeyId"] = replica_key_arn
        elif source.get("ServerSideEncryption") == "AES256":
            put["ServerSideEncryption"] = "AES256"
        if source.get("ObjectLockMode"):
            put["ObjectLockMode"] = source["ObjectLockMode"]
            put["ObjectLockRetainUntilDate"] = source["ObjectLockRetainUntilDate"]
        if source.get("ObjectLockLegalHoldStatus"):
            put["ObjectLockLegalHoldStatus"] = source["ObjectLockLegalHoldStatus"]
        written = self._s3.put_object(**put)
        replica_version = str(written.get("VersionId") or "null")
        if self._align_version_ids and self._align_replica_version(
            rule.destination_bucket, version.key, replica_version, version.version_id
        ):
            replica_version = version.version_id
        self._state.replica_versions[
            (version.bucket, version.key, version.version_id, rule.destination_bucket)
        ] = replica_version
        self._state.statuses[(rule.destination_bucket, version.key, replica_version)] = REPLICA

    def _align_replica_version(self, bucket: str, key: str, moto_version: str, source_version: str) -> bool:
        """Give the replica the source version's id in moto's store, when moto runs in this process."""
        return set_replica_version_id(self.account_id, bucket, key, moto_version, source_version)

    # --- failure events ----------------------------------------------------------------------------

    def _notify_failure(self, version: SourceVersion, rule: ApplicableRule, reason: str) -> None:
        if not rule.metrics_enabled:
            return  # without replication metrics S3 publishes no failure events at all
        try:
            notification = self._s3.get_bucket_notification_configuration(Bucket=version.bucket)
        except ClientError:
            logger.warning("cannot read the notification configuration of %s", version.bucket)
            return
        targets: list[tuple[str, str, str]] = []
        for kind, arn_field in (("QueueConfigurations", "QueueArn"), ("TopicConfigurations", "TopicArn")):
            for config in notification.get(kind, []):
                if _wants_failure_event(config, version.key):
                    targets.append((arn_field, str(config[arn_field]), str(config.get("Id") or "")))
        if not targets:
            return
        for arn_field, target_arn, configuration_id in targets:
            record = self._failure_record(version, rule, reason, configuration_id)
            body = json.dumps({"Records": [record]})
            try:
                if arn_field == "QueueArn":
                    self._send_to_queue(target_arn, body)
                else:
                    self._publish_to_topic(target_arn, body)
            except ClientError:
                # S3 drops events it cannot deliver (queue deleted, policy denies it)
                logger.warning(
                    "replication event for %s/%s not delivered to %s", version.bucket, version.key, target_arn
                )

    def _send_to_queue(self, queue_arn: str, body: str) -> None:
        _, _, _, region, account, name = queue_arn.split(":", 5)
        sqs = self._client("sqs", region)
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body)

    def _publish_to_topic(self, topic_arn: str, body: str) -> None:
        region = topic_arn.split(":")[3]
        self._client("sns", region).publish(
            TopicArn=topic_arn, Message=body, Subject="Amazon S3 Notification"
        )

    def _bucket_region(self, bucket: str) -> str:
        try:
            location = self._s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        except ClientError:
            return self.region
        return str(location or "us-east-1")

    def _next_sequencer(self) -> str:
        value = max(self._state.last_sequencer + 1, time.time_ns())
        self._state.last_sequencer = value
        return f"{value:018X}"

    def _failure_record(
        self, version: SourceVersion, rule: ApplicableRule, reason: str, configuration_id: str
    ) -> dict[str, Any]:
        written_at = version.head.get("LastModified")
        request_time = (
            _iso_millis(written_at) if isinstance(written_at, datetime) else _iso_millis(datetime.now(UTC))
        )
        return {
            "eventVersion": "2.2",
            "eventSource": "aws:s3",
            "awsRegion": self._bucket_region(version.bucket),
            "eventTime": _iso_millis(datetime.now(UTC)),
            "eventName": "Replication:OperationFailedReplication",
            "userIdentity": {"principalId": S3_SERVICE_PRINCIPAL},
            "requestParameters": {"sourceIPAddress": S3_SERVICE_PRINCIPAL},
            "responseElements": {
                "x-amz-request-id": secrets.token_hex(8).upper(),
                "x-amz-id-2": base64.b64encode(secrets.token_bytes(48)).decode(),
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": configuration_id,
                "bucket": {
                    "name": version.bucket,
                    "ownerIdentity": {"principalId": self.account_id},
                    "arn": f"arn:aws:s3:::{version.bucket}",
                },
                "object": {
                    "key": quote_plus(version.key, safe="/"),
                    "size": version.size,
                    "eTag": version.etag,
                    "versionId": version.version_id,
                    "sequencer": self._next_sequencer(),
                },
            },
            "replicationEventData": {
                "replicationRuleId": rule.rule_id or "",
                "destinationBucket": rule.destination_arn,
                "s3Operation": "OBJECT_PUT",
                "requestTime": request_time,
                "failureReason": reason,
            },
        }

    # --- hooks ---------------------------------------------------------------------------------

    def _record_error(self, what: str) -> None:
        logger.exception("replication emulator failed while %s", what)
        with self._state.lock:
            self._state.errors.append(what)

    def _after_write(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        if http_response.status_code >= 300 or not parsed.get("VersionId"):
            return
        params = context.get(hooks.PARAMS_CONTEXT_KEY) or {}
        bucket, key = params.get("Bucket"), params.get("Key")
        if not bucket or not key or parsed["VersionId"] == "null":
            return
        try:
            self.replicate_version(str(bucket), str(key), str(parsed["VersionId"]), trigger="live")
        except Exception:
            self._record_error(f"replicating s3://{bucket}/{key}?versionId={parsed['VersionId']}")

    def _after_read(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        if http_response.status_code >= 300:
            return
        params = context.get(hooks.PARAMS_CONTEXT_KEY) or {}
        version_id = parsed.get("VersionId") or params.get("VersionId")
        if not params.get("Bucket") or not params.get("Key") or not version_id:
            return
        status = self.replication_status(str(params["Bucket"]), str(params["Key"]), str(version_id))
        if status is not None:
            parsed["ReplicationStatus"] = status
            parsed.get("ResponseMetadata", {}).get("HTTPHeaders", {})["x-amz-replication-status"] = status

    def _after_put_configuration(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get(hooks.PARAMS_CONTEXT_KEY) or {}
        if (
            http_response.status_code < 300
            and params.get("Bucket")
            and params.get("ReplicationConfiguration")
        ):
            self.record_configuration(str(params["Bucket"]), params["ReplicationConfiguration"])

    def _after_delete_configuration(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get(hooks.PARAMS_CONTEXT_KEY) or {}
        if http_response.status_code < 300 and params.get("Bucket"):
            self.forget_configuration(str(params["Bucket"]))

    def _after_get_configuration(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        params = context.get(hooks.PARAMS_CONTEXT_KEY) or {}
        moto_view = parsed.get("ReplicationConfiguration")
        if http_response.status_code >= 300 or not moto_view or not params.get("Bucket"):
            return
        parsed["ReplicationConfiguration"] = self.faithful_configuration(str(params["Bucket"]), moto_view)


# --- rules -----------------------------------------------------------------------------------------


def _destinations(configuration: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        (str(r.get("Status")), str(r.get("Destination", {}).get("Bucket")))
        for r in configuration.get("Rules", [])
    ]


def _same_configuration(stored: Mapping[str, Any], moto_view: Mapping[str, Any]) -> bool:
    """Whether the stored configuration is still the one moto holds (moto's view keeps the role,
    the rules' order, status and destinations)."""
    return stored.get("Role") == moto_view.get("Role") and _destinations(stored) == _destinations(moto_view)


def _with_moto_ids(stored: Mapping[str, Any], moto_view: Mapping[str, Any]) -> dict[str, Any]:
    """The stored configuration with the rule ids S3 (moto) assigned where the caller gave none."""
    configuration = json.loads(json.dumps(stored))
    for rule, moto_rule in zip(configuration.get("Rules", []), moto_view.get("Rules", []), strict=False):
        if not rule.get("ID") and moto_rule.get("ID"):
            rule["ID"] = moto_rule["ID"]
    return dict(configuration)


def _eligible_rules(
    configuration: Mapping[str, Any], key: str, version: SourceVersion
) -> list[ApplicableRule]:
    best: dict[str, ApplicableRule] = {}
    order: list[str] = []
    for rule in configuration.get("Rules", []):
        if rule.get("Status") != "Enabled" or not rule_filter_matches(rule, key, lambda: version.tags):
            continue
        if version.is_kms_encrypted:
            criteria = (rule.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects") or {}
            if criteria.get("Status") != "Enabled":
                continue  # SSE-KMS objects replicate only for rules that opt in
        if version.head.get("SSECustomerAlgorithm"):
            continue  # SSE-C objects replicate only with Batch Replication opt-in; not emulated
        destination_arn = str(rule.get("Destination", {}).get("Bucket", ""))
        candidate = ApplicableRule(
            rule_id=rule.get("ID"),
            priority=int(rule.get("Priority") or 0),
            destination_bucket=bucket_name(destination_arn),
            destination_arn=destination_arn,
            rule=rule,
        )
        current = best.get(destination_arn)
        if current is None:
            order.append(destination_arn)
            best[destination_arn] = candidate
        elif candidate.priority > current.priority:
            best[destination_arn] = candidate
    return [best[arn] for arn in order]


def _wants_failure_event(config: Mapping[str, Any], key: str) -> bool:
    events = config.get("Events", [])
    if FAILED_REPLICATION_EVENT not in events and not any(e in events for e in _REPLICATION_EVENT_WILDCARDS):
        return False
    rules = ((config.get("Filter") or {}).get("Key") or {}).get("FilterRules", [])
    for filter_rule in rules:
        name, value = str(filter_rule.get("Name", "")).lower(), str(filter_rule.get("Value", ""))
        if name == "prefix" and not key.startswith(value):
            return False
        if name == "suffix" and not key.endswith(value):
            return False
    return True


def _names_principal_directly(policy: SourcedPolicy, decision: Evaluation, principal_arn: str) -> bool:
    """Whether an allowing statement names the principal itself (or everyone), not just its account."""
    statements = policy.statements()
    for match in decision.matched_statements:
        element = statements[match.index].get("Principal")
        if element == "*":
            return True
        if isinstance(element, Mapping):
            values = element.get("AWS", [])
            values = values if isinstance(values, list) else [values]
            if principal_arn in values or "*" in values:
                return True
    return False
