"""End-to-end fixtures: the embedded AWS (moto server + emulators) and template.yaml deployed into it
by the local runtime, with the real handlers wired to their event sources (``local_stack()``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from replimend_local.stack import local_stack
from tests.e2e.e2e_stack import Stack


@pytest.fixture
def stack_factory() -> Iterator[Callable[..., Stack]]:
    """Start the embedded AWS and deploy template.yaml (with parameter overrides) into it; the test's
    own calls live at the stack's clock too, like the handlers'."""
    with ExitStack() as started:

        def start(**parameters: Any) -> Stack:
            return Stack(
                started.enter_context(local_stack(stack_name="replimend-e2e", parameters=parameters))
            )

        yield start


@pytest.fixture
def stack(stack_factory: Callable[..., Stack]) -> Stack:
    # Enrolled like an operator would: the stack knows its source buckets (queue policy, batch role)
    return stack_factory(LogLevel="WARNING", SourceBucketArns="arn:aws:s3:::e2e-*-src")
