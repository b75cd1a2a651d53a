"""The thin handlers wire settings from the environment to the same logic (moto + real clients)."""

from __future__ import annotations

import importlib.util
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from tests.integration.remediation.conftest import ACCOUNT, MANIFESTS, REPORTS, World

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Context:
    function_name: str = "remediate"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:remediate"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def env(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    for name, value in {
        "LEDGER_TABLE": world.settings.ledger_table,
        "LEDGER_INDEX_SHARDS": "4",
        "ACCOUNT_ID": ACCOUNT,
        "MANIFEST_BUCKET": MANIFESTS,
        "REPORT_BUCKET": REPORTS,
        "BATCH_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/replimend-batch",
        "DRY_RUN": "true",
    }.items():
        monkeypatch.setenv(name, value)
    return world


def load_app(name: str) -> ModuleType:
    """functions/<name>/app.py imported afresh, as a Lambda cold start would."""
    spec = importlib.util.spec_from_file_location(
        f"{name}_app_{uuid.uuid4().hex}", ROOT / "functions" / name / "app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scheduled_remediate_in_dry_run_mode_plans_from_the_environment(env: World) -> None:
    lambda_handler = load_app("remediate").lambda_handler

    env.fail("a.txt")
    result = lambda_handler({"source": "schedule"}, Context())
    assert result["dry_run"] is True
    assert result["sources"][0]["planned"] == 1 and result["sources"][0]["jobs"] == []


def test_track_jobs_ignores_events_of_jobs_it_did_not_start(env: World) -> None:
    lambda_handler = load_app("track_jobs").lambda_handler

    event = {
        "source": "aws.s3",
        "detail-type": "AWS Service Event via CloudTrail",
        "detail": {
            "eventName": "JobStatusChanged",
            "serviceEventDetails": {"jobId": "other", "status": "Complete"},
        },
    }
    result = lambda_handler(event, Context(function_name="track_jobs"))
    assert result["jobs"] == [] and result["ignored"]


def test_track_jobs_schedule_reconciles_with_nothing_active(env: World) -> None:
    lambda_handler = load_app("track_jobs").lambda_handler

    assert lambda_handler({"source": "reconcile"}, Context(function_name="track_jobs")) == {
        "jobs": [],
        "ignored": [],
        "errors": [],
    }
