"""SQS partial batch responses: one failed message is retried alone, never the whole batch.

With ``ReportBatchItemFailures`` on the event source mapping, the function returns the IDs of the
messages it could not process as ``{"batchItemFailures": [{"itemIdentifier": <messageId>}]}``; Lambda
deletes the others and they stay processed, while the failed ones become visible again after the
visibility timeout and, after maxReceiveCount receives, go to the queue's DLQ. An empty list means
every message succeeded.
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html

This is what Powertools' BatchProcessor does for SQS; it is written here because importing that
utility also builds Powertools' pydantic models for every event source (about 85 ms of the ingest
function's cold start, measured with `python -X importtime` in .venv-bench).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from replimend.errors import ReplimendError
from replimend.observability import logger


class BatchFailedError(ReplimendError):
    """Every message of the batch failed: the invocation fails, so Lambda's Errors metric shows it."""


def process_sqs_batch(event: Mapping[str, Any], handle: Callable[[str, str], None]) -> dict[str, Any]:
    """Call ``handle(message_id, body)`` for each SQS record; the partial batch response.

    An exception from one message is logged and reported for that message only. A record without a
    message ID cannot be named in the response, so it fails the whole batch (SQS retries it all).
    """
    records = event.get("Records")
    if not isinstance(records, list):
        raise BatchFailedError("the event has no Records list: not an SQS batch")
    failures: list[dict[str, str]] = []
    for record in records:
        message_id = record.get("messageId") if isinstance(record, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise BatchFailedError("an SQS record without a messageId cannot be reported alone")
        body = record.get("body")
        try:
            if not isinstance(body, str):
                raise ReplimendError(f"the SQS record's body is {type(body).__name__}, not a string")
            handle(message_id, body)
        except ReplimendError as exc:  # already logged and counted where it was raised
            logger.info(
                "message reported in batchItemFailures", extra={"message_id": message_id, "error": str(exc)}
            )
            failures.append({"itemIdentifier": message_id})
        except Exception:  # a bug or an unexpected AWS error: still this message's failure alone
            logger.exception(
                "message failed unexpectedly; reported in batchItemFailures", extra={"message_id": message_id}
            )
            failures.append({"itemIdentifier": message_id})
    if records and len(failures) == len(records):
        raise BatchFailedError(f"all {len(records)} messages of the batch failed")
    return {"batchItemFailures": failures}
