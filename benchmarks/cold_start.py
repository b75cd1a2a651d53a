"""Cold start: a fresh interpreter importing each function's handler module, against the floor of a
fresh interpreter importing boto3 and the Powertools core (Logger, Metrics).

A second reference adds to that floor the AWS clients the handler creates at import (found by running
it once with botocore's ``create_client`` recorded): AWS advises creating SDK clients outside the
handler, during initialisation (https://docs.aws.amazon.com/lambda/latest/dg/best-practices.html), so
their cost is in any such function's cold start, and ``ratio_with_clients`` shows what replimend adds.

Run in a virtualenv holding only what Lambda has (the layer's lock plus the runtime's boto3: `make
bench` builds .venv-bench), because dev tools installed beside boto3 slow its import. The median of
``repeats`` runs after one warm-up run (which writes the bytecode caches) is taken for each.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT, rounded

FUNCTIONS = ("ingest", "remediate", "track_jobs")
BENCH_PYTHON = REPO_ROOT / ".venv-bench" / "bin" / "python"
FLOOR = "import boto3\nfrom aws_lambda_powertools import Logger, Metrics"
# What template.yaml gives the functions; fake values, nothing is called while importing.
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_LAMBDA_FUNCTION_NAME": "replimend-bench",
    # As in Lambda, so the Tracer is enabled and patches botocore at import, as it does there.
    "LAMBDA_TASK_ROOT": "/var/task",
    "POWERTOOLS_SERVICE_NAME": "replimend",
    "POWERTOOLS_METRICS_NAMESPACE": "Replimend",
    "LEDGER_TABLE": "replimend-Ledger",
    "ACCOUNT_ID": "123456789012",
    "MANIFEST_BUCKET": "replimend-manifests",
    "REPORT_BUCKET": "replimend-reports",
    "BATCH_ROLE_ARN": "arn:aws:iam::123456789012:role/replimend-batch",
}
TIMED = """
import importlib.util, sys, time
started = time.perf_counter()
{body}
print(time.perf_counter() - started)
"""
HANDLER = """
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
"""
# Import the handler once with every client creation recorded; prints the service names, in order.
CLIENTS_OF = (
    """
import importlib.util, json, sys
import botocore.session
created = []
create_client = botocore.session.Session.create_client
def recording(self, service_name, *args, **kwargs):
    created.append(service_name)
    return create_client(self, service_name, *args, **kwargs)
botocore.session.Session.create_client = recording
"""
    + HANDLER
    + """
print(json.dumps(created))
"""
)


def floor_with_clients(services: list[str]) -> str:
    """The floor plus creating each of ``services``' clients from boto3's default session."""
    return FLOOR + "".join(f"\nboto3.client({service!r})" for service in services)


def _seconds(python: Path, body: str, *args: str) -> float:
    return float(_last_line(python, TIMED.format(body=body), *args))


def clients_created(python: Path, app: Path) -> list[str]:
    """The AWS services whose clients importing ``app`` creates."""
    created = json.loads(_last_line(python, CLIENTS_OF, str(app)))
    return [str(service) for service in created]


def _last_line(python: Path, code: str, *args: str) -> str:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))},
        **ENVIRONMENT,
    }
    env["PYTHONPATH"] = str(REPO_ROOT / "layers" / "core")  # the layer's /opt/python
    env.pop("AWS_ENDPOINT_URL", None)
    completed = subprocess.run(  # noqa: S603 - our own interpreter and code
        [str(python), "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=REPO_ROOT,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cold start run failed: {completed.stderr.strip()[-400:]}")
    return completed.stdout.strip().splitlines()[-1]


def median_seconds(python: Path, body: str, *args: str, repeats: int) -> float:
    _seconds(python, body, *args)  # warm-up: bytecode caches, page cache
    return statistics.median(_seconds(python, body, *args) for _ in range(repeats))


def run_cold_start(repeats: int = 7, python: Path | None = None) -> dict[str, Any]:
    interpreter = python or (BENCH_PYTHON if BENCH_PYTHON.exists() else Path(sys.executable))
    floor = median_seconds(interpreter, FLOOR, repeats=repeats)
    results: dict[str, Any] = {
        "python": str(
            interpreter.relative_to(REPO_ROOT) if interpreter.is_relative_to(REPO_ROOT) else interpreter
        ),
        "repeats": repeats,
        "floor": "import boto3 + aws_lambda_powertools Logger, Metrics",
    }
    for name in FUNCTIONS:
        app = REPO_ROOT / "functions" / name / "app.py"
        seconds = median_seconds(interpreter, HANDLER, str(app), repeats=repeats)
        clients = clients_created(interpreter, app)
        with_clients = median_seconds(interpreter, floor_with_clients(clients), repeats=repeats)
        results[name] = {
            "import_s": rounded(seconds, 3),
            "floor_s": rounded(floor, 3),
            "ratio": rounded(seconds / floor, 2) if floor else None,
            "clients": clients,
            "floor_with_clients_s": rounded(with_clients, 3),
            "ratio_with_clients": rounded(seconds / with_clients, 2) if with_clients else None,
        }
    return results


if __name__ == "__main__":
    print(json.dumps(run_cold_start(), indent=1))
