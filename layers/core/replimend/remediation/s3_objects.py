"""S3 adapters for remediation: source-version checks, bucket Regions, manifest/report storage."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from replimend.errors import AwsCallError, NotFoundError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_GONE_CODES = frozenset({"NoSuchVersion", "NoSuchKey", "404", "NotFound"})
_REPLICATED = frozenset({"COMPLETED", "COMPLETE"})  # botocore's enum has both; docs say COMPLETED


class SourceVersionStatus(StrEnum):
    """What HeadObject says about the failed source version."""

    GONE = "gone"  # version (or key) no longer exists: nothing to replicate
    REPLICATED = "replicated"  # ReplicationStatus COMPLETED: every destination has it
    NEEDS_REPLICATION = "needs_replication"  # present, not (yet) replicated everywhere
    UNVERIFIED = "unverified"  # could not check (e.g. 403): the job will tell


class S3Objects:
    """HeadObject of one version, and the Region of a bucket (cached per instance)."""

    def __init__(self, client: S3Client) -> None:
        self._client = client
        self._regions: dict[str, str] = {}

    def source_version_status(self, bucket: str, key: str, version_id: str | None) -> SourceVersionStatus:
        # With several destinations the header says COMPLETED only once all of them have the
        # object (aws-facts.md §6): anything else may still need this destination.
        try:
            head: Any = self._client.head_object(Bucket=bucket, Key=key, VersionId=version_id or "null")
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _GONE_CODES:
                return SourceVersionStatus.GONE
            # 405: the version is a delete marker, which Batch Replication can replicate.
            if code in {"405", "MethodNotAllowed"}:
                return SourceVersionStatus.NEEDS_REPLICATION
            return SourceVersionStatus.UNVERIFIED
        if str(head.get("ReplicationStatus", "")).upper() in _REPLICATED:
            return SourceVersionStatus.REPLICATED
        return SourceVersionStatus.NEEDS_REPLICATION

    def bucket_region(self, bucket: str) -> str:
        if bucket not in self._regions:
            try:
                location = self._client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
            except ClientError as exc:
                raise _aws_error("GetBucketLocation", exc) from exc
            # No constraint means us-east-1; "EU" is the legacy name of eu-west-1.
            self._regions[bucket] = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(
                location, str(location)
            )
        return self._regions[bucket]


class S3Storage:
    """Objects replimend itself writes and reads: manifests, pending markers, reports."""

    def __init__(self, client: S3Client) -> None:
        self._client = client

    def put_manifest(self, bucket: str, key: str, body: IO[bytes]) -> str:
        """Upload a manifest; returns its unquoted ETag.

        SSE-S3 because Batch Operations cannot read SSE-KMS or SSE-C CSV manifests.
        """
        try:
            response = self._client.put_object(
                Bucket=bucket, Key=key, Body=body, ContentType="text/csv", ServerSideEncryption="AES256"
            )
        except ClientError as exc:
            raise _aws_error("PutObject", exc) from exc
        return response["ETag"].strip('"')

    def put_text(self, bucket: str, key: str, text: str, content_type: str = "application/json") -> None:
        try:
            self._client.put_object(
                Bucket=bucket,
                Key=key,
                Body=text.encode(),
                ContentType=content_type,
                ServerSideEncryption="AES256",
            )
        except ClientError as exc:
            raise _aws_error("PutObject", exc) from exc

    def get_bytes(self, bucket: str, key: str) -> bytes:
        try:
            return self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _GONE_CODES:
                raise NotFoundError(f"s3://{bucket}/{key} not found") from exc
            raise _aws_error("GetObject", exc) from exc

    def iter_lines(self, bucket: str, key: str) -> Iterator[str]:
        """Lines of a (possibly large) text object, streamed."""
        try:
            body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _GONE_CODES:
                raise NotFoundError(f"s3://{bucket}/{key} not found") from exc
            raise _aws_error("GetObject", exc) from exc
        for line in body.iter_lines(keepends=True):
            yield line.decode("utf-8")

    def list_keys(self, bucket: str, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]
        except ClientError as exc:
            raise _aws_error("ListObjectsV2", exc) from exc

    def delete(self, bucket: str, key: str) -> None:
        try:
            self._client.delete_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            raise _aws_error("DeleteObject", exc) from exc


def _aws_error(operation: str, exc: ClientError) -> AwsCallError:
    error = exc.response.get("Error", {})
    return AwsCallError(operation, str(error.get("Code", "Unknown")), str(error.get("Message", "")))
