"""The replication decision: for a new version, what S3 would do (rules, role, destination,
KMS), the replica it writes, the status it records and the failure events it sends."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

from botocore.exceptions import ClientError

from replimend_local import hooks
from replimend_local.config_reads import ConfigurationReads, ConfigurationVersions
from replimend_local.iam import (
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
from replimend_local.s3_replication.exceptions import _ReplicationFailure
from replimend_local.s3_replication.models import (
    _COPIED_HEADERS,
    COMPLETED,
    FAILED,
    PENDING,
    REPLICA,
    S3_SERVICE_PRINCIPAL,
    ApplicableRule,
    ReplicationOutcome,
    SourceVersion,
    Trigger,
    _shared_state,
)
from replimend_local.s3_replication.rules import (
    _eligible_rules,
    _names_principal_directly,
    _same_configuration,
    _wants_failure_event,
    _with_moto_ids,
)

logger = logging.getLogger(__name__)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status_code(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _iso_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class ReplicationBackend:
    """S3 live replication of the embedded account at ``endpoint_url`` (see the module docstring)."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        account_id: str = "123456789012",
        *,
        align_replica_version_ids: bool = True,
        configuration_versions: ConfigurationVersions | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self._align_version_ids = align_replica_version_ids
        self._state = _shared_state(endpoint_url, account_id)
        # With the gateway's change counts, configuration is read once per change, not per object.
        self.configuration_reads = (
            ConfigurationReads(configuration_versions) if configuration_versions is not None else None
        )
        self._client = hooks.PlainClients(endpoint_url, region, reads=self.configuration_reads)
        self._iam = IamEvaluator(self._client("iam"))

    # --- clients -----------------------------------------------------------------------------

    @property
    def _s3(self) -> Any:
        return self._client("s3")

    # --- public API ----------------------------------------------------------------------------

    def replication_status(self, bucket: str, key: str, version_id: str) -> str | None:
        """COMPLETED, FAILED, PENDING or REPLICA; None when the version was never eligible for a rule."""
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

    @property
    def batch_failure_events(self) -> bool:
        """Whether a Batch Replication task sends ``OperationFailedReplication`` events, one per failing
        destination, as live replication does. AWS documents the events for replication in general
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-metrics-events.html) and
        documents nothing about Batch Replication sending them or not, so the embedded account can do
        either (False, the default: no events, the outcome is in the completion report only). Shared by
        every engine on the endpoint, the Batch Operations emulator's included."""
        with self._state.lock:
            return self._state.batch_failure_events

    @batch_failure_events.setter
    def batch_failure_events(self, enabled: bool) -> None:
        with self._state.lock:
            self._state.batch_failure_events = bool(enabled)

    def region_available(self, region: str) -> bool:
        with self._state.lock:
            return region not in self._state.unavailable_regions

    def set_region_available(self, region: str, available: bool) -> list[ReplicationOutcome]:
        """Mark a Region of the embedded account unavailable (an outage) or available again. AWS,
        "Getting replication status information"
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html): "for temporary
        failures, such as if a bucket or Region is unavailable, replication status doesn't transition
        to FAILED, but remains PENDING. After the resource is back online, Amazon S3 resumes
        replicating those objects." So while a destination's Region is unavailable its replication
        waits (the source reads PENDING, no event is sent); when the Region is back, every waiting
        version is replicated to the destinations it waited for. Returns the outcomes of that resume.
        Shared by every engine on the endpoint."""
        with self._state.lock:
            if not available:
                self._state.unavailable_regions.add(region)
                return []
            self._state.unavailable_regions.discard(region)
            resumed: list[ReplicationOutcome] = []
            for (bucket, key, version_id), destinations in sorted(self._state.pending.items()):
                try:
                    resumed += self._replicate(bucket, key, version_id, "live", only=destinations)
                except _ReplicationFailure:
                    # the source version or its configuration is gone: nothing is left to replicate
                    self._state.pending.pop((bucket, key, version_id), None)
                    self._state.statuses.pop((bucket, key, version_id), None)
            return resumed

    def pending_versions(self) -> dict[tuple[str, str, str], frozenset[str]]:
        """(bucket, key, version id) -> the destination buckets its replication waits for."""
        with self._state.lock:
            return dict(self._state.pending)

    def errors(self) -> list[str]:
        """Emulator errors swallowed inside hooks (the caller's S3 call still succeeded)."""
        with self._state.lock:
            return list(self._state.errors)

    def reset(self) -> None:
        """Forget statuses, outcomes and stored configurations (after resetting the moto server), and
        go back to the default of :attr:`batch_failure_events`."""
        with self._state.lock:
            self._state.batch_failure_events = False
            self._state.statuses.clear()
            self._state.outcomes.clear()
            self._state.replica_versions.clear()
            self._state.configurations.clear()
            self._state.unavailable_regions.clear()
            self._state.pending.clear()
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
        """Replicate one source version to every destination whose rules apply, as S3 would, record its
        status (FAILED if any destination failed, COMPLETED when all succeeded) and send one failure
        event per failing destination (live; batch only with :attr:`batch_failure_events`). Returns one
        outcome per destination; [] when live replication does not apply (no configuration, no
        matching rule, version gone, a replica)."""
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
        self,
        bucket: str,
        key: str,
        version_id: str,
        trigger: Trigger,
        *,
        only: frozenset[str] | None = None,
    ) -> list[ReplicationOutcome]:
        """Replicate to every destination whose rules apply, or with ``only`` to those destinations
        (a resume after an outage), keeping the outcomes of the others."""
        configuration = self._configuration(bucket)
        version = self._read_source_version(bucket, key, version_id)
        if trigger == "live" and self.replication_status(bucket, key, version_id) == REPLICA:
            return []  # S3 does not replicate replicas again (only Batch Replication does)
        rules = _eligible_rules(configuration, key, version)
        if only is not None:
            rules = [rule for rule in rules if rule.destination_bucket in only]
        if not rules:
            raise _ReplicationFailure("SrcObjectNotEligible")
        role_arn = str(configuration.get("Role", ""))
        outcomes: list[ReplicationOutcome] = []
        for rule in rules:
            if (
                self._state.unavailable_regions
                and self._bucket_region(rule.destination_bucket) in self._state.unavailable_regions
            ):
                # replication-status.html: the status "remains PENDING" and no failure is reported
                outcomes.append(ReplicationOutcome(rule.destination_bucket, rule.rule_id, PENDING))
                continue
            try:
                self._check_and_copy(version, rule, role_arn)
            except _ReplicationFailure as failure:
                outcomes.append(
                    ReplicationOutcome(rule.destination_bucket, rule.rule_id, FAILED, failure.reason)
                )
                if trigger == "live" or self._state.batch_failure_events:
                    self._notify_failure(version, rule, failure.reason)
            else:
                outcomes.append(ReplicationOutcome(rule.destination_bucket, rule.rule_id, COMPLETED))
        # "The header of the source object returns a value of COMPLETED only when replication is
        # successful to all destinations ... If one or more destinations fail replication, the header
        # returns FAILED" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html);
        # while a destination waits for its Region the source stays PENDING (same page).
        ident = (bucket, key, version_id)
        every = {o.destination_bucket: o for o in self._state.outcomes.get(ident, ())} if only else {}
        every.update({o.destination_bucket: o for o in outcomes})
        statuses = {o.status for o in every.values()}
        status = FAILED if FAILED in statuses else PENDING if PENDING in statuses else COMPLETED
        waiting = frozenset(d for d, o in every.items() if o.status == PENDING)
        if waiting:
            self._state.pending[ident] = waiting
        else:
            self._state.pending.pop(ident, None)
        self._state.statuses[ident] = status
        self._state.outcomes[ident] = tuple(every.values())
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
        self._copy(version, rule, replica_key_arn, with_tags=self._may_read_tags(version, role))

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

    def _may_read_tags(self, version: SourceVersion, role: RolePolicies) -> bool:
        """Whether the replica gets the source's tags. AWS, "Setting up permissions for live
        replication" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html):
        s3:GetObjectVersionTagging on the source "allow[s] Amazon S3 to read object tags for
        replication ... If Amazon S3 doesn't have these permissions, it replicates the objects, but not
        the object tags" - a missing permission drops the tags, it does not fail the object."""
        object_arn = f"arn:aws:s3:::{version.bucket}/{version.key}"
        return bool(version.tags) and self._role_may(role, "s3:GetObjectVersionTagging", object_arn).allowed

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
        # No s3:ReplicateTags check: "Permissions for the s3:ReplicateObject action on the destination
        # bucket also allow replication of object tags, so you don't need to explicitly grant permission
        # for the s3:ReplicateTags action" (setting-repl-config-perm-overview, see _may_read_tags).
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

    def _copy(
        self, version: SourceVersion, rule: ApplicableRule, replica_key_arn: str | None, *, with_tags: bool
    ) -> None:
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
        if with_tags:
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
