"""What the demo checks: every object ends in a state its scenario allows (a given-up object
after exactly MaxAttempts attempts), no pass starts several jobs for one (source, destination), the
dead-letter queue holds exactly the malformed messages, and ingest counted every unknown reason."""

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
    failure_reason: str | None = None
    category: str | None = None
    action: str | None = None
    detected_state: str | None = None
    final_state: str = ""
    attempts: int = 0
    job_ids: list[str] = field(default_factory=list)
    replica_present: bool = False
    source_status: str | None = None  # the source version's ReplicationStatus at the end
    allowed: frozenset[str] = frozenset()
    #: a given-up object must have used exactly this many attempts (the stack's MaxAttempts)
    max_attempts: int | None = None

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
            "destination_bucket": self.names.destination_bucket,
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
        }


def failed_checks(
    objects: list[DemoObject], passes: list[dict[str, Any]]
) -> tuple[list[DemoObject], list[int]]:
    """The objects in a state their scenario does not allow, and the passes that crowded a pair."""
    failures = [o for o in objects if not o.ok]
    crowded = [entry["pass"] for entry in passes if not entry["one_job_per_pair"]]
    return failures, crowded


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
