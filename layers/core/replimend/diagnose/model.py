"""The value types of diagnosis: what is diagnosed (``Target``, ``Setup``), what one check found
(``CheckResult``) and a whole diagnosis (``Diagnosis``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "PASS"  # verified as it must be
    FAIL = "FAIL"  # verified broken: the fix says what to change
    WARN = "WARN"  # could not be verified (unreadable), or works but deserves attention
    SKIP = "SKIP"  # does not apply (no key given, not SSE-KMS, same account, ...)


@dataclass(frozen=True, slots=True)
class Target:
    """What is diagnosed: replication from ``source`` to ``destination`` (a bucket name), and
    optionally one object version."""

    source: str
    destination: str
    key: str | None = None
    version_id: str | None = None

    @property
    def destination_arn(self) -> str:
        return f"arn:aws:s3:::{self.destination}"


@dataclass(frozen=True, slots=True)
class Setup:
    """replimend's own resources, for the checks that look at them (None: that check is skipped)."""

    region: str | None = None  # where replimend creates Batch jobs
    batch_role_arn: str | None = None
    manifest_bucket: str | None = None
    report_bucket: str | None = None
    failure_queue_arn: str | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    evidence: str  # what was read, and what it says
    fix: str | None = None  # on FAIL: the AWS CLI command(s) to run, with real names

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": str(self.status), "evidence": self.evidence, "fix": self.fix}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    target: Target
    results: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status is Status.FAIL)

    @property
    def passes(self) -> bool:
        """The cause these checks cover is fixed: nothing FAILs and at least one check verified
        something. A WARN (could not read) does not hold the gate: the job then tells, and a cause no
        check sees is retried with backoff until given up (DESIGN.md)."""
        return not self.failed and any(r.status is Status.PASS for r in self.results)

    def summary(self) -> str:
        if self.failed:
            return "; ".join(f"{r.name} FAIL: {r.evidence}" for r in self.failed)
        counts = {s: sum(1 for r in self.results if r.status is s) for s in Status}
        return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no check ran"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.target.source,
            "destination": self.target.destination,
            "key": self.target.key,
            "version_id": self.target.version_id,
            "passes": self.passes,
            "checks": [r.to_dict() for r in self.results],
        }
