"""Powertools Logger, Tracer and Metrics, set up once for every function."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "replimend")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Replimend")

logger = Logger(service=SERVICE)
# Only botocore is patched: it is the one library the functions call out with. Patching every library
# the X-Ray SDK supports tries to import each of them (pymongo, pynamodb, ...) at every cold start.
# https://docs.aws.amazon.com/powertools/python/latest/api/tracing/index.html (Tracer, patch_modules)
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
metrics = Metrics(service=SERVICE)
