"""The S3 Batch Operations job status event: JobCreated / JobStatusChanged, delivered to EventBridge
through CloudTrail (aws-facts.md §4.3), best effort: tracking also polls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from replimend.errors import MalformedEventError


@dataclass(frozen=True, slots=True)
class JobStatusEvent:
    """A Batch Operations JobCreated/JobStatusChanged event (CloudTrail-delivered)."""

    job_id: str
    status: str | None
    region: str | None
    event_name: str
    failure_codes: tuple[str, ...] = ()


def parse_job_event(event: Mapping[str, Any]) -> JobStatusEvent:
    """Read the EventBridge event; MalformedEventError when it is not a Batch Operations job event."""
    detail = event.get("detail") if isinstance(event, Mapping) else None
    if not isinstance(detail, Mapping):
        raise MalformedEventError("job event has no detail object")
    service = detail.get("serviceEventDetails")
    if not isinstance(service, Mapping) or not service.get("jobId"):
        raise MalformedEventError("job event has no serviceEventDetails.jobId")
    codes = service.get("failureCodes") or []
    return JobStatusEvent(
        job_id=str(service["jobId"]),
        status=str(service["status"]) if service.get("status") else None,
        region=str(detail.get("awsRegion") or event.get("region") or "") or None,
        event_name=str(detail.get("eventName", "")),
        failure_codes=tuple(str(code) for code in codes if code) if isinstance(codes, list) else (),
    )
