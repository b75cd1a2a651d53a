"""S3's check of a bucket's notification destinations when its notification configuration is saved
(moto 5.2.5 saves any configuration whose ARNs are well formed).

PutBucketNotificationConfiguration (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html):
"After Amazon S3 receives this request, it first verifies that any Amazon Simple Notification Service
(Amazon SNS) or Amazon Simple Queue Service (Amazon SQS) destination exists, and that the bucket owner
has permission to publish to it by sending a test notification. In the case of Lambda destinations,
Amazon S3 verifies that the Lambda function permissions grant Amazon S3 permission to invoke the
function from the Amazon S3 bucket." A destination that fails makes the request fail with
``InvalidArgument`` "Unable to validate the following destination configurations" (the message the
S3 user guide quotes, https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-to-enable-disable-notification-intro.html),
and nothing is saved. ``SkipDestinationValidation`` (botocore's s3 model,
PutBucketNotificationConfigurationRequest, header ``x-amz-skip-destination-validation``: "Skips
validation of Amazon SQS, Amazon SNS, and Lambda destinations") turns the check off.

"Permission" is the destination's resource policy as S3's service principal sees it, with the
condition keys AWS's own example policies use ("Granting permissions to publish event notification
messages to a destination",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html):
``aws:SourceArn`` (the bucket's ARN) and ``aws:SourceAccount`` (the bucket owner), evaluated by
:mod:`replimend_local.iam`. EventBridge delivery (``EventBridgeConfiguration``) names no destination
and is not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from replimend_local import hooks
from replimend_local.iam import Principal, SourcedPolicy, evaluate, parse_policy_document

INVALID_ARGUMENT = "InvalidArgument"
UNABLE_TO_VALIDATE = "Unable to validate the following destination configurations"
S3_SERVICE_PRINCIPAL = "s3.amazonaws.com"

# (configuration list, ARN field, action S3 needs on the destination)
_DESTINATION_KINDS = (
    ("QueueConfigurations", "QueueArn", "sqs:SendMessage"),
    ("TopicConfigurations", "TopicArn", "sns:Publish"),
    ("LambdaFunctionConfigurations", "LambdaFunctionArn", "lambda:InvokeFunction"),
)
_NOT_ALLOWED = {
    "sqs:SendMessage": "Permissions on the destination queue do not allow S3 to publish notifications "
    "from this bucket",
    "sns:Publish": "Permissions on the destination topic do not allow S3 to publish notifications from "
    "this bucket",
    "lambda:InvokeFunction": "Permissions on the destination function do not allow S3 to invoke it for "
    "this bucket",
}


@dataclass(frozen=True)
class DestinationProblem:
    """A destination S3 could not validate, and why."""

    arn: str
    reason: str


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class NotificationDestinations:
    """Validates the destinations of notification configurations against the emulated account."""

    def __init__(self, endpoint_url: str, region: str, account_id: str) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self._client = hooks.PlainClients(endpoint_url, region)

    # --- the check ---------------------------------------------------------------------------------

    def problems(self, bucket: str, configuration: Mapping[str, Any]) -> list[DestinationProblem]:
        """Every destination of ``configuration`` that S3 would refuse for ``bucket``, in order."""
        found: list[DestinationProblem] = []
        for kind, arn_field, action in _DESTINATION_KINDS:
            for entry in configuration.get(kind) or []:
                arn = str(entry.get(arn_field) or "")
                reason = self._problem(bucket, arn, action)
                if reason is not None:
                    found.append(DestinationProblem(arn, reason))
        return found

    def _problem(self, bucket: str, arn: str, action: str) -> str | None:
        parts = arn.split(":", 6)
        if len(parts) < 6 or not parts[3]:
            return "The destination ARN is not valid"
        region = parts[3]
        try:
            policy_text = self._policy(action, arn, region)
        except LookupError as missing:
            return str(missing)
        if policy_text is None or not self._allows(policy_text, action, arn, bucket):
            return _NOT_ALLOWED[action]
        return None

    def _policy(self, action: str, arn: str, region: str) -> str | None:
        """The destination's resource policy (None: it has none); LookupError when it does not exist."""
        if action == "sqs:SendMessage":
            _, _, _, _, account, name = arn.split(":", 5)
            sqs = self._client("sqs", region)
            try:
                url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
            except ClientError as error:
                if "NonExistentQueue" in _error_code(error) or "QueueDoesNotExist" in _error_code(error):
                    raise LookupError("The destination queue does not exist") from error
                raise
            return (attributes.get("Attributes") or {}).get("Policy")
        if action == "sns:Publish":
            try:
                attributes = self._client("sns", region).get_topic_attributes(TopicArn=arn)["Attributes"]
            except ClientError as error:
                if _error_code(error) == "NotFound":
                    raise LookupError("The destination topic does not exist") from error
                raise
            return attributes.get("Policy")
        try:
            return str(self._client("lambda", region).get_policy(FunctionName=arn)["Policy"])
        except ClientError as error:
            if _error_code(error) != "ResourceNotFoundException":
                raise
        try:
            self._client("lambda", region).get_function(FunctionName=arn)
        except ClientError as error:
            raise LookupError("The destination function does not exist") from error
        return None  # the function exists but has no resource policy

    def _allows(self, policy_text: str, action: str, arn: str, bucket: str) -> bool:
        policy = SourcedPolicy("destination-policy", "resource", parse_policy_document(policy_text))
        context = {
            "aws:SourceArn": [f"arn:aws:s3:::{bucket}"],
            "aws:SourceAccount": [self.account_id],
            "aws:SecureTransport": ["true"],  # S3 delivers over HTTPS
        }
        decision = evaluate(
            [policy], action, arn, principal=Principal.service(S3_SERVICE_PRINCIPAL), context=context
        )
        return decision.allowed

    # --- on the API --------------------------------------------------------------------------------

    def check_request(self, params: Mapping[str, Any]) -> list[DestinationProblem]:
        """What S3 refuses in a PutBucketNotificationConfiguration request ([] when it accepts it)."""
        if params.get("SkipDestinationValidation"):
            return []
        configuration = params.get("NotificationConfiguration") or {}
        return self.problems(str(params.get("Bucket") or ""), configuration)

    def handlers(self) -> list[hooks.Hook]:
        """Hooks that refuse, as S3 does, a configuration whose destinations do not validate."""
        return [
            hooks.capture_params("s3"),
            hooks.Hook(
                "before-call.s3.PutBucketNotificationConfiguration",
                self._before_put,
                "notifications.validate-destinations",
            ),
        ]

    def _before_put(self, context: dict[str, Any], **_: Any) -> Any:
        found = self.check_request(hooks.api_params(context))
        if not found:
            return None  # moto saves it (and sends its test event)
        return hooks.emulated_response({"Error": error_document(found)}, 400)


def error_document(found: list[DestinationProblem]) -> dict[str, str]:
    """S3's error for destinations it could not validate: the code and message, then each destination
    and its reason as numbered ArgumentName/ArgumentValue pairs."""
    error = {"Code": INVALID_ARGUMENT, "Message": UNABLE_TO_VALIDATE, "Type": "Sender"}
    for number, problem in enumerate(found, start=1):
        error[f"ArgumentName{number}"] = problem.arn
        error[f"ArgumentValue{number}"] = problem.reason
    return error
