"""The project's own errors. Adapters translate botocore ClientError into these."""


class ReplimendError(Exception):
    """Base class of every error replimend raises on purpose."""


class ConfigurationError(ReplimendError):
    """Settings or deployment wiring are wrong (missing env var, bad value)."""


class MalformedEventError(ReplimendError):
    """An event document could not be parsed."""


class ConflictError(ReplimendError):
    """A conditional write lost a race: the item changed since it was read.

    ``current`` is what the store holds now when it said so (DynamoDB's
    ReturnValuesOnConditionCheckFailure=ALL_OLD), so the caller can re-decide without a read.
    """

    def __init__(self, message: str, current: object | None = None) -> None:
        super().__init__(message)
        self.current = current


class NotFoundError(ReplimendError):
    """A ledger item, S3 object or job does not exist."""


class AwsCallError(ReplimendError):
    """An AWS call failed for a reason the caller cannot fix by retrying at once."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation} failed: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message
