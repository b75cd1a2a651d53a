"""S3JobManifestGenerator for the Batch Operations emulator: list a source bucket's object versions and
keep those the job's filter selects, the way S3 builds a generated Batch Replication manifest.

Filter members honoured (botocore ``JobManifestGeneratorFilter``): EligibleForReplication (the version
matches an enabled rule of the bucket's replication configuration: prefix, tag and And filters),
ObjectReplicationStatuses (COMPLETED / FAILED / REPLICA / NONE, NONE meaning replication was never
attempted), CreatedAfter / CreatedBefore, KeyNameConstraint (prefix / suffix / substring),
ObjectSizeGreaterThanBytes / ObjectSizeLessThanBytes, MatchAnyStorageClass and
MatchAnyObjectEncryption. Delete markers are not listed.

Checked against botocore's s3control model (``JobManifestGeneratorFilter``, ``ReplicationStatus``:
COMPLETED, FAILED, REPLICA, NONE) and "Filters for a Batch Replication job"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html): a version
S3 reports PENDING matches no status filter (PENDING is not a filter value) and is listed only
without one ("If you do not filter based on replication status Batch Operations will attempt to
replicate everything eligible"). Not emulated: AWS replicates delete markers in generated-manifest
jobs (the same page warns they may arrive before the versions); this emulator lists versions only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from botocore.utils import parse_timestamp

from replimend_local.batch_operations.manifests import ManifestEntry
from replimend_local.s3_rules import rule_filter_matches

ReplicationStatusLookup = Callable[[str, str, str], str | None]
"""(bucket, key, version id) -> the version's replication status as S3 reports it, or None."""
ConfigurationLookup = Callable[[str], "dict[str, Any] | None"]
"""bucket -> its replication configuration, or None when it has none."""

_STATUS_FILTER_VALUES = {
    "COMPLETE": "COMPLETED",
    "COMPLETED": "COMPLETED",
    "FAILED": "FAILED",
    "REPLICA": "REPLICA",
}


class GenerationError(Exception):
    """The manifest cannot be generated: the job fails while preparing with this code and reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def _as_datetime(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else parse_timestamp(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ManifestGenerator:
    """Builds the entries of a generated manifest from the emulated account's real state."""

    def __init__(
        self,
        s3: Any,
        replication_status: ReplicationStatusLookup,
        replication_configuration: ConfigurationLookup | None = None,
    ) -> None:
        self._s3 = s3
        self._replication_status = replication_status
        self._replication_configuration = replication_configuration or self._configuration_from_s3

    def _versions(self, bucket: str) -> Iterator[dict[str, Any]]:
        paginator = self._s3.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=bucket):
                yield from page.get("Versions", [])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchBucket":
                raise GenerationError(
                    "SrcBucketNotFound", f"The source bucket {bucket} does not exist"
                ) from None
            raise

    def _configuration_from_s3(self, bucket: str) -> dict[str, Any] | None:
        try:
            return dict(self._s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"])
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("ReplicationConfigurationNotFoundError", "NoSuchBucket"):
                return None
            raise

    def _replication_rules(self, bucket: str) -> list[dict[str, Any]]:
        config = self._replication_configuration(bucket)
        if config is None:
            raise GenerationError(
                "SrcBucketReplicationConfigMissing",
                f"The source bucket {bucket} has no replication configuration",
            )
        return [rule for rule in config.get("Rules", []) if rule.get("Status") == "Enabled"]

    def _tags(self, bucket: str, key: str, version_id: str) -> dict[str, str]:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id and version_id != "null":
            kwargs["VersionId"] = version_id
        return {tag["Key"]: tag["Value"] for tag in self._s3.get_object_tagging(**kwargs).get("TagSet", [])}

    def _encryption(self, bucket: str, key: str, version_id: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id and version_id != "null":
            kwargs["VersionId"] = version_id
        try:
            return dict(self._s3.head_object(**kwargs))
        except ClientError:
            return {"SSECustomerAlgorithm": "AES256"}  # HEAD without the customer key fails for SSE-C

    @staticmethod
    def _encryption_matches(head: Mapping[str, Any], wanted: list[dict[str, Any]]) -> bool:
        algorithm = head.get("ServerSideEncryption")
        for option in wanted:
            if "SSES3" in option and algorithm == "AES256":
                return True
            if "NOTSSE" in option and not algorithm and not head.get("SSECustomerAlgorithm"):
                return True
            if "SSEC" in option and head.get("SSECustomerAlgorithm"):
                return True
            for name, expected in (("SSEKMS", "aws:kms"), ("DSSEKMS", "aws:kms:dsse")):
                if name in option and algorithm == expected:
                    key_arn = option[name].get("KmsKeyArn")
                    if not key_arn or head.get("SSEKMSKeyId") == key_arn:
                        return True
        return False

    def generate(self, source_bucket: str, job_filter: Mapping[str, Any] | None) -> list[ManifestEntry]:
        """Every object version of ``source_bucket`` the filter selects (all versions without a filter)."""
        selected = dict(job_filter or {})
        rules = self._replication_rules(source_bucket) if selected.get("EligibleForReplication") else None
        after = _as_datetime(selected["CreatedAfter"]) if "CreatedAfter" in selected else None
        before = _as_datetime(selected["CreatedBefore"]) if "CreatedBefore" in selected else None
        statuses = set(selected.get("ObjectReplicationStatuses") or [])
        names = selected.get("KeyNameConstraint") or {}
        prefixes, suffixes = names.get("MatchAnyPrefix") or [], names.get("MatchAnySuffix") or []
        substrings = names.get("MatchAnySubstring") or []
        larger = selected.get("ObjectSizeGreaterThanBytes")
        smaller = selected.get("ObjectSizeLessThanBytes")
        classes = set(selected.get("MatchAnyStorageClass") or [])
        encryptions = list(selected.get("MatchAnyObjectEncryption") or [])

        entries: list[ManifestEntry] = []
        for version in self._versions(source_bucket):
            key, version_id = version["Key"], str(version.get("VersionId") or "null")
            created = _as_datetime(version["LastModified"])
            size = int(version.get("Size", 0))
            if (after and created <= after) or (before and created >= before):
                continue
            if prefixes and not any(key.startswith(p) for p in prefixes):
                continue
            if suffixes and not any(key.endswith(s) for s in suffixes):
                continue
            if substrings and not any(s in key for s in substrings):
                continue
            if (larger is not None and size <= larger) or (smaller is not None and size >= smaller):
                continue
            if classes and version.get("StorageClass", "STANDARD") not in classes:
                continue
            if rules is not None:
                tag_cache: dict[str, str] | None = None

                def tags(key: str = key, version_id: str = version_id) -> dict[str, str]:
                    nonlocal tag_cache
                    if tag_cache is None:
                        tag_cache = self._tags(source_bucket, key, version_id)
                    return tag_cache

                if not any(rule_filter_matches(rule, key, tags) for rule in rules):
                    continue
            if statuses:
                status = self._replication_status(source_bucket, key, version_id)
                value = _STATUS_FILTER_VALUES.get(status, "PENDING") if status else "NONE"
                if value not in statuses:
                    continue
            if encryptions and not self._encryption_matches(
                self._encryption(source_bucket, key, version_id), encryptions
            ):
                continue
            entries.append(ManifestEntry(source_bucket, key, version_id))
        if not entries:
            raise GenerationError(
                "NoKeysMatchingFilter", "Manifest generation found no keys matching the filter criteria"
            )
        return entries
