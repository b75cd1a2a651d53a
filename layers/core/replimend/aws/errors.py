"""The one translator from botocore's ClientError to replimend's errors, used by every AWS adapter.

  ConditionalCheckFailedException   → ConflictError (a conditional write lost a race)
  a code in NOT_FOUND_CODES          → NotFoundError
  anything else                      → AwsCallError(operation, code, message)

Adapters with a documented special case handle it before translating (``aws.s3.S3Objects``: 405
for a delete marker, other HEAD errors as "could not verify").
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from replimend.errors import AwsCallError, ConflictError, NotFoundError, ReplimendError

#: Error codes meaning "the thing named does not exist", from the error shapes of botocore's
#: service models (botocore 1.43, ``session.get_service_model(name)``) plus what AWS documents
#: outside them:
#: - s3: NoSuchBucket, NoSuchKey, NoSuchUpload (modelled, HTTP 404); NoSuchVersion (S3 REST error
#:   codes list, not modelled). HEAD requests have no body: botocore then reports the HTTP status
#:   as the code ("404"), and some clients "NotFound".
#: - s3control: NotFoundException (DescribeJob's modelled error); NoSuchJobException (the Batch
#:   Operations troubleshooting page's name for it: aws-facts.md §10) and NoSuchJob (seen from
#:   older endpoints): all three are treated as not found.
#: - dynamodb: ResourceNotFoundException (table or index missing), TableNotFoundException.
#: - iam: NoSuchEntity (the wire code of the NoSuchEntityException shape, HTTP 404).
NOT_FOUND_CODES: frozenset[str] = frozenset(
    {
        # s3
        "NoSuchBucket",
        "NoSuchKey",
        "NoSuchVersion",
        "NoSuchUpload",
        "NotFound",
        "404",
        # s3control
        "NotFoundException",
        "NoSuchJobException",
        "NoSuchJob",
        # dynamodb
        "ResourceNotFoundException",
        "TableNotFoundException",
        # iam
        "NoSuchEntity",
        "NoSuchEntityException",
    }
)

#: DynamoDB's answer to a failed ConditionExpression (PutItem/UpdateItem/DeleteItem).
_CONFLICT_CODES = frozenset({"ConditionalCheckFailedException"})


def error_code(exc: ClientError) -> str:
    """The error code of a ClientError ("" when the response has none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate_client_error(exc: ClientError, operation: str) -> ReplimendError:
    """The replimend error for a failed AWS call; the caller raises it ``from exc``."""
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", ""))
    if code in _CONFLICT_CODES:
        return ConflictError(f"{operation}: {message or code}")
    if code in NOT_FOUND_CODES:
        return NotFoundError(f"{operation}: {code}: {message}".rstrip(": "))
    return AwsCallError(operation, code or "Unknown", message)
