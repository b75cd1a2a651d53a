"""``ports.BucketEnrollment`` over boto3: the S3 reads of diagnosis (``aws.config``) plus the writes of
enroll, the queue's policy (SQS) and the caller's account (STS).

A bucket without tags answers GetBucketTagging with ``NoSuchTagSet``
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketTagging.html): no tags, not an error.
PutBucketTagging replaces the whole tag set (API_PutBucketTagging), so the caller passes all of it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from replimend.aws.config import AwsConfigReader, region_of_arn
from replimend.aws.errors import error_code, translate_client_error


class AwsBucketEnrollment(AwsConfigReader):
    def bucket_tags(self, bucket: str) -> dict[str, str]:
        try:
            response = self._clients("s3", None).get_bucket_tagging(Bucket=bucket)
        except ClientError as exc:
            if error_code(exc) == "NoSuchTagSet":
                return {}
            raise translate_client_error(exc, "GetBucketTagging") from exc
        return {str(t["Key"]): str(t["Value"]) for t in response.get("TagSet", [])}

    def put_replication_configuration(self, bucket: str, configuration: dict[str, Any]) -> None:
        self._call("s3", "PutBucketReplication", Bucket=bucket, ReplicationConfiguration=configuration)

    def put_notification_configuration(self, bucket: str, configuration: dict[str, Any]) -> None:
        # No SkipDestinationValidation: S3 checks the queue admits the bucket, as enroll did.
        self._call(
            "s3", "PutBucketNotificationConfiguration", Bucket=bucket, NotificationConfiguration=configuration
        )

    def put_bucket_tags(self, bucket: str, tags: dict[str, str]) -> None:
        if not tags:
            self._call("s3", "DeleteBucketTagging", Bucket=bucket)
            return
        tag_set = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        self._call("s3", "PutBucketTagging", Bucket=bucket, Tagging={"TagSet": tag_set})

    def queue_policy(self, queue_arn: str) -> str | None:
        _, _, _, region, account, name = queue_arn.split(":", 5)
        region_name = region_of_arn(queue_arn) or region
        url = self._call("sqs", "GetQueueUrl", region_name, QueueName=name, QueueOwnerAWSAccountId=account)[
            "QueueUrl"
        ]
        attributes = self._call(
            "sqs", "GetQueueAttributes", region_name, QueueUrl=url, AttributeNames=["Policy"]
        ).get("Attributes", {})
        policy = attributes.get("Policy")
        return str(policy) if policy else None

    def account_id(self) -> str:
        return str(self._call("sts", "GetCallerIdentity")["Account"])


__all__ = ["AwsBucketEnrollment"]
