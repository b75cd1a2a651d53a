"""Benchmark 4: the AWS bill of 10,000 failures, from the call counts the benchmarks measured.

Prices are the list prices restated in /work/shared/reference/aws-facts.md §8 (us-east-1, third-party
restatements of the AWS pricing pages): to be confirmed on the live pricing pages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

PRICES_USD = {
    "batch_operations_per_job": 0.25,
    "batch_operations_per_million_objects": 1.00,
    "s3_get_class_per_thousand_requests": 0.0004,
    "dynamodb_per_million_write_request_units": 0.625,
    "dynamodb_per_million_read_request_units": 0.125,
}
PRICE_SOURCE = (
    "list prices from /work/shared/reference/aws-facts.md §8 (us-east-1, third-party restatements of "
    "the AWS pricing pages): to be confirmed on the live pricing pages"
)
_WRITES = ("dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem")
_GET_CLASS = ("s3.HeadObject", "s3.GetObject", "s3.GetBucketLocation")


def scaled(calls: Mapping[str, float], factor: float) -> dict[str, float]:
    return {name: count * factor for name, count in calls.items()}


def dynamodb_request_units(calls: Mapping[str, float]) -> dict[str, float]:
    """WRU/RRU under the stated assumption: every item ≤ 1 KB written, ≤ 4 KB read strongly.

    Query pages are counted as one RRU each, a floor (a page of many items reads more).
    """
    writes = sum(calls.get(name, 0) for name in _WRITES)
    reads = calls.get("dynamodb.GetItem", 0) + calls.get("dynamodb.Query", 0)
    return {"write_request_units": writes, "read_request_units": reads}


def cost_per_10000_failures(
    *,
    ingest_calls_per_event: Mapping[str, float],
    remediation_calls: Mapping[str, int],
    remediation_failures: int,
    max_objects_per_job: int,
) -> dict[str, Any]:
    """Ingest of 10,000 new failure events + one remediation pass over them, in USD."""
    failures = 10_000
    ingest = scaled(ingest_calls_per_event, failures)
    remediation = scaled(remediation_calls, failures / remediation_failures)
    jobs_for_10000 = math.ceil(failures / max_objects_per_job)
    ingest_units = dynamodb_request_units(ingest)
    remediation_units = dynamodb_request_units(remediation)
    wru = ingest_units["write_request_units"] + remediation_units["write_request_units"]
    rru = ingest_units["read_request_units"] + remediation_units["read_request_units"]
    get_class = sum(remediation.get(name, 0) for name in _GET_CLASS)
    lines = {
        "batch_operations_jobs": jobs_for_10000 * PRICES_USD["batch_operations_per_job"],
        "batch_operations_objects": failures / 1e6 * PRICES_USD["batch_operations_per_million_objects"],
        "s3_head_and_get_requests": get_class / 1000 * PRICES_USD["s3_get_class_per_thousand_requests"],
        "dynamodb_writes": wru / 1e6 * PRICES_USD["dynamodb_per_million_write_request_units"],
        "dynamodb_reads": rru / 1e6 * PRICES_USD["dynamodb_per_million_read_request_units"],
        "lambda": 0.0,
    }
    return {
        "failures": failures,
        "usd": {name: round(value, 6) for name, value in lines.items()},
        "total_usd": round(sum(lines.values()), 4),
        "quantities": {
            "jobs": jobs_for_10000,
            "batch_objects": failures,
            "s3_get_class_requests": round(get_class),
            "dynamodb_write_request_units": round(wru),
            "dynamodb_read_request_units": round(rru),
        },
        "prices_usd": PRICES_USD,
        "price_source": PRICE_SOURCE,
        "assumptions": [
            "ingest: the failure_storm workload's DynamoDB calls per new event, times 10,000",
            "remediation: the measured pass, scaled to 10,000 objects in one (source, destination)",
            "1 WRU per write call (items ≤ 1 KB); 1 RRU per GetItem (strong, ≤ 4 KB) and per Query page",
            "not included: writes to the four ALL-projection GSIs (each history line also lands in "
            "ByBucket and ByReason, object writes in DueWork/ByState), so real WRUs are higher; the "
            "replication itself (destination PUTs, transfer); the few S3 PUT/LIST calls per job; "
            "tracking the job's completion report; Lambda (requests and GB-s: negligible here)",
        ],
    }
