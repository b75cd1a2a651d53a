"""S3 adapters: source-version checks and bucket Regions (``ObjectInspector``), and the objects
replimend writes and reads itself (``ManifestStorage``). ClientError goes through ``aws.errors``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from replimend.aws.errors import error_code, translate_client_error
from replimend.errors import NotFoundError
from replimend.ports import ReplicaStatus, SourceVersionStatus

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_REPLICATED = frozenset({"COMPLETED", "COMPLETE"})  # botocore's enum has both; docs say COMPLETED
#: HeadObject of a version that is a delete marker answers 405 (MethodNotAllowed).
_DELETE_MARKER_CODES = frozenset({"405", "MethodNotAllowed"})


class S3Objects:
    """HeadObject of one version, and the Region of a bucket (cached per instance).

    ``source_version_status`` never raises for a failed HEAD; it answers, in this order:
    405 → NEEDS_REPLICATION (a delete marker, which Batch Replication can replicate), not found →
    GONE, anything else → UNVERIFIED. 403 is the common case of the last: HeadObject answers 403, not
    404, for a missing key when the caller lacks s3:ListBucket (aws-facts.md §10), so a 403 proves
    nothing either way and the job's report decides.
    """

    def __init__(self, client: S3Client) -> None:
        self._client = client
        self._regions: dict[str, str] = {}

    def source_version_status(self, bucket: str, key: str, version_id: str | None) -> SourceVersionStatus:
        # With several destinations the header says COMPLETED only once all of them have the
        # object (aws-facts.md §6): anything else may still need this destination.
        try:
            head: Any = self._client.head_object(Bucket=bucket, Key=key, VersionId=version_id or "null")
        except ClientError as exc:
            if error_code(exc) in _DELETE_MARKER_CODES:
                return SourceVersionStatus.NEEDS_REPLICATION
            if isinstance(translate_client_error(exc, "HeadObject"), NotFoundError):
                return SourceVersionStatus.GONE
            return SourceVersionStatus.UNVERIFIED
        if str(head.get("ReplicationStatus", "")).upper() in _REPLICATED:
            return SourceVersionStatus.REPLICATED
        return SourceVersionStatus.NEEDS_REPLICATION

    def replica_status(self, bucket: str, key: str, version_id: str | None) -> ReplicaStatus:
        """HEAD of the replica in a destination: the same key and version id. Without read access
        (the stack's role may not read a cross-account destination) the answer is UNKNOWN."""
        try:
            self._client.head_object(Bucket=bucket, Key=key, VersionId=version_id or "null")
        except ClientError as exc:
            if isinstance(translate_client_error(exc, "HeadObject"), NotFoundError):
                return ReplicaStatus.ABSENT
            return ReplicaStatus.UNKNOWN  # 403 and the rest: nothing can be concluded
        return ReplicaStatus.PRESENT

    def bucket_region(self, bucket: str) -> str:
        if bucket not in self._regions:
            try:
                location = self._client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
            except ClientError as exc:
                raise translate_client_error(exc, "GetBucketLocation") from exc
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
            raise translate_client_error(exc, "PutObject") from exc
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
            raise translate_client_error(exc, "PutObject") from exc

    def put_bytes(self, bucket: str, key: str, body: bytes, *, content_type: str) -> None:
        """Upload with a SHA-256 checksum: S3 requires one (or Content-MD5) on every upload to a
        bucket with an Object Lock default retention (PutObject, "Content-MD5" and
        x-amz-sdk-checksum-algorithm: https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html)."""
        try:
            self._client.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                ChecksumAlgorithm="SHA256",
                ServerSideEncryption="AES256",
            )
        except ClientError as exc:
            raise translate_client_error(exc, "PutObject") from exc

    def get_bytes(self, bucket: str, key: str) -> bytes:
        try:
            return self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise translate_client_error(exc, "GetObject") from exc

    def iter_lines(self, bucket: str, key: str) -> Iterator[str]:
        """Lines of a (possibly large) text object, streamed. Bytes that are not UTF-8 come through as
        surrogate escapes (U+DC80-U+DCFF), so the parser reports that row and reads on."""
        try:
            body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as exc:
            raise translate_client_error(exc, "GetObject") from exc
        for line in body.iter_lines(keepends=True):
            yield line.decode("utf-8", errors="surrogateescape")

    def list_keys(self, bucket: str, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]
        except ClientError as exc:
            raise translate_client_error(exc, "ListObjectsV2") from exc

    def delete(self, bucket: str, key: str) -> None:
        try:
            self._client.delete_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            raise translate_client_error(exc, "DeleteObject") from exc
