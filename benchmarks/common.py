"""What every benchmark shares: a fake AWS environment, API-call counting, the ledger table, timing.

Nothing here can reach AWS: credentials are fake, every client is made inside moto's ``mock_aws``
(in-process, faster than server mode), and S3 Batch Operations is answered by a botocore hook.
"""

from __future__ import annotations

import os
import platform
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = REPO_ROOT / "events"
REGION = "us-east-1"
ACCOUNT = "111122223333"
LEDGER_TABLE = "replimend-bench-ledger"

FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_SERVICE_NAME": "replimend",
    "POWERTOOLS_METRICS_NAMESPACE": "Replimend",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}
#: Variables that could point boto3 at a real account or endpoint.
_REMOVED_VARIABLES = ("AWS_PROFILE", "AWS_ENDPOINT_URL")


def use_fake_aws() -> None:
    """Fake credentials and region for this process (before any boto3 client exists)."""
    os.environ.update(FAKE_AWS_ENVIRONMENT)
    for name in _REMOVED_VARIABLES:
        os.environ.pop(name, None)


def machine_info() -> dict[str, Any]:
    import boto3
    import moto

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(value, 2) for value in load] if load else None,
        "boto3": boto3.__version__,
        "moto": moto.__version__,
        "note": "shared, noisy machine: compare ratios and call counts, not absolute seconds",
    }


class CallCounter:
    """Counts API calls as ``service.Operation`` through botocore's ``before-call`` event.

    ``before-call`` fires once per API call (retries happen below it), so the counts are the
    requests AWS would bill. It also times each call up to ``after-call`` (botocore serialisation +
    moto + parsing), to say how much of a handler's time is spent in the emulated AWS.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.seconds_in_calls = 0.0

    def attach(self, events: Any) -> None:
        """Register on a client's (``client.meta.events``) or a session's event system."""
        events.register_first("before-call.*.*", self._before)
        events.register_last("after-call.*.*", self._after)

    def _before(self, event_name: str, context: dict[str, Any] | None = None, **_: Any) -> None:
        service, operation = event_name.split(".", 2)[1:]
        with self._lock:
            self.calls[f"{service}.{operation}"] += 1
        if context is not None:
            context["bench_started"] = time.perf_counter()

    def _after(self, context: dict[str, Any] | None = None, **_: Any) -> None:
        started = (context or {}).get("bench_started")
        if started is not None:
            elapsed = time.perf_counter() - started
            with self._lock:
                self.seconds_in_calls += elapsed

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self.calls.items()))

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.seconds_in_calls = 0.0


def by_service(calls: Mapping[str, int]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for name, count in calls.items():
        totals[name.split(".", 1)[0]] += count
    return dict(sorted(totals.items()))


def per_unit(calls: Mapping[str, int], units: int) -> dict[str, float]:
    return {name: round(count / units, 4) for name, count in sorted(calls.items())} if units else {}


@dataclass
class Timing:
    """Repeated measurements of one thing; ``best`` is the least disturbed by other processes."""

    seconds: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


T = TypeVar("T")


def timed(function: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


@contextmanager
def mocked_aws() -> Iterator[None]:
    """moto's in-process AWS (no sockets, no endpoint reached), with fake credentials in place."""
    from moto import mock_aws

    use_fake_aws()
    with mock_aws():
        yield


def create_ledger_table(session: Any, table_name: str = LEDGER_TABLE) -> Any:
    """The Ledger table exactly as template.yaml declares it (keys, indexes, billing), in moto."""
    from replimend_local.sam_template import load_template, table_create_kwargs

    dynamodb = session.resource("dynamodb", region_name=REGION)
    table = dynamodb.create_table(**table_create_kwargs(load_template(), "Ledger", table_name))
    table.wait_until_exists()
    return table


def quiet_powertools_output() -> Callable[[], None]:
    """Send the Powertools logger's lines to /dev/null (they are still formatted); returns the undo.

    EMF metric documents are printed with ``print``: callers wrap handler calls in
    ``contextlib.redirect_stdout``.
    """
    from replimend.observability import logger

    handler = logger.registered_handler
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed by the returned undo
    # swapped, not setStream(): that flushes the old stream, which an earlier caller may have closed
    previous = handler.stream  # type: ignore[attr-defined]
    handler.stream = sink  # type: ignore[attr-defined]

    def undo() -> None:
        handler.stream = previous  # type: ignore[attr-defined]
        sink.close()

    return undo


def rounded(value: float, digits: int = 3) -> float:
    return round(value, digits)
