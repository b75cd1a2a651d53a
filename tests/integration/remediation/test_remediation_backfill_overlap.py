"""Remediation and backfill never run two jobs at once for one source: a pass leaves a source alone
while a backfill job of it is active, and plans it again once that job has ended."""

from __future__ import annotations

from replimend.models import JobRecord
from tests.integration.remediation.conftest import SOURCE, World


def test_a_source_with_an_active_backfill_job_waits_for_the_next_pass(world: World) -> None:
    # Given a due failure of a source whose backfill job is running
    world.fail("a.txt")
    backfill = JobRecord("bf-1", SOURCE, None, "Active", "bf-token", 0, kind="backfill", region="us-east-1")
    world.ledger.create_job(backfill)
    # When a pass runs / Then it starts nothing for that source and says which job holds it
    [source] = world.remediation().run().sources
    assert source.held_by_backfill == ["bf-1"] and source.planned == 0 and source.jobs == []
    assert world.calls["s3-control.CreateJob"] == 0
    # And once the backfill job has ended, the next pass plans the source
    world.ledger.update_job(world.ledger.get_job("bf-1") or backfill, status="Complete")
    world.expect_create_job("remediation-1")
    [again] = world.remediation().run().sources
    assert again.held_by_backfill == [] and again.jobs == ["remediation-1"]
