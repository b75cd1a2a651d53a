"""The demo's story, in order: start the stack, enroll and break buckets, upload, detect, fix and
remediate pass by pass, settle; then (``--keep``) serve the account."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from replimend_local.demo.backfill import BackfillSteps
from replimend_local.demo.checks import DemoObject
from replimend_local.demo.rendering import plural, table, tally
from replimend_local.demo.scenarios import (
    DEMO_KEYS,
    DESTINATION_REGION,
    NOT_RECORDED,
    SCENARIOS,
    SOURCE_REGION,
    STUCK_PENDING_THRESHOLD_HOURS,
    Account,
    Scenario,
    ScenarioNames,
    fix_destination,
)
from replimend_local.demo.state import (
    DEMO_PARAMETERS,
    MAX_REMEDIATION_PASSES,
    OPERATOR,
    REMEDIATION_PARAMETERS,
    RUNBOOK,
    STACK_NAME,
)
from replimend_local.sam import TEMPLATE_PATH, LocalRuntime, load_template
from replimend_local.serve import invocation_line, serve_until_signalled
from replimend_local.stack import local_stack


class Demo(BackfillSteps):
    # ------------------------------------------------------------------ run

    def run(self, report_path: Path | None = None) -> int:
        with self._exit_stack:
            runtime = self._start()
            remediation = self._remediation_available(runtime)
            if remediation:
                self._show_parameters(runtime)
            self._set_up_scenarios()
            self._begin_outages()
            self._upload()
            self._detect()
            if remediation:
                self._remediate()
                self._backfill()
                self._stuck_pending()
            self._end_outages()
            self._settle(remediation=remediation)
            report = self._report(remediation=remediation)
            if self.html_path is not None:
                self._write_html(self.html_path)
            if report_path is not None:
                report_path.parent.mkdir(parents=True, exist_ok=True)
                report_path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
                self.console.print(f"Report written to [bold]{report_path}[/]")
            if self.keep:
                self._keep_serving()
        return 0 if report["ok"] else 1

    def _keep_serving(self) -> None:
        """``--keep``: the demo's account goes on running (real time, event sources, schedules)."""
        assert self.stack is not None
        self.console.rule("The demo's account keeps running: try the README's operating commands on it")
        self.stack.runtime.on_invocation = lambda i: print(invocation_line(i), file=sys.stderr, flush=True)
        serve_until_signalled(self.stack)

    def _start(self) -> LocalRuntime:
        names = [ScenarioNames(s.slug, "123456789012") for s in SCENARIOS]
        self.console.rule("[bold]replimend demo[/]: S3 replication failures, caught and mended")
        with self._step("Starting the embedded AWS and deploying template.yaml"):
            stack = self._exit_stack.enter_context(
                local_stack(
                    load_template(self.template_path),  # code paths relative to the repository
                    stack_name=STACK_NAME,
                    parameters=self._parameters([f"arn:aws:s3:::{n.source_bucket}" for n in names]),
                    port=self.port,
                    on_invocation=self._show_invocation,
                    load_functions=True,
                )
            )
        aws, runtime = stack.aws, stack.runtime
        self.stack, self.aws, self.runtime = stack, aws, runtime
        self.simulated_start = runtime.clock.now()
        self.ledger = stack.ledger
        self.account = Account(
            account_id=aws.account_id,
            failure_queue_arn=runtime.attribute("FailureQueue", "Arn"),
            clients=aws.client,
        )
        self.console.print(
            f"  moto server [cyan]{aws.endpoint_url}[/], stack [cyan]{STACK_NAME}[/]: "
            f"{len(runtime.resources)} resources, functions {', '.join(runtime.functions)}"
        )
        self.console.print(
            f"  [bold]clock[/]: simulated, from {runtime.clock.now():%Y-%m-%d %H:%M:%S} UTC. Every time "
            "shown reads it (functions, S3, the ledger); each remediation pass moves it 15 minutes on, so "
            "schedules and backoffs elapse in seconds"
        )
        return runtime

    def _parameters(self, source_arns: list[str]) -> dict[str, Any]:
        declared = load_template(self.template_path).get("Parameters") or {}
        inventories = [
            f"arn:aws:s3:::{ScenarioNames(s.slug, '123456789012').inventory_bucket}"
            for s in SCENARIOS
            if s.outage_region
        ]
        wanted: dict[str, Any] = {
            **DEMO_PARAMETERS,
            "SourceBucketArns": ",".join(source_arns),
            "PendingThresholdHours": STUCK_PENDING_THRESHOLD_HOURS,
        }
        if inventories:
            wanted["InventoryBucketArns"] = ",".join(inventories)
        return {name: value for name, value in wanted.items() if name in declared}

    def _show_parameters(self, runtime: LocalRuntime) -> None:
        from replimend.settings import RemediationSettings, load_settings

        remediate = next(f for f in runtime.functions.values() if f.code_dir.name == "remediate")
        self.settings = load_settings(RemediationSettings, remediate.environment)
        declared = runtime.template.get("Parameters") or {}
        shown = []
        for name in REMEDIATION_PARAMETERS:
            if name in runtime.parameters:
                default = (declared.get(name) or {}).get("Default")
                value = runtime.parameters[name]
                note = f" (default {default})" if str(default) != str(value) else ""
                shown.append(f"{name}=[cyan]{value}[/]{note}")
        self.console.print(f"  remediation parameters: {', '.join(shown)}")

    def _remediation_available(self, runtime: LocalRuntime) -> bool:
        code_dirs = {function.code_dir.name for function in runtime.functions.values()}
        available = {"remediate", "track_jobs"} <= code_dirs
        if self.want_remediation is False:
            return False
        if self.want_remediation and not available:
            raise RuntimeError("the template has no remediate/track_jobs functions yet")
        return available

    # ------------------------------------------------------------------ scenarios

    def _set_up_scenarios(self) -> None:
        assert self.account is not None
        self.console.rule("1 · Enroll buckets and break them")
        route = "source (us-east-1) → destination (us-west-2)"
        buckets = table("scenario", route, "what is wrong", whole=("scenario", route))
        with self._progress() as progress:
            task = progress.add_task("Setting up buckets, roles, keys and rules", total=len(SCENARIOS))
            for scenario in SCENARIOS:
                names = ScenarioNames(scenario.slug, self.account.account_id)
                scenario.setup(self.account, names)
                destinations = [names.destination(d.suffix) for d in scenario.destinations]
                buckets.add_row(
                    scenario.slug,
                    f"{names.source_bucket} →\n" + ("\n".join(destinations) or names.destination_bucket),
                    scenario.title
                    if scenario.expected_reason or scenario.backfill_statuses or scenario.outage_region
                    else "[green]nothing[/]",
                )
                progress.advance(task)
        self.console.print(buckets)

    def _upload(self) -> None:
        assert self.account is not None and self.runtime is not None
        s3 = self.account.s3(SOURCE_REGION)
        with self._progress() as progress:
            task = progress.add_task("Uploading objects", total=len(SCENARIOS) * len(DEMO_KEYS))
            for scenario in SCENARIOS:
                names = ScenarioNames(scenario.slug, self.account.account_id)
                for index, key in enumerate(DEMO_KEYS):
                    extra: dict[str, Any] = {}
                    if scenario.sse_kms:
                        extra = {
                            "ServerSideEncryption": "aws:kms",
                            "SSEKMSKeyId": self.account.keys[scenario.slug]["source"],
                        }
                    body = f"{scenario.slug} object {index}: {key}\n".encode() * (index + 1)
                    response = s3.put_object(Bucket=names.source_bucket, Key=key, Body=body, **extra)
                    for bucket, reason, fix_pass in scenario.targets(names, key):
                        self.objects.append(
                            DemoObject(scenario, names, key, response["VersionId"], bucket, reason, fix_pass)
                        )
                    progress.advance(task)
        self._inject()

    def _inject(self) -> None:
        """What some scenarios put on the FailureQueue themselves, once every bucket's uploads are in."""
        assert self.account is not None
        for scenario in SCENARIOS:
            if scenario.inject is None:
                continue
            names = ScenarioNames(scenario.slug, self.account.account_id)
            versions = [(o.key, o.version_id) for o in self.objects if o.scenario.slug == scenario.slug]
            self.injected[scenario.slug] = scenario.inject(self.account, names, versions)
            what = "malformed message" if scenario.poison else "failure event"
            sent = plural(len(self.injected[scenario.slug]), what)
            self.console.print(f"  {scenario.slug}: {sent} put on the FailureQueue")

    # ------------------------------------------------------------------ detection

    def _detect(self) -> None:
        assert self.runtime is not None
        self.console.rule("2 · Failures flow through the pipeline")
        self.runtime.drain()
        self._flush_event_tally()
        from replimend.models import ObjectRef
        from replimend.reasons import reason_entry

        detected = table(
            "scenario",
            "S3 replication",
            "failure reason",
            "ledger state",
            whole=("scenario", "failure reason"),
        )
        for scenario in SCENARIOS:
            objects = [o for o in self.objects if o.scenario.slug == scenario.slug]
            statuses = []
            for obj in objects:
                statuses.append(self._replication_status(obj) or "version gone")
                record = self.ledger.get_failure(
                    ObjectRef(obj.names.source_bucket, obj.key, obj.version_id, obj.destination_bucket)
                )
                if record is not None:
                    obj.failure_reason = record.failure_reason
                    obj.category = record.category
                    obj.action = str(record.action)
                    obj.detected_state = str(record.state)
            detected.add_row(
                scenario.slug,
                tally(statuses),
                ", ".join(sorted({o.failure_reason for o in objects if o.failure_reason})),
                tally(o.detected_state or "not recorded" for o in objects),
            )
        keys = ", ".join(repr(key) for key in DEMO_KEYS)
        self.console.print(f"  S3's replication status of each bucket's {len(DEMO_KEYS)} objects ({keys}):")
        self.console.print(detected)

        # one panel per failure reason: its fix once, then the command for each scenario it broke
        by_reason: dict[str, dict[str, DemoObject]] = {}
        for obj in self.objects:
            if obj.failure_reason:
                by_reason.setdefault(obj.failure_reason, {}).setdefault(obj.scenario.slug, obj)
        for reason, scenarios in by_reason.items():
            entry = reason_entry(reason)
            commands = "\n\n".join(
                f"[bold]{slug}[/]\n[cyan]{self._fill(entry.cli, obj)}[/]" for slug, obj in scenarios.items()
            )
            self.console.print(
                Panel(
                    f"{entry.fix}\n\n{commands}",
                    title=f"[bold]{reason}[/] ({entry.category}, {entry.action}): {len(scenarios)} "
                    f"scenario{'s' if len(scenarios) != 1 else ''}",
                    title_align="left",
                    expand=False,
                )
            )
        self._show_queue_outcomes()
        incidents = self.ledger.list_incidents(open_only=True)
        self.console.print(
            f"  {sum(1 for o in self.objects if o.failure_reason)} failed objects recorded, "
            f"{len(incidents)} open incidents (one per source, destination and cause)"
        )

    def _fill(self, cli: str, obj: DemoObject) -> str:
        assert self.account is not None
        values = {
            "source-bucket": obj.names.source_bucket,
            "destination-bucket": obj.destination_bucket,
            "replication-role": obj.names.role_name,
            "source-region": SOURCE_REGION,
            "destination-region": DESTINATION_REGION,
            "region": SOURCE_REGION,
            "key": obj.key,
            "version-id": obj.version_id,
            "account-id": self.account.account_id,
            "destination-kms-key": self.account.keys.get(obj.scenario.slug, {}).get(
                "replica", "<destination-kms-key>"
            ),
            "source-kms-key": self.account.keys.get(obj.scenario.slug, {}).get("source", "<source-kms-key>"),
        }
        return re.sub(r"<([a-z-]+)>", lambda m: values.get(m.group(1), m.group(0)), cli)

    # ------------------------------------------------------------------ remediation

    def _remediate(self) -> None:
        assert self.account is not None and self.runtime is not None
        self.console.rule("3 · Diagnosis names each cause; the operator applies the fixes")
        self._show_diagnoses()
        self.console.print("  The operator's fixes:")
        for scenario in SCENARIOS:
            if scenario.expected_reason is None and not scenario.backfill_statuses:
                continue
            if scenario.destinations:
                self._fix_destinations(scenario, 1)
                continue
            if scenario.fix is None:
                self.console.print(f"  [bold]{scenario.slug}[/]: [yellow]{scenario.fix_summary}[/]")
                continue
            names = ScenarioNames(scenario.slug, self.account.account_id)
            command = scenario.fix(self.account, names)
            self.fixes[scenario.slug] = command
            summary = (
                f"[yellow]{scenario.fix_summary}[/]" if scenario.fix_claimed_only else scenario.fix_summary
            )
            self.console.print(f"  [bold]{scenario.slug}[/]: {summary}\n    [cyan]$ {escape(command)}[/]")

        deleted = self._delete_versions()
        if deleted:
            self.console.print(f"  Meanwhile someone deleted {', '.join(deleted)} from its source bucket.")

        # Nobody declares a cause fixed: each remediation pass diagnoses every open incident and
        # releases its objects once its checks pass. Only the runbook of the fix_claimed_only scenario
        # uses the operator override (`replimend incident fixed`) without fixing anything.
        self._runbook_marks_fixed()
        self.console.print(
            "  no incident declared fixed: the next remediation pass diagnoses each one and re-drives its "
            f"objects once its checks pass ({RUNBOOK} overrides one whose cause is still broken)"
        )

        self.console.rule("4 · Remediation on schedule: Batch Replication jobs, tracked per object")
        for number in range(1, MAX_REMEDIATION_PASSES + 1):
            if number > 1:
                self._runbook_marks_fixed()
                for scenario in SCENARIOS:
                    self._fix_destinations(scenario, number)
            before_jobs = {job.job_id for job in self.ledger.list_jobs()}
            before_created = set(self._created_job_ids())
            before = self._snapshot()
            self.runtime.advance(minutes=15)
            created = [job for job in self.ledger.list_jobs() if job.job_id not in before_jobs]
            received = [job_id for job_id in self._created_job_ids() if job_id not in before_created]
            self._flush_event_tally()
            self._record_pass(number, created, before, received)
            pending_fix = any(o.fix_pass is not None and o.fix_pass > number for o in self.objects)
            if not pending_fix and not [o for o in self._open_objects() if o.fix_pass is not None]:
                break

    def _fix_destinations(self, scenario: Scenario, number: int) -> None:
        """The operator fixes the destinations of a multi-destination scenario due before pass ``number``."""
        assert self.account is not None
        names = ScenarioNames(scenario.slug, self.account.account_id)
        for spec in scenario.destinations:
            if spec.broken and spec.fix_pass == number:
                command = fix_destination(self.account, names, spec)
                self.fixes[f"{scenario.slug}/{spec.suffix}"] = command
                when = "" if number == 1 else f" (before pass {number})"
                self.console.print(
                    f"  [bold]{scenario.slug}[/]: enable versioning on {names.destination(spec.suffix)}{when}"
                    f"\n    [cyan]$ {escape(command)}[/]"
                )

    def _created_job_ids(self) -> list[str]:
        """The jobs the emulated S3 Batch Operations received through CreateJob, in order."""
        assert self.aws is not None
        return list(self.aws.batch_operations.job_ids())

    def _show_diagnoses(self) -> None:
        """What `replimend diagnose` says about each open incident before anything is fixed."""
        from replimend.aws.config import AwsConfigReader
        from replimend.diagnose import Setup, Target, checks_for_reason, diagnose

        assert self.aws is not None and self.account is not None
        reader = AwsConfigReader(self.aws.client)
        setup = Setup(failure_queue_arn=self.account.failure_queue_arn)
        for incident in self.ledger.list_incidents(open_only=True):
            target = Target(incident.source_bucket, incident.destination_bucket)
            result = diagnose(reader, target, setup, checks=checks_for_reason(incident.failure_reason))
            scenario = incident.source_bucket.removeprefix("replimend-demo-").removesuffix("-src")
            self.console.print(f"  [bold]{scenario}[/] ({incident.failure_reason}):")
            for check in result.failed or ():
                fix = escape((check.fix or "").splitlines()[0])
                self.console.print(
                    f"    [red]✗ {check.name}[/]: {escape(check.evidence)}\n      fix: [cyan]{fix}[/]"
                )
            if not result.failed:
                self.console.print(f"    [yellow]no check fails[/]: {escape(result.summary())}")

    def _fixer(self, source_bucket: str) -> str | None:
        """Who marks this source's incidents fixed: the operator, the runbook, or nobody."""
        assert self.account is not None
        for scenario in SCENARIOS:
            if ScenarioNames(scenario.slug, self.account.account_id).source_bucket == source_bucket:
                if scenario.fix is None and not scenario.destinations:
                    return None
                return RUNBOOK if scenario.fix_claimed_only else OPERATOR
        return None

    def _runbook_marks_fixed(self) -> None:
        """A failed job reopened the claimed-fixed incident; the runbook blindly marks it fixed again."""
        for incident in self.ledger.list_incidents(open_only=True):
            if self._fixer(incident.source_bucket) != RUNBOOK or incident.fixed:
                continue
            self.ledger.set_incident_fixed(
                incident.source_bucket, incident.destination_bucket, incident.failure_reason, actor=RUNBOOK
            )
            self.console.print(
                f"  [yellow]{RUNBOOK} marks {incident.failure_reason} on {incident.source_bucket} fixed "
                "again (the role policy is unchanged)[/]"
            )

    def _snapshot(self) -> dict[int, tuple[str, int]]:
        """Ledger state and attempts of every recorded demo object, by index."""
        from replimend.models import ObjectRef

        snapshot = {}
        for index, obj in enumerate(self.objects):
            if obj.failure_reason is None:
                continue
            record = self.ledger.get_failure(
                ObjectRef(obj.names.source_bucket, obj.key, obj.version_id, obj.destination_bucket)
            )
            if record is not None:
                snapshot[index] = (str(record.state), record.attempts)
        return snapshot

    def _record_pass(
        self, number: int, created: list[Any], before: dict[int, tuple[str, int]], received: list[str]
    ) -> None:
        """Print and record what one pass did: jobs per pair (at most one each) and per source bucket as
        CreateJob received them, and what moved."""
        from replimend.models import ObjectRef

        assert self.runtime is not None and self.aws is not None
        clock = self.runtime.clock.now()
        per_source: Counter[str] = Counter()
        for job_id in received:
            for bucket in self.aws.batch_operations.source_buckets(job_id):
                per_source[bucket] += 1
        per_pair = Counter(f"{job.source_bucket} -> {job.destination_bucket}" for job in created)
        one_per_pair = all(count == 1 for count in per_pair.values())
        pairs = plural(len(per_pair), "(source, destination) pair")
        pairs_text = f"{plural(len(created), 'job')} started for {pairs}" if created else "no job started"
        verdict = "[green]one per pair ✓[/]" if one_per_pair else "[bold red]several jobs for one pair ✗[/]"
        self.console.print(
            f"[bold]pass {number}[/] at {clock:%H:%M}: {pairs_text}" + (f", {verdict}" if created else "")
        )
        if received:
            one_per_source = all(count == 1 for count in per_source.values())
            self.console.print(
                f"  CreateJob received {plural(len(received), 'job')} for "
                f"{plural(len(per_source), 'source bucket')}, "
                + (
                    "[green]one per source ✓[/]"
                    if one_per_source
                    else "[bold red]several for one source ✗[/]"
                )
            )
        jobs = {job.job_id: job for job in self.ledger.list_jobs()}
        created_ids = {job.job_id for job in created}
        moved: list[dict[str, Any]] = []
        by_scenario: dict[str, list[tuple[DemoObject, Any]]] = {}
        for index, obj in enumerate(self.objects):
            if obj.failure_reason is None:
                continue
            record = self.ledger.get_failure(
                ObjectRef(obj.names.source_bucket, obj.key, obj.version_id, obj.destination_bucket)
            )
            if record is None:
                continue
            now_state = (str(record.state), record.attempts)
            waiting = record.next_attempt_at is not None and record.next_attempt_at > clock
            if now_state == before.get(index) and not (waiting and record.attempts):
                continue
            by_scenario.setdefault(obj.scenario.slug, []).append((obj, record))
            if now_state != before.get(index):
                moved.append(
                    {
                        "scenario": obj.scenario.slug,
                        "key": obj.key,
                        "version_id": obj.version_id,
                        "state": now_state[0],
                        "attempts": record.attempts,
                        "failure_reason": record.failure_reason,
                        "next_attempt_at": record.next_attempt_at.isoformat()
                        if record.next_attempt_at
                        else None,
                        "job_id": record.job_id,
                    }
                )
        for slug, items in by_scenario.items():
            self.console.print(f"  {slug}: {self._scenario_line(items, jobs, created_ids, clock)}")
        self.passes.append(
            {
                "pass": number,
                "clock": clock.isoformat(),
                "jobs_created": [job.job_id for job in created],
                "pairs": [[job.source_bucket, job.destination_bucket] for job in created],
                "jobs_per_pair": dict(per_pair),
                "one_job_per_pair": one_per_pair,
                "created_jobs": received,
                "created_jobs_per_source": dict(per_source),
                "objects_moved": moved,
            }
        )

    def _delete_versions(self) -> list[str]:
        assert self.account is not None
        deleted = []
        for obj in self.objects:
            if obj.key in obj.scenario.deleted_keys:
                self.account.s3(SOURCE_REGION).delete_object(
                    Bucket=obj.names.source_bucket, Key=obj.key, VersionId=obj.version_id
                )
                deleted.append(f"{obj.key!r} ({obj.scenario.slug})")
        return deleted

    def _open_objects(self) -> list[DemoObject]:
        from replimend.models import OPEN_STATES, ObjectRef

        open_objects = []
        for obj in self.objects:
            if obj.failure_reason is None:
                continue
            record = self.ledger.get_failure(
                ObjectRef(obj.names.source_bucket, obj.key, obj.version_id, obj.destination_bucket)
            )
            if record is not None and record.state in OPEN_STATES:
                open_objects.append(obj)
        return open_objects

    # ------------------------------------------------------------------ outcome

    def _settle(self, *, remediation: bool) -> None:
        from replimend.models import ObjectRef

        self.console.rule("6 · Final states" if remediation else "3 · Where things stand")
        final = table(
            "scenario",
            "ledger state",
            "S3 replication",
            "attempts",
            "jobs",
            "replicas",
            "ok",
            whole=("scenario",),
        )
        for obj in self.objects:
            obj.allowed = obj.scenario.allowed_final(
                obj.key, remediation=remediation, expected_reason=obj.expected_reason
            )
            obj.max_attempts = self.settings.max_attempts if self.settings is not None else None
            record = self.ledger.get_failure(
                ObjectRef(obj.names.source_bucket, obj.key, obj.version_id, obj.destination_bucket)
            )
            if record is None:
                obj.final_state = NOT_RECORDED
            else:
                obj.final_state = str(record.state)
                obj.attempts = record.attempts
                obj.job_ids = list(record.job_ids)
                obj.found_by = record.found_by
            obj.replica_present = self._replica_present(obj)
            obj.source_status = self._replication_status(obj)
        for scenario in SCENARIOS:
            objects = [o for o in self.objects if o.scenario.slug == scenario.slug]
            wrong = [o for o in objects if not o.ok]
            final.add_row(
                scenario.slug,
                tally("not recorded" if o.final_state == NOT_RECORDED else o.final_state for o in objects),
                tally(o.source_status or "version gone" for o in objects),
                "/".join(str(a) for a in sorted({o.attempts for o in objects})),
                str(len({job_id for o in objects for job_id in o.job_ids})),
                f"{sum(o.replica_present for o in objects)} of {len(objects)}",
                f"[red]✗ {wrong[0].key!r} expected {'/'.join(sorted(wrong[0].allowed))}[/]"
                if wrong
                else "[green]✓[/]",
            )
        self.console.print(final)
        if remediation:
            self._show_jobs()
            self._show_history()


def run_demo(
    report_path: Path | None = None,
    *,
    console: Console | None = None,
    remediation: bool | None = None,
    template_path: Path = TEMPLATE_PATH,
    keep: bool = False,
    port: int = 0,
    html_path: Path | None = None,
) -> int:
    """Run the demo; 0 when every object ends in a state its scenario allows. ``keep``: then serve the
    demo's account on ``port`` until SIGINT/SIGTERM, as ``replimend local up`` does. ``html_path``:
    also write the audit report of the run there (``replimend report --html``)."""
    demo = Demo(
        console,
        remediation=remediation,
        template_path=template_path,
        keep=keep,
        port=port,
        html_path=html_path,
    )
    return demo.run(report_path)
