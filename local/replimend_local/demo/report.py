"""The demo's JSON report (``--report``) and its verdict."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from replimend_cli.ledger_cmds import incident_json
from replimend_cli.remediation_cmds import job_summary
from replimend_local.demo.checks import dead_letters_as_expected, failed_checks
from replimend_local.demo.rendering import Rendering
from replimend_local.demo.scenarios import (
    SCENARIOS,
)
from replimend_local.demo.state import REMEDIATION_PARAMETERS
from replimend_local.sam import Invocation


def invocation_counts(invocations: list[Invocation]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for invocation in invocations:
        entry = counts.setdefault(invocation.function_id, {"ok": 0, "error": 0})
        entry["ok" if invocation.ok else "error"] += 1
    return counts


class Reporting(Rendering):
    """Builds the report from the demo's state and prints the verdict."""

    def _report(self, *, remediation: bool) -> dict[str, Any]:
        duration = time.monotonic() - self.started
        failures, crowded = failed_checks(self.objects, self.passes)
        poison, unknown_events, unknown_counted = self._poison_messages(), *self._unknown_reason_counts()
        checks = {
            "objects_in_allowed_states": not failures,
            "one_job_per_pair_per_pass": not crowded,
            "poison_messages_alone_in_dead_letter_queue": dead_letters_as_expected(poison, self.dead_letters),
            "unknown_reasons_counted_by_ingest": unknown_counted == unknown_events,
        }
        parameters = self.runtime.parameters if self.runtime is not None else {}
        report = {
            "generated_at": (self.started_at + timedelta(seconds=duration)).isoformat(),
            "duration_seconds": round(duration, 2),
            "remediation": remediation,
            "ok": all(checks.values()),
            "checks": checks,
            "parameters": {name: parameters[name] for name in REMEDIATION_PARAMETERS if name in parameters},
            "max_attempts": self.settings.max_attempts if self.settings is not None else None,
            "simulated_clock": self.runtime.clock.now().isoformat() if self.runtime is not None else None,
            "scenarios": [
                {
                    "slug": s.slug,
                    "title": s.title,
                    "expected_reason": s.expected_reason,
                    "fix": self.fixes.get(s.slug),
                    "deleted_keys": list(s.deleted_keys),
                    "fix_claimed_only": s.fix_claimed_only,
                }
                for s in SCENARIOS
            ],
            "objects": [o.report() for o in self.objects],
            "jobs": [job_summary(job) for job in self.ledger.list_jobs()],
            "incidents": [incident_json(i) for i in self.ledger.list_incidents(open_only=False)],
            "passes": self.passes,
            "dead_letter_queue": {"expected": poison, "held": self.dead_letters},
            "unknown_reasons": {"events": unknown_events, "counted_by_ingest": unknown_counted},
            "invocations": invocation_counts(self.runtime.invocations if self.runtime else []),
        }
        if crowded:
            self.console.print(
                f"[bold red]passes {crowded} started several jobs for one (source, destination)[/]"
            )
        if not checks["poison_messages_alone_in_dead_letter_queue"]:
            self.console.print(
                "[bold red]the dead-letter queue does not hold exactly the malformed messages[/]"
            )
        if not checks["unknown_reasons_counted_by_ingest"]:
            self.console.print(
                f"[bold red]ingest counted {unknown_counted} unknown reasons for {unknown_events} events[/]"
            )
        if failures:
            self.console.print(
                f"[bold red]{len(failures)} objects ended in a state their scenario does not allow[/]"
            )
        if report["ok"]:
            self.console.print(
                f"[bold green]Every object ended where its scenario allows[/] and every check passed "
                f"in {duration:.1f} s"
            )
        return report
