"""How the demo shows things: invocation lines, pass lines, tables of jobs and audit trails."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from replimend_local.demo.checks import DemoObject
from replimend_local.demo.state import DemoState
from replimend_local.sam import Invocation


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def status_text(status: str | None) -> str:
    if status in ("COMPLETE", "COMPLETED"):
        return f"[green]{status}[/]"
    if status == "FAILED":
        return "[red]FAILED[/]"
    return status or "[dim]none[/]"


class Rendering(DemoState):
    """The demo's console output."""

    def _scenario_line(
        self,
        items: list[tuple[DemoObject, Any]],
        jobs: dict[str, Any],
        created_ids: set[str],
        clock: datetime,
    ) -> str:
        states = Counter(str(record.state) for _obj, record in items)
        parts = [", ".join(f"{count} {state}" for state, count in sorted(states.items()))]
        job_ids = sorted({record.job_id for _obj, record in items if record.job_id})
        for job_id in job_ids:
            job = jobs.get(job_id)
            if job is not None and job_id in created_ids:
                outcome = f"{job.tasks_succeeded} succeeded, {job.tasks_failed} failed"
                parts.append(f"job {job_id[:8]} ({job.status}: {outcome})")
        attempts = {record.attempts for _obj, record in items}
        if attempts != {0}:
            maximum = self.settings.max_attempts if self.settings is not None else "?"
            parts.append(f"attempts {'/'.join(str(a) for a in sorted(attempts))} of {maximum}")
        reasons = sorted(
            {r.failure_reason for _o, r in items if r.failure_reason and str(r.state) != "REPLICATED"}
        )
        if reasons and states.keys() & {"FAILED", "BLOCKED", "GAVE_UP"}:
            parts.append(f"reason {', '.join(reasons)}")
        due = sorted({r.next_attempt_at for _o, r in items if r.next_attempt_at and str(r.state) == "FAILED"})
        if due:
            minutes = int((due[0] - clock).total_seconds() // 60)
            parts.append(
                f"next attempt after {due[0]:%H:%M:%S} (backoff: {minutes} min from now)"
                if due[0] > clock
                else f"due since {due[0]:%H:%M:%S}"
            )
        if "GAVE_UP" in states:
            parts.append("[bold]given up: escalated to a person[/]")
        return "; ".join(parts)

    def _show_jobs(self) -> None:
        jobs = self.ledger.list_jobs()
        table = Table("job", "source", "destination", "objects", "status", "succeeded", "failed")
        for job in jobs:
            table.add_row(
                job.job_id,
                job.source_bucket,
                job.destination_bucket or "(generated)",
                str(job.object_count),
                job.status,
                str(job.tasks_succeeded),
                str(job.tasks_failed),
            )
        self.console.print(table)
        for entry in self.passes:
            if entry["jobs_created"]:
                pairs = len({tuple(p) for p in entry["pairs"]})
                self.console.print(
                    f"  pass {entry['pass']}: {plural(len(entry['jobs_created']), 'job')} for "
                    f"{plural(pairs, '(source, destination) pair')}"
                )

    def _show_history(self) -> None:
        candidates = [o for o in self.objects if o.job_ids] or [o for o in self.objects if o.failure_reason]
        if not candidates:
            return
        repaired = [o for o in candidates if o.final_state != "GAVE_UP"] or candidates
        shown = [next((o for o in repaired if not o.key.isascii()), repaired[0])]
        shown += [o for o in candidates if o.final_state == "GAVE_UP"][:1]
        for obj in shown:
            self._show_object_history(obj)

    def _show_object_history(self, obj: DemoObject) -> None:
        table = Table(
            "time",
            "kind",
            "from",
            "to",
            "reason",
            "actor",
            "job",
            title=f"s3://{obj.names.source_bucket}/{obj.key}",
        )
        for entry in self.ledger.history(obj.names.source_bucket, obj.key):
            table.add_row(
                entry.at.strftime("%H:%M:%S"),
                entry.kind,
                str(entry.from_state or ""),
                str(entry.to_state or ""),
                entry.reason or "",
                entry.actor,
                (entry.job_id or "")[:8],
            )
        title = f"Audit trail (replimend history): {obj.scenario.slug}, {obj.final_state}"
        self.console.print(Panel(table, title=title, expand=False))

    def _show_invocation(self, invocation: Invocation) -> None:
        if invocation.ok and invocation.trigger.startswith(("rule:", "schedule:")):
            # job events come by the dozen, reconciliations every 5 minutes: counted, shown as one line
            key = (invocation.function_id, invocation.trigger)
            self._event_tally.setdefault(key, Counter())[invocation.summary or "event"] += 1
            self._tally_ms[key] = self._tally_ms.get(key, 0.0) + invocation.duration_ms
            return
        style = "dim" if invocation.ok else "red"
        detail = f" ({invocation.summary})" if invocation.summary else ""
        error = f": {invocation.error}" if invocation.error else ""
        self.console.print(
            f"  [{style}]λ {invocation.function_id} ← {invocation.trigger}{detail} "
            f"{'ok' if invocation.ok else 'ERROR'} {invocation.duration_ms:.0f} ms{error}[/]"
        )

    def _flush_event_tally(self) -> None:
        for (function_id, trigger), counts in self._event_tally.items():
            detail = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
            took = self._tally_ms[(function_id, trigger)]
            self.console.print(f"  [dim]λ {function_id} ← {trigger}: {detail} (all ok, {took:.0f} ms)[/]")
        self._event_tally.clear()
        self._tally_ms.clear()

    @contextmanager
    def _step(self, text: str) -> Iterator[None]:
        with self.console.status(text):
            yield
        self.console.print(f"[green]✓[/] {text}")

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
