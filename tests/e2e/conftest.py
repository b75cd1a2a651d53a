"""End-to-end fixtures: the embedded AWS (moto server + emulators) and template.yaml deployed into it
by the local runtime, with the real handlers wired to their event sources."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from replimend_local.embedded import EmbeddedAws
from replimend_local.runner import LocalRuntime
from tests.e2e.e2e_stack import Stack


@pytest.fixture
def stack_factory() -> Iterator[Callable[..., Stack]]:
    """Start the embedded AWS and deploy template.yaml (with parameter overrides) into it."""
    started: list[tuple[EmbeddedAws, LocalRuntime]] = []

    def start(**parameters: Any) -> Stack:
        aws = EmbeddedAws().start()
        runtime = LocalRuntime(stack_name="replimend-e2e", parameters=parameters, account_id=aws.account_id)
        started.append((aws, runtime))
        runtime.deploy()
        if aws.batch_operations is not None:
            runtime.add_poller(aws.batch_operations.process_jobs)
        # the test's own calls live at the runtime's clock too, like the handlers' (runtime.close ends it)
        runtime.simulated_time.enter()
        return Stack(aws, runtime)

    yield start
    for aws, runtime in reversed(started):
        runtime.close()
        aws.stop()


@pytest.fixture
def stack(stack_factory: Callable[..., Stack]) -> Stack:
    # Enrolled like an operator would: the stack knows its source buckets (queue policy, batch role)
    return stack_factory(LogLevel="WARNING", SourceBucketArns="arn:aws:s3:::e2e-*-src")
