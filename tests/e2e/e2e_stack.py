"""The deployed local stack for end-to-end tests, and the bucket setups an operator would make."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from replimend_local.embedded import EmbeddedAws
from replimend_local.sam import LocalRuntime
from replimend_local.stack import LocalStack
from tests.moto_server import replication_role_statements

SOURCE_REGION = "us-east-1"
DESTINATION_REGION = "us-west-2"
S3_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["s3.amazonaws.com", "batchoperations.s3.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


def replication_rule(rule_id: str, destination: str, rule_filter: dict[str, Any]) -> dict[str, Any]:
    """A replication rule with metrics on (S3 sends failure events only then) and no delete markers."""
    return {
        "ID": rule_id,
        "Priority": 1,
        "Status": "Enabled",
        "Filter": rule_filter,
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {
            "Bucket": f"arn:aws:s3:::{destination}",
            "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
        },
    }


@dataclass
class Stack:
    """The deployed local stack (``local_stack()``) and the bucket setups an operator makes in it."""

    local: LocalStack

    @property
    def aws(self) -> EmbeddedAws:
        return self.local.aws

    @property
    def runtime(self) -> LocalRuntime:
        return self.local.runtime

    def client(self, service: str, region: str = SOURCE_REGION) -> Any:
        return self.aws.client(service, region)

    @property
    def ledger(self) -> Any:
        return self.local.ledger

    def replicated_bucket_pair(
        self,
        name: str,
        *,
        allow_replicate: bool = True,
        destination_versioning: str = "Enabled",
        admit_by_hand: bool = False,
    ) -> tuple[str, str, str]:
        """An enrolled source bucket replicating to a us-west-2 destination: (source, destination, role).
        ``admit_by_hand``: the bucket is not in the stack's SourceBucketArns, so the operator adds it to
        the FailureQueue's policy by hand first (S3 refuses a notification the queue does not admit)."""
        source, destination, role = f"{name}-src", f"{name}-dst", f"{name}-replication"
        s3_source, s3_destination = self.client("s3"), self.client("s3", DESTINATION_REGION)
        iam = self.client("iam")
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(S3_TRUST))
        destination_actions = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
        if not allow_replicate:
            destination_actions = ["s3:ReplicateDelete"]
        iam.put_role_policy(
            RoleName=role,
            PolicyName="replication",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": replication_role_statements(
                        source, f"arn:aws:s3:::{destination}/*", destination_actions
                    ),
                }
            ),
        )
        s3_destination.create_bucket(
            Bucket=destination, CreateBucketConfiguration={"LocationConstraint": DESTINATION_REGION}
        )
        s3_destination.put_bucket_versioning(
            Bucket=destination, VersioningConfiguration={"Status": "Enabled"}
        )
        s3_source.create_bucket(Bucket=source)
        s3_source.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Enabled"})
        s3_source.put_bucket_replication(
            Bucket=source,
            ReplicationConfiguration={
                "Role": f"arn:aws:iam::{self.aws.account_id}:role/{role}",
                "Rules": [replication_rule("all", destination, {})],
            },
        )
        if admit_by_hand:
            self.admit_in_failure_queue_policy(source)
        s3_source.put_bucket_notification_configuration(
            Bucket=source,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": self.runtime.attribute("FailureQueue", "Arn"),
                        "Events": ["s3:Replication:*"],
                    }
                ]
            },
        )
        if destination_versioning != "Enabled":
            s3_destination.put_bucket_versioning(
                Bucket=destination, VersioningConfiguration={"Status": destination_versioning}
            )
        return source, destination, role

    def admit_in_failure_queue_policy(self, source: str) -> None:
        """Add the statement AWS documents for S3 event notifications, for ``source``, to the queue policy."""
        sqs = self.client("sqs")
        url = self.runtime.attribute("FailureQueue", "QueueUrl")
        policy = json.loads(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
        )
        policy["Statement"].append(
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": self.runtime.attribute("FailureQueue", "Arn"),
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{source}"}},
            }
        )
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
