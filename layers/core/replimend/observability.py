"""Powertools Logger, Tracer and Metrics, set up once for every function."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "replimend")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Replimend")

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE)
