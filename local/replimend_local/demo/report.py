"""The demo's JSON report (``--report``) and its verdict."""

from __future__ import annotations

import gzip
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from replimend_cli.ledger_cmds import incident_json
from replimend_cli.remediation_cmds import job_summary
from replimend_local.demo.checks import (
    crowded_sources,
    dead_letters_as_expected,
    failed_checks,
    left_in_job,
    stuck_pending_as_expected,
)
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
        crowded_source = crowded_sources(self.passes)
        in_job = left_in_job(self.objects)
        archive = self._archive_counts()
        poison, unknown_events, unknown_counted = self._poison_messages(), *self._unknown_reason_counts()
        checks = {
            "objects_in_allowed_states": not failures,
            "one_job_per_pair_per_pass": not crowded,
            "one_job_per_source_per_pass": not crowded_source,
            "nothing_left_in_job": not in_job,
            "archive_has_every_history_line": archive["entries"] == archive["history_lines"],
            "poison_messages_alone_in_dead_letter_queue": dead_letters_as_expected(poison, self.dead_letters),
            "unknown_reasons_counted_by_ingest": unknown_counted == unknown_events,
        }
        if remediation:  # the backfill function reports them
            uploaded = {
                s.slug: sum(o.scenario.slug == s.slug for o in self.objects)
                for s in SCENARIOS
                if s.outage_region
            }
            checks["stuck_pending_reported_then_resumed"] = stuck_pending_as_expected(
                self.stuck_pending, uploaded
            )
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
                    "destinations": [
                        {
                            "suffix": d.suffix,
                            "prefixes": list(d.prefixes),
                            "expected_reason": d.expected_reason,
                            "fix_pass": d.fix_pass if d.broken else None,
                        }
                        for d in s.destinations
                    ],
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
            "archive": archive,
            "stuck_pending": self.stuck_pending,
        }
        if crowded_source:
            self.console.print(
                f"[bold red]passes {crowded_source} sent CreateJob several jobs for one source[/]"
            )
        if in_job:
            self.console.print(f"[bold red]{len(in_job)} objects were left IN_JOB[/]")
        if crowded:
            self.console.print(
                f"[bold red]passes {crowded} started several jobs for one (source, destination)[/]"
            )
        if not checks["archive_has_every_history_line"]:
            self.console.print(
                f"[bold red]the audit archive holds {archive['entries']} history lines, "
                f"the ledger {archive['history_lines']}[/]"
            )
        if not checks["poison_messages_alone_in_dead_letter_queue"]:
            self.console.print(
                "[bold red]the dead-letter queue does not hold exactly the malformed messages[/]"
            )
        if not checks["unknown_reasons_counted_by_ingest"]:
            self.console.print(
                f"[bold red]ingest counted {unknown_counted} unknown reasons for {unknown_events} events[/]"
            )
        if not checks.get("stuck_pending_reported_then_resumed", True):
            self.console.print(
                f"[bold red]objects stuck PENDING were not reported then resumed: {self.stuck_pending}[/]"
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

    def _archive_counts(self) -> dict[str, int]:
        """History lines in the ledger and in the audit archive (after the stream is delivered)."""
        assert self.runtime is not None
        self.runtime.drain()  # the stream records of the last writes
        sources = sorted({o.names.source_bucket for o in self.objects} | set(self.ledger.sources()))
        history_lines = sum(sum(1 for _ in self.ledger.audit_by_bucket(source)) for source in sources)
        s3 = self.runtime.client("s3")
        bucket = self.runtime.outputs["AuditBucketName"]
        entries = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="history/"):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                entries += len(gzip.decompress(body).splitlines())
        return {"entries": entries, "history_lines": history_lines}

    def _write_html(self, path: Path) -> None:
        """The audit report of the run, as ``replimend report --html`` writes it."""
        from replimend_cli.report import build_report, render_html
        from replimend_cli.report_cmd import write_atomically

        assert self.runtime is not None
        now = self.runtime.clock.now()
        # Handlers' time runs on from the clock's during an invocation: a pass's last writes can
        # be a little after its moment, so the period ends a schedule interval later.
        until = now + timedelta(minutes=15)
        report = build_report(self.ledger, since=self.simulated_start, until=until, now=now)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, render_html(report))
        self.console.print(f"Audit report written to [bold]{path.resolve()}[/]")
