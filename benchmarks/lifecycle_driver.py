"""The one place where the cost benchmark imports replimend's pipeline: re-point it here.

``build_pipeline`` wires the three stages from settings exactly as the Lambda handlers do
(functions/ingest/app.py, functions/remediate/app.py, functions/track_jobs/app.py) and hands back
three plain callables taking the handlers' own inputs (an SQS message body; nothing; a job event)
and returning the few counts the benchmark checks. Nothing else in ``cost_bench`` knows a
replimend module path or result shape: when modules move, only this function changes.

Every AWS client these builders create comes from boto3's default session: the caller installs its
meter and emulators there before calling ``build_pipeline``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PassCounts:
    pairs: int
    planned: int
    marked_in_job: int
    errors: int


@dataclass(frozen=True)
class TrackCounts:
    replicated: int
    errors: int


@dataclass(frozen=True)
class Pipeline:
    #: ingest one SQS batch of (body, message id) (what one ingest Lambda invocation does)
    ingest: Callable[[list[tuple[str, str]]], None]
    #: one remediation pass (what the remediate Lambda does)
    remediate: Callable[[], PassCounts]
    #: one Batch Operations job event from EventBridge (what the track_jobs Lambda does)
    track: Callable[[Mapping[str, Any]], TrackCounts]
    #: MAX_OBJECTS_PER_JOB as the settings resolved it
    max_objects_per_job: int


def build_pipeline(environment: Mapping[str, str]) -> Pipeline:
    """The real ingest path, Remediation and JobTracker, built from ``environment`` (the functions'
    variables as template.yaml sets them)."""
    from replimend.ingest.recorder import ingest_message
    from replimend.settings import LedgerSettings, RemediationSettings, load_settings
    from replimend.wiring import build_ingest, build_remediation, build_tracker

    ledger = build_ingest(load_settings(LedgerSettings, environment))  # as functions/ingest/app.py
    settings = load_settings(RemediationSettings, environment)
    remediation = build_remediation(settings)
    tracker = build_tracker(settings)

    def ingest(batch: list[tuple[str, str]]) -> None:
        with ledger.batch():  # as functions/ingest/app.py: per-batch writes once at the end
            for body, message_id in batch:
                ingest_message(body, ledger, message_id=message_id)

    def remediate() -> PassCounts:
        result = remediation.run()  # the pass batches its own ledger writes
        return PassCounts(
            pairs=len(result.sources),
            planned=result.total("planned"),
            marked_in_job=result.total("marked_in_job"),
            errors=sum(len(s.errors) for s in result.sources) + int(result.truncated is not None),
        )

    def track(event: Mapping[str, Any]) -> TrackCounts:
        result = tracker.handle_event(event)
        return TrackCounts(replicated=result.total("replicated"), errors=len(result.errors))

    return Pipeline(ingest, remediate, track, settings.max_objects_per_job)
