"""One translator of botocore ClientError into the project's errors (placeholder until the adapters move)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from replimend.errors import AwsCallError, ConflictError, NotFoundError, ReplimendError

NOT_FOUND_CODES = frozenset(
    {
        "NoSuchKey",
        "NoSuchVersion",
        "NoSuchBucket",
        "NoSuchJob",
        "NoSuchJobException",
        "NotFound",
        "404",
        "ResourceNotFoundException",
        "NoSuchEntity",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def translate_client_error(exc: ClientError, operation: str) -> ReplimendError:
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", exc))
    if code == "ConditionalCheckFailedException":
        return ConflictError(f"{operation}: condition failed ({message})")
    if code in NOT_FOUND_CODES:
        return NotFoundError(f"{operation}: {code}: {message}")
    return AwsCallError(operation, code, message)
