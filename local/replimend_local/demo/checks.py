"""What the demo checks: every object ends in a state its scenario allows (a given-up object
after exactly MaxAttempts attempts), no object is left IN_JOB, no pass starts several jobs for one
source bucket (counted from the jobs CreateJob received, not from the ledger), the dead-letter queue
holds exactly the malformed messages, and ingest counted every unknown reason."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from replimend_local.demo.scenarios import (
    Scenario,
    ScenarioNames,
)


@dataclass
class DemoObject:
    """One uploaded object version and what became of it."""

    scenario: Scenario
    names: ScenarioNames
    key: str
    version_id: str
    #: the destination this record is about (a version has one per destination its rules select)
    destination_bucket: str = ""
    #: the reason S3 reports for it (None: it replicates)
    expected_reason: str | None = None
    #: the remediation pass before which its cause is fixed (None: never)
    fix_pass: int | None = None
    failure_reason: str | None = None
    category: str | None = None
    action: str | None = None
    detected_state: str | None = None
    final_state: str = ""
    attempts: int = 0
    job_ids: list[str] = field(default_factory=list)
    replica_present: bool = False
    source_status: str | None = None  # the source version's ReplicationStatus at the end
    #: how replimend learned of it: "event" or "backfill" (None: never in the ledger)
    found_by: str | None = None
    allowed: frozenset[str] = frozenset()
    #: a given-up object must have used exactly this many attempts (the stack's MaxAttempts)
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        self.destination_bucket = self.destination_bucket or self.names.destination_bucket

    @property
    def ok(self) -> bool:
        if self.final_state == "GAVE_UP" and self.max_attempts is not None:
            return self.final_state in self.allowed and self.attempts == self.max_attempts
        return self.final_state in self.allowed

    def report(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.slug,
            "source_bucket": self.names.source_bucket,
            "key": self.key,
            "version_id": self.version_id,
            "destination_bucket": self.destination_bucket,
            "expected_reason": self.expected_reason,
            "fix_pass": self.fix_pass,
            "final_state": self.final_state,
            "allowed_states": sorted(self.allowed),
            "ok": self.ok,
            "failure_reason": self.failure_reason,
            "category": self.category,
            "action": self.action,
            "detected_state": self.detected_state,
            "attempts": self.attempts,
            "job_ids": self.job_ids,
            "replica_present": self.replica_present,
            "source_replication_status": self.source_status,
            "found_by": self.found_by,
        }


def failed_checks(
    objects: list[DemoObject], passes: list[dict[str, Any]]
) -> tuple[list[DemoObject], list[int]]:
    """The objects in a state their scenario does not allow, and the passes that crowded a pair."""
    failures = [o for o in objects if not o.ok]
    crowded = [entry["pass"] for entry in passes if not entry["one_job_per_pair"]]
    return failures, crowded


def crowded_sources(passes: list[dict[str, Any]]) -> list[int]:
    """The passes in which CreateJob received several jobs for one source bucket."""
    return [
        entry["pass"] for entry in passes if any(n > 1 for n in entry["created_jobs_per_source"].values())
    ]


def left_in_job(objects: list[DemoObject]) -> list[DemoObject]:
    """Objects whose record still says IN_JOB at the end: nothing may be left there once jobs end."""
    return [o for o in objects if o.final_state == "IN_JOB"]


def dead_letters_as_expected(injected_poison: Iterable[str], held: Iterable[str]) -> bool:
    """The dead-letter queue holds the malformed messages, each once, and nothing else."""
    return sorted(injected_poison) == sorted(held)


def metric_total(outputs: Iterable[str], name: str) -> float:
    """The sum of metric ``name`` over the EMF documents (one JSON line each) functions printed."""
    total = 0.0
    for output in outputs:
        for line in output.splitlines():
            if '"_aws"' not in line:
                continue
            try:
                document = json.loads(line)
            except ValueError:
                continue
            value = document.get(name, 0) if isinstance(document, dict) else 0
            total += sum(value) if isinstance(value, list) else float(value)
    return total


def stuck_pending_as_expected(found: dict[str, dict[str, Any]], uploaded: dict[str, int]) -> bool:
    """Every outage scenario's objects were reported stuck PENDING (a StuckPending incident), then
    resumed by S3 and completed, and the next inventory showed none stuck (the incident resolved)."""
    return set(found) == set(uploaded) and all(
        entry.get("stuck") == uploaded[slug]
        and entry.get("incident") == "StuckPending"
        and entry.get("resumed_completed") == uploaded[slug]
        and entry.get("stuck_after_resume") == 0
        and entry.get("incident_fixed") is True
        for slug, entry in found.items()
    )
