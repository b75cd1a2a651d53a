"""The backfill function in the local SAM runtime: deployed from template.yaml with its ScheduleV2
event, fired by the clock, and run on demand against the embedded Batch Operations."""

from __future__ import annotations

from collections import Counter

from replimend_local.stack import local_stack


def test_the_backfill_schedule_fires_daily_and_an_on_demand_run_answers() -> None:
    with local_stack(parameters={"LogLevel": "WARNING"}) as stack:
        # When a day passes
        stack.runtime.advance(days=1, minutes=1)
        fired = Counter(i.function_id for i in stack.runtime.invocations if i.trigger.startswith("schedule"))
        # Then the daily schedule ran backfill once, without error
        assert fired["BackfillFunction"] == 1
        [run] = [i for i in stack.runtime.invocations if i.function_id == "BackfillFunction"]
        assert run.ok, run
        # And an on-demand dry run of a bucket that is not enrolled answers per source
        result = stack.runtime.invoke("BackfillFunction", {"bucket": "not-a-bucket", "dry_run": True})
        assert result["dry_run"] is True and result["sources"][0]["source_bucket"] == "not-a-bucket"
        assert result["sources"][0]["outcome"] == "failed"


def test_backfill_enabled_false_leaves_the_schedule_disabled() -> None:
    with local_stack(parameters={"LogLevel": "WARNING", "BackfillEnabled": "false"}) as stack:
        stack.runtime.advance(days=1, minutes=1)
        assert not [i for i in stack.runtime.invocations if i.function_id == "BackfillFunction"]
        # while the other schedules ran
        assert any(i.function_id == "TrackJobsFunction" for i in stack.runtime.invocations)
