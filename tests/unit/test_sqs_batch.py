"""SQS partial batch responses: each failed message is reported alone, by its messageId."""

from __future__ import annotations

from typing import Any

import pytest

from replimend.errors import MalformedEventError
from replimend.ingest.sqs_batch import BatchFailedError, process_sqs_batch


def sqs_event(*bodies: Any) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": f"m-{index}", "body": body, "eventSource": "aws:sqs"}
            for index, body in enumerate(bodies)
        ]
    }


def test_every_message_handled_means_an_empty_failure_list() -> None:
    seen: list[tuple[str, str]] = []
    response = process_sqs_batch(
        sqs_event("a", "b"), lambda message_id, body: seen.append((message_id, body))
    )
    assert response == {"batchItemFailures": []}
    assert seen == [("m-0", "a"), ("m-1", "b")]


@pytest.mark.parametrize(
    "error",
    [MalformedEventError("not JSON"), RuntimeError("a bug"), KeyError("x")],
    ids=["project error", "unexpected error", "key error"],
)
def test_a_failing_message_is_reported_alone_and_the_rest_are_handled(error: Exception) -> None:
    handled: list[str] = []

    def handle(message_id: str, body: str) -> None:
        if body == "poison":
            raise error
        handled.append(message_id)

    response = process_sqs_batch(sqs_event("ok", "poison", "ok"), handle)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert handled == ["m-0", "m-2"]


def test_a_body_that_is_not_a_string_fails_that_message_only() -> None:
    response = process_sqs_batch(sqs_event("ok", {"not": "a string"}), lambda message_id, body: None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_a_batch_where_every_message_fails_fails_the_invocation() -> None:
    def handle(message_id: str, body: str) -> None:
        raise MalformedEventError("no")

    with pytest.raises(BatchFailedError, match="all 2 messages"):
        process_sqs_batch(sqs_event("x", "y"), handle)


@pytest.mark.parametrize(
    "event",
    [{}, {"Records": "nope"}, {"Records": [{"body": "x"}]}, {"Records": ["not a record"]}],
    ids=["no records", "records not a list", "no message id", "record not an object"],
)
def test_a_batch_that_cannot_name_its_failures_fails_whole(event: dict[str, Any]) -> None:
    with pytest.raises(BatchFailedError):
        process_sqs_batch(event, lambda message_id, body: None)


def test_an_empty_batch_succeeds() -> None:
    assert process_sqs_batch({"Records": []}, lambda message_id, body: None) == {"batchItemFailures": []}
