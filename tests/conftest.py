"""Test-wide safety: fake credentials and a region, so nothing can reach a real AWS endpoint."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_SERVICE_NAME": "replimend",
        "POWERTOOLS_METRICS_NAMESPACE": "Replimend",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


@pytest.fixture(autouse=True)
def _no_metrics_left_by_another_test() -> Iterator[None]:
    """Powertools' Metrics keeps one metric set per process: a test (or benchmark) that adds metrics
    without flushing them would otherwise be counted in the next test's EMF document."""
    from replimend.observability import metrics

    metrics.clear_metrics()
    yield


def load_event(name: str) -> Any:
    """An event document from events/ (the same files `sam local invoke` would use)."""
    return json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))


@pytest.fixture
def ledger_table_name() -> str:
    return "replimend-ledger-test"


@pytest.fixture
def ledger_table(ledger_table_name: str) -> Iterator[Any]:
    """The Ledger table exactly as template.yaml declares it, in moto's mock_aws."""
    import boto3
    from moto import mock_aws

    from replimend_local.sam_template import load_template, table_create_kwargs

    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        table = dynamodb.create_table(**table_create_kwargs(load_template(), "Ledger", ledger_table_name))
        table.wait_until_exists()
        yield table
