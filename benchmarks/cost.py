"""Prices, and the USD of a million failures from the DynamoDB units the cost benchmark measured.

Prices are the list prices restated in /work/shared/reference/aws-facts.md §8 (us-east-1, third-party
restatements of the AWS pricing pages): to be confirmed on the live pricing pages. The units come
from benchmarks/cost_bench.py (every DynamoDB request of a failure's lifecycle, billed by
benchmarks/dynamodb_meter.py); this replaces the earlier estimate that assumed one unit per call.
"""

from __future__ import annotations

import math
from typing import Any

PRICES_USD = {
    "batch_operations_per_job": 0.25,
    "batch_operations_per_million_objects": 1.00,
    "dynamodb_per_million_write_request_units": 0.625,
    "dynamodb_per_million_read_request_units": 0.125,
}
PRICE_SOURCE = (
    "list prices from /work/shared/reference/aws-facts.md §8 (us-east-1, third-party restatements of "
    "the AWS pricing pages): to be confirmed on the live pricing pages"
)
MILLION = 1_000_000


def batch_operations_usd(objects: int, max_objects_per_job: int) -> float:
    """$0.25 per job + $1.00 per million objects; jobs = ceil(objects / MaxObjectsPerJob)."""
    jobs = math.ceil(objects / max_objects_per_job)
    return (
        jobs * PRICES_USD["batch_operations_per_job"]
        + objects / MILLION * PRICES_USD["batch_operations_per_million_objects"]
    )


def lifecycle_usd(
    *, wru_per_failure: float, rru_per_failure: float, max_objects_per_job: int
) -> dict[str, Any]:
    """USD of a million failures: DynamoDB units at on-demand prices + Batch Operations."""
    lines = {
        "dynamodb_writes": wru_per_failure * PRICES_USD["dynamodb_per_million_write_request_units"],
        "dynamodb_reads": rru_per_failure * PRICES_USD["dynamodb_per_million_read_request_units"],
        "batch_operations": batch_operations_usd(MILLION, max_objects_per_job),
    }
    return {
        **{name: round(value, 4) for name, value in lines.items()},
        "total": round(sum(lines.values()), 4),
    }
