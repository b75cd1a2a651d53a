"""How the demo shows things: invocation lines, pass lines, tables of jobs and audit trails."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from replimend_local.demo.checks import DemoObject, dead_letters_as_expected, metric_total
from replimend_local.demo.scenarios import SCENARIOS
from replimend_local.demo.state import DemoState
from replimend_local.sam import Invocation


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def table(*headers: str, whole: tuple[str, ...] = (), **options: Any) -> Table:
    """A table light on borders whose cells wrap instead of being cut with '…'. Columns named in
    ``whole`` hold identifiers (buckets, reasons, job ids): rich narrows the other columns first, so
    in 80 columns those stay whole on one line."""
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, **options)
    for header in headers:
        grid.add_column(header, overflow="fold", no_wrap=header in whole)
    return grid


def tally(values: Iterable[str]) -> str:
    """``3 FAILED`` or ``2 REPLICATED, 1 OBSOLETE``: how many of each, most first."""
    return ", ".join(f"{count} {value}" for value, count in Counter(values).most_common())


class Rendering(DemoState):
    """The demo's console output."""

    def _poison_messages(self) -> list[str]:
        return [body for s in SCENARIOS if s.poison for body in self.injected.get(s.slug, [])]

    def _unknown_reason_counts(self) -> tuple[int, float]:
        """Events injected with a reason the registry does not know, and ingest's UnknownReasons metric."""
        from replimend.reasons import REASONS

        events = sum(
            len(self.injected.get(s.slug, []))
            for s in SCENARIOS
            if s.expected_reason is not None and s.expected_reason not in REASONS
        )
        invocations = self.runtime.invocations if self.runtime is not None else []
        return events, metric_total((i.output for i in invocations), "UnknownReasons")

    def _show_queue_outcomes(self) -> None:
        """The malformed message in the dead-letter queue, alone; the unknown reasons ingest counted."""
        poison = self._poison_messages()
        if poison:
            self.dead_letters = self._peek_queue("FailureDeadLetterQueue")
            limit = self._max_receive_count("FailureQueue")
            alone = dead_letters_as_expected(poison, self.dead_letters)
            verdict = "[green]exactly the malformed one ✓[/]" if alone else "[bold red]not only it ✗[/]"
            held = plural(len(self.dead_letters), "message")
            self.console.print(
                f"  FailureDeadLetterQueue holds {held}, {verdict}: ingest reported it failed on each of "
                f"its {limit} receives (maxReceiveCount; the rest of its first batch was recorded), then "
                "SQS moved it there"
            )
            for body in self.dead_letters:
                self.console.print(f"    [dim]{body}[/]")
        events, counted = self._unknown_reason_counts()
        if events:
            self.console.print(
                f"  {plural(events, 'event')} with a reason the registry does not know: recorded ESCALATED "
                f"(no job can help), logged at WARNING and counted in ingest's UnknownReasons metric "
                f"({counted:.0f}), the signal to alarm on"
            )

    def _scenario_line(
        self,
        items: list[tuple[DemoObject, Any]],
        jobs: dict[str, Any],
        created_ids: set[str],
        clock: datetime,
    ) -> str:
        states = Counter(str(record.state) for _obj, record in items)
        parts = [", ".join(f"{count} {state}" for state, count in sorted(states.items()))]
        # each job on a line of its own: a whole job id does not fit beside the rest in 80 columns
        job_lines = []
        for job_id in sorted({record.job_id for _obj, record in items if record.job_id}):
            job = jobs.get(job_id)
            if job is not None and job_id in created_ids:
                outcome = f"{job.tasks_succeeded} succeeded, {job.tasks_failed} failed"
                job_lines.append(f"\n    job {job_id} ({job.status}: {outcome})")
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
        return "; ".join(parts) + "".join(job_lines)

    def _show_jobs(self) -> None:
        jobs = self.ledger.list_jobs()
        jobs_table = table(
            "job (S3 Batch Replication)",
            "scenario",
            "outcome",
            whole=("job (S3 Batch Replication)", "scenario"),
        )
        for job in jobs:
            # a backfill job's manifest is generated by S3: its size is known from its tasks only
            objects = job.object_count or job.tasks_succeeded + job.tasks_failed
            kind = "" if job.kind == "remediation" else f" ({job.kind})"
            jobs_table.add_row(
                job.job_id,
                job.source_bucket.removeprefix("replimend-demo-").removesuffix("-src") + kind,
                f"{job.status}: {plural(objects, 'object')}, {job.tasks_succeeded} succeeded, "
                f"{job.tasks_failed} failed",
            )
        self.console.print(jobs_table)
        for entry in self.passes:
            if entry["jobs_created"]:
                sources = len({source for source, _ in entry["pairs"]})
                self.console.print(
                    f"  pass {entry['pass']}: {plural(len(entry['jobs_created']), 'job')} for "
                    f"{plural(sources, 'source bucket')}"
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
        title = f"Audit trail (replimend history) of {obj.scenario.slug}'s object, {obj.final_state}"
        history = table(
            "time", "change", "why (by whom; job)", whole=("time", "change"),
            title=f"{title}\ns3://{obj.names.source_bucket}/{obj.key}",
        )  # fmt: skip
        for entry in self.ledger.history(obj.names.source_bucket, obj.key):
            change = f"{entry.from_state or '(new)'} → {entry.to_state}" if entry.to_state else entry.kind
            why = f"{entry.reason} ({entry.actor})" if entry.reason else f"({entry.actor})"
            if entry.job_id:
                why += f"\njob {entry.job_id}"
            history.add_row(entry.at.strftime("%H:%M:%S"), change, why)
        self.console.print(history)

    def _show_invocation(self, invocation: Invocation) -> None:
        if invocation.ok and invocation.trigger.startswith(("rule:", "schedule:")):
            # job events come by the dozen, reconciliations every 5 minutes: counted, shown as one line
            key = (invocation.function_id, invocation.trigger)
            self._event_tally.setdefault(key, Counter())[invocation.summary or "event"] += 1
            self._tally_ms[key] = self._tally_ms.get(key, 0.0) + invocation.duration_ms
            return
        style = "dim" if invocation.ok else "red"
        detail = f" ({invocation.summary})" if invocation.summary else ""
        # its first line: the traceback is in the invocation's log, as in Lambda
        error = f": {escape(invocation.error.splitlines()[0])}" if invocation.error else ""
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
