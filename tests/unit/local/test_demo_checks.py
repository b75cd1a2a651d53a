"""The demo's checks are computed from what happened, and fail when it went wrong."""

from __future__ import annotations

from replimend_local.demo.checks import DemoObject, crowded_sources, left_in_job, stuck_pending_as_expected
from replimend_local.demo.scenarios import SCENARIOS, ScenarioNames


def test_a_pass_that_sent_createjob_two_jobs_for_one_source_is_crowded() -> None:
    passes = [
        {"pass": 1, "created_jobs_per_source": {"a-src": 1, "b-src": 1}},
        {"pass": 2, "created_jobs_per_source": {}},
        {"pass": 3, "created_jobs_per_source": {"a-src": 2}},
    ]
    assert crowded_sources(passes) == [3]
    assert crowded_sources(passes[:2]) == []


def test_objects_left_in_job_are_found() -> None:
    (scenario,) = [s for s in SCENARIOS if s.slug == "unversioned"]
    names = ScenarioNames(scenario.slug, "123456789012")
    done = DemoObject(scenario, names, "k", "v1", final_state="REPLICATED")
    stuck = DemoObject(scenario, names, "k", "v2", final_state="IN_JOB")
    assert left_in_job([done, stuck]) == [stuck]
    assert done.destination_bucket == names.destination_bucket


def test_multi_destination_scenarios_target_each_destination_their_rules_select() -> None:
    (two, apart) = [s for s in SCENARIOS if s.slug in ("two-dest", "fixed-apart")]
    names = ScenarioNames(two.slug, "123456789012")
    assert two.targets(names, "photos/x.jpg") == [
        (names.destination("ok"), None, None),
        (names.destination("broken"), "DstBucketUnversioned", 1),
    ]
    names = ScenarioNames(apart.slug, "123456789012")
    assert apart.targets(names, "photos/x.jpg") == [(names.destination("second"), "DstBucketUnversioned", 2)]
    assert apart.targets(names, "data/x.json") == [(names.destination("first"), "DstBucketUnversioned", 1)]
    # the healthy destination's object never enters the ledger; a broken one is REPLICATED after repair
    assert two.allowed_final("k", remediation=True, expected_reason=None) == {"NOT_RECORDED"}
    assert two.allowed_final("k", remediation=True, expected_reason="DstBucketUnversioned") == {"REPLICATED"}


def test_stuck_pending_check_needs_the_report_the_resume_and_the_resolution() -> None:
    done = {
        "stuck": 3,
        "incident": "StuckPending",
        "resumed_completed": 3,
        "stuck_after_resume": 0,
        "incident_fixed": True,
    }
    assert stuck_pending_as_expected({"p": done}, {"p": 3})
    assert not stuck_pending_as_expected({}, {"p": 3})  # never scanned
    assert not stuck_pending_as_expected({"p": {**done, "stuck": 2}}, {"p": 3})
    assert not stuck_pending_as_expected({"p": {**done, "incident": None}}, {"p": 3})
    assert not stuck_pending_as_expected({"p": {**done, "resumed_completed": 0}}, {"p": 3})
    assert not stuck_pending_as_expected({"p": {**done, "stuck_after_resume": 3}}, {"p": 3})
    assert not stuck_pending_as_expected({"p": {**done, "incident_fixed": False}}, {"p": 3})
