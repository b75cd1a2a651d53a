"""The configuration reads of diagnosis (``ports.ConfigReader``): S3 bucket settings, IAM roles and
policy simulation, KMS keys. Read-only; ClientError goes through ``aws.errors``.

"Not configured" answers of S3 are error codes that botocore's s3 model does not declare (its
GetBucket* operations have no error shapes); the codes are the ones of the S3 API's error-code list
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList):
ReplicationConfigurationNotFoundError, ObjectLockConfigurationNotFoundError,
OwnershipControlsNotFoundError, NoSuchBucketPolicy. Each is a value here (None / False), not an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from replimend.aws.errors import error_code, translate_client_error
from replimend.ports import KeyInfo, RoleInfo, Simulated, SimulationRequest

ClientFactory = Callable[[str, str | None], Any]  # (service, region or None) -> boto3 client

_NOT_CONFIGURED = {
    "GetBucketReplication": "ReplicationConfigurationNotFoundError",
    "GetObjectLockConfiguration": "ObjectLockConfigurationNotFoundError",
    "GetBucketOwnershipControls": "OwnershipControlsNotFoundError",
    "GetBucketPolicy": "NoSuchBucketPolicy",
}
#: HeadObject of a version that is a delete marker answers 405 (aws/s3.py).
_DELETE_MARKER_CODES = frozenset({"405", "MethodNotAllowed"})


def boto3_client_factory(profile: str | None = None, region: str | None = None) -> ClientFactory:
    """Clients from one boto3 session (standard credential chain, or ``profile``), cached per Region."""
    import boto3

    session = boto3.Session(profile_name=profile, region_name=region)
    cache: dict[tuple[str, str | None], Any] = {}

    def client(service: str, in_region: str | None = None) -> Any:
        key = (service, in_region or region)
        if key not in cache:
            cache[key] = session.client(service, region_name=key[1])  # type: ignore[call-overload]
        return cache[key]

    return client


def region_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] or None if len(parts) > 3 and arn.startswith("arn:") else None


class AwsConfigReader:
    """``ConfigReader`` over boto3 clients; ``clients(service, region)`` gives one per Region."""

    def __init__(self, clients: ClientFactory) -> None:
        self._clients = clients

    def _call(self, service: str, operation: str, region: str | None = None, **params: Any) -> Any:
        method = getattr(self._clients(service, region), _snake(operation))
        try:
            return method(**params)
        except ClientError as exc:
            raise translate_client_error(exc, operation) from exc

    def _optional(self, operation: str, **params: Any) -> Any:
        """An S3 Get* whose "not configured" error code means None."""
        try:
            return getattr(self._clients("s3", None), _snake(operation))(**params)
        except ClientError as exc:
            if error_code(exc) == _NOT_CONFIGURED[operation]:
                return None
            raise translate_client_error(exc, operation) from exc

    # ---- S3 -----------------------------------------------------------------------------------

    def bucket_region(self, bucket: str) -> str:
        try:
            location = self._clients("s3", None).get_bucket_location(Bucket=bucket).get("LocationConstraint")
        except ClientError as exc:
            if error_code(exc) not in ("AccessDenied", "403"):
                raise translate_client_error(exc, "GetBucketLocation") from exc
            # Another account's bucket: HeadBucket names the Region even when it answers 403
            # (botocore s3 model, HeadBucketOutput.BucketRegion: x-amz-bucket-region).
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            region = headers.get("x-amz-bucket-region")
            if not region:
                region = self._head_bucket_region(bucket)
            return str(region)
        # No constraint means us-east-1; "EU" is the legacy name of eu-west-1 (GetBucketLocation doc).
        return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, str(location))

    def _head_bucket_region(self, bucket: str) -> str:
        try:
            response = self._clients("s3", None).head_bucket(Bucket=bucket)
        except ClientError as exc:
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            if headers.get("x-amz-bucket-region"):
                return str(headers["x-amz-bucket-region"])
            raise translate_client_error(exc, "HeadBucket") from exc
        return str(response.get("BucketRegion") or "us-east-1")

    def bucket_versioning(self, bucket: str) -> str | None:
        return self._call("s3", "GetBucketVersioning", Bucket=bucket).get("Status")

    def replication_configuration(self, bucket: str) -> dict[str, Any] | None:
        response = self._optional("GetBucketReplication", Bucket=bucket)
        return None if response is None else dict(response["ReplicationConfiguration"])

    def object_lock_enabled(self, bucket: str) -> bool:
        response = self._optional("GetObjectLockConfiguration", Bucket=bucket)
        if response is None:
            return False
        return response.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"

    def object_ownership(self, bucket: str) -> str | None:
        response = self._optional("GetBucketOwnershipControls", Bucket=bucket)
        if response is None:
            return None
        rules = response.get("OwnershipControls", {}).get("Rules", [])
        return str(rules[0]["ObjectOwnership"]) if rules else None

    def notification_configuration(self, bucket: str) -> dict[str, Any]:
        response = dict(self._call("s3", "GetBucketNotificationConfiguration", Bucket=bucket))
        response.pop("ResponseMetadata", None)
        return response

    def bucket_policy(self, bucket: str) -> str | None:
        response = self._optional("GetBucketPolicy", Bucket=bucket)
        return None if response is None else str(response["Policy"])

    def head_object(self, bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        try:
            response = dict(self._clients("s3", None).head_object(**params))
        except ClientError as exc:
            if error_code(exc) in _DELETE_MARKER_CODES:
                return {"DeleteMarker": True}
            raise translate_client_error(exc, "HeadObject") from exc
        response.pop("ResponseMetadata", None)
        return response

    def object_tags(self, bucket: str, key: str, version_id: str | None) -> dict[str, str]:
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        tag_set = self._call("s3", "GetObjectTagging", **params).get("TagSet", [])
        return {str(t["Key"]): str(t["Value"]) for t in tag_set}

    # ---- IAM ----------------------------------------------------------------------------------

    def role(self, role_arn: str) -> RoleInfo:
        name = role_arn.rsplit("/", 1)[-1]
        role = self._call("iam", "GetRole", RoleName=name)["Role"]
        document = role.get("AssumeRolePolicyDocument") or {}
        if isinstance(document, str):  # the API returns it URL-encoded; boto3 decodes it to a dict
            document = json.loads(unquote(document))
        return RoleInfo(name=str(role["RoleName"]), arn=str(role["Arn"]), trust_policy=dict(document))

    def simulate(self, request: SimulationRequest) -> list[Simulated]:
        params: dict[str, Any] = {
            "PolicySourceArn": request.role_arn,
            "ActionNames": list(request.actions),
            "ResourceArns": list(request.resources),
        }
        if request.resource_policy:
            # CallerArn is required with a ResourcePolicy when the source is not a user; a role may be
            # given (botocore iam model, SimulatePrincipalPolicyRequest.CallerArn).
            params.update(ResourcePolicy=request.resource_policy, CallerArn=request.role_arn)
            if request.resource_owner:
                params["ResourceOwner"] = f"arn:aws:iam::{request.resource_owner}:root"
        results: list[Simulated] = []
        while True:
            page = self._call("iam", "SimulatePrincipalPolicy", **params)
            for result in page.get("EvaluationResults", []):
                matched = tuple(str(m.get("SourcePolicyId", "")) for m in result.get("MatchedStatements", []))
                results.append(
                    Simulated(
                        action=str(result["EvalActionName"]),
                        resource=str(result.get("EvalResourceName", "*")),
                        decision=str(result["EvalDecision"]),
                        matched_policies=matched,
                        matched_resource_policy=any(
                            m.get("SourcePolicyType") == "resource"
                            for m in result.get("MatchedStatements", [])
                        ),
                    )
                )
            if not page.get("IsTruncated"):
                return results
            params["Marker"] = page["Marker"]

    # ---- KMS ----------------------------------------------------------------------------------

    def describe_key(self, key_id: str, region: str) -> KeyInfo:
        region = region_of_arn(key_id) or region
        metadata = self._call("kms", "DescribeKey", region, KeyId=key_id)["KeyMetadata"]
        return KeyInfo(
            key_id=str(metadata["KeyId"]),
            arn=str(metadata["Arn"]),
            state=str(metadata["KeyState"]),
            region=region,
        )

    def inventory_configurations(self, bucket: str) -> list[dict[str, Any]]:
        """Every page of ListBucketInventoryConfigurations (ContinuationToken / NextContinuationToken,
        botocore s3 model: up to 100 a page); IAM action s3:GetInventoryConfiguration."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"Bucket": bucket}
        while True:
            page = self._call("s3", "ListBucketInventoryConfigurations", **params)
            found += [dict(c) for c in page.get("InventoryConfigurationList", [])]
            if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
                return found
            params["ContinuationToken"] = page["NextContinuationToken"]

    def key_policy(self, key_arn: str, region: str) -> str:
        region = region_of_arn(key_arn) or region
        return str(self._call("kms", "GetKeyPolicy", region, KeyId=key_arn, PolicyName="default")["Policy"])


def _snake(operation: str) -> str:
    out = []
    for index, char in enumerate(operation):
        if char.isupper() and index:
            out.append("_")
        out.append(char.lower())
    return "".join(out)


__all__ = ["AwsConfigReader", "ClientFactory", "boto3_client_factory", "region_of_arn"]
