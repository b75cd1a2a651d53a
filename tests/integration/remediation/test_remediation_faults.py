"""Remediation when S3 Batch Operations refuses: CreateJob throttled or failing. The objects stay
due (never IN_JOB without a job), the failure is logged and counted, and the next pass starts one job."""

from __future__ import annotations

import logging

import pytest

from replimend.models import ObjectState
from replimend.wiring import publish_remediation_metrics
from tests.integration.remediation.conftest import MANIFESTS, World
from tests.integration.remediation.test_remediation_crash_safety import assert_all_in_one_job

KEYS = [f"refused/{n}.bin" for n in range(5)]


class Metrics:
    """Collects what publish_remediation_metrics adds (the handler's Powertools Metrics)."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def add_metric(self, *, name: str, unit: object, value: float) -> None:
        self.values[name] = self.values.get(name, 0) + value


# CreateJob's errors in botocore's s3control service model (2018-08-20): TooManyRequestsException,
# BadRequestException, IdempotencyException (tested in test_remediation_crash_safety), InternalServiceException.
@pytest.mark.parametrize("code", ["TooManyRequestsException", "InternalServiceException"])
def test_a_refused_create_job_loses_nothing_and_the_next_pass_starts_one_job(
    world: World, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    versions = {key: world.fail(key) for key in KEYS}
    world.stubber.add_client_error("create_job", service_error_code=code, http_status_code=400)
    # Given a pass whose CreateJob is refused
    with caplog.at_level(logging.INFO):
        result = world.remediation().run()
    # Then the source's error is reported, logged and counted, and no object is in a job
    assert any(code in error for error in result.sources[0].errors)
    assert any(r.getMessage() == "remediation of source failed" for r in caplog.records)
    metrics = Metrics()
    publish_remediation_metrics(result, metrics)
    assert metrics.values["RemediationErrors"] == 1 and metrics.values["JobsStarted"] == 0
    for key, version in versions.items():
        assert world.state_of(key, version) is ObjectState.FAILED
    assert world.ledger.list_jobs() == []
    # and the pass left its marker, so the next pass first looks for the job by its tag
    assert world.s3.list_objects_v2(Bucket=MANIFESTS, Prefix="pending/")["KeyCount"] == 1
    # When the next pass runs and S3 lists no such job
    world.expect_list_jobs()
    world.expect_create_job("job-1")
    world.remediation().run()
    # Then one job holds every object, sent with the same token as the refused request
    first, second = world.create_job_requests
    assert first["ClientRequestToken"] == second["ClientRequestToken"]
    assert_all_in_one_job(world, versions, "job-1")
