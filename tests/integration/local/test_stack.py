"""local_stack() on real time: what `replimend local up` runs between a user's calls."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from replimend_local.sam import LocalClock
from replimend_local.serve import Ticker
from replimend_local.stack import local_stack


def test_catching_up_with_real_time_fires_the_schedules_that_fell_due() -> None:
    # Given the project's stack whose clock was last moved 16 minutes ago (real time went on)
    started = datetime.now(UTC) - timedelta(minutes=16)
    with local_stack(parameters={"LogLevel": "WARNING"}, clock=LocalClock(started)) as stack:
        # When the stack catches up with the time that passed, as local up's ticker does every second
        stack.catch_up()
        # Then every schedule due on the way fired once per period, in order, and the clock is now
        fired = Counter(i.trigger.split(":", 1)[0] + ":" + i.function_id for i in stack.runtime.invocations)
        assert fired["schedule:RemediateFunction"] == 1  # rate(15 minutes)
        assert fired["schedule:TrackJobsFunction"] == 3  # rate(5 minutes)
        assert all(i.ok for i in stack.runtime.invocations)
        assert abs((stack.runtime.clock.now() - datetime.now(UTC)).total_seconds()) < 5


def test_the_ticker_keeps_delivering_until_stopped() -> None:
    with local_stack(parameters={"LogLevel": "WARNING"}) as stack:
        queue_url = stack.runtime.outputs["FailureQueueUrl"]
        # Given a ticker running, When a message lands on the FailureQueue
        ticker = Ticker(stack, interval=0.1).start()
        try:
            stack.client("sqs").send_message(QueueUrl=queue_url, MessageBody='{"Event": "s3:TestEvent"}')
            deadline = datetime.now(UTC) + timedelta(seconds=20)
            while datetime.now(UTC) < deadline and not any(
                i.function_id == "IngestFunction" for i in stack.runtime.invocations
            ):
                time.sleep(0.1)
        finally:
            ticker.stop()
        # Then ingest ran on it without anyone draining by hand
        assert any(i.function_id == "IngestFunction" and i.ok for i in stack.runtime.invocations)
