"""The demo's backfill step: what no event reported (metrics off, objects older than the rule) found
and replicated by the backfill function's generated-manifest jobs, and objects stuck PENDING behind a
Region outage found in the source's S3 Inventory, reported, then resumed by S3."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

from replimend_local.demo.rendering import plural, table
from replimend_local.demo.report import Reporting
from replimend_local.demo.scenarios import (
    SCENARIOS,
    SOURCE_REGION,
    ScenarioNames,
)


class BackfillSteps(Reporting):
    """Step 5 of the story (``Demo`` runs it after the remediation passes)."""

    def _backfill(self) -> None:
        """What no event reported: ``replimend backfill`` (the backfill function, on demand) per
        scenario, then track_jobs on schedule until its job's report is applied."""
        assert self.account is not None and self.runtime is not None
        scenarios = [s for s in SCENARIOS if s.backfill_statuses]
        if not scenarios:
            return
        self.console.rule("5 · Backfill: what no event reported, replicated by generated-manifest jobs")
        jobs = table("scenario", "statuses", "outcome", "job", "filter", whole=("scenario", "job"))
        started: list[str] = []
        for scenario in scenarios:
            names = ScenarioNames(scenario.slug, self.account.account_id)
            statuses = ",".join(scenario.backfill_statuses)
            result = self.runtime.invoke(
                "BackfillFunction", {"bucket": names.source_bucket, "statuses": statuses}
            )
            [source] = result["sources"]
            started += [source["job_id"]] if source.get("job_id") else []
            jobs.add_row(
                scenario.slug,
                statuses,
                f"{source['outcome']}: {source['detail']}",
                source.get("job_id") or "",
                json.dumps(source["filter"]),
            )
        self.console.print(jobs)
        self._await_jobs(started)
        for job_id in started:
            job = self.ledger.get_job(job_id)
            if job is not None:
                self.console.print(
                    f"  backfill job {job_id} ({job.source_bucket}): {job.status}, "
                    f"{job.tasks_succeeded} replicated, {job.tasks_failed} failed; found_by: backfill"
                )

    def _begin_outages(self) -> None:
        """The Regions of outage scenarios become unavailable before any upload."""
        assert self.aws is not None
        for region in sorted({s.outage_region for s in SCENARIOS if s.outage_region}):
            self.aws.replication.set_region_available(region, False)
            self.console.print(f"  [bold]{region}[/] is unavailable: replication to it waits (PENDING)")

    def _end_outages(self) -> None:
        """The Regions come back: S3 resumes the objects that waited for them."""
        assert self.aws is not None
        for region in sorted({s.outage_region for s in SCENARIOS if s.outage_region}):
            if self.aws.replication.region_available(region):
                continue
            resumed = self.aws.replication.set_region_available(region, True)
            done = sum(o.succeeded for o in resumed)
            self.console.print(
                f"  [bold]{region}[/] is back: S3 resumed {plural(len(resumed), 'waiting replication')}, "
                f"{done} completed"
            )
            for scenario in (s for s in SCENARIOS if s.outage_region == region):
                entry = self.stuck_pending.setdefault(scenario.slug, {})
                entry["resumed"] = len(resumed)
                entry["resumed_completed"] = done

    def _stuck_pending(self) -> None:
        """Objects PENDING while their destination's Region is out: no event reports them. Their
        source's S3 Inventory does; once the simulated clock has passed PendingThresholdHours the
        backfill function's run reports them as a StuckPending incident with an alert. Then the Region
        comes back, S3 resumes them, and the next run's inventory shows none: the incident is
        resolved."""
        assert self.account is not None and self.runtime is not None and self.aws is not None
        scenarios = [s for s in SCENARIOS if s.outage_region]
        if not scenarios:
            return
        self.console.rule("5 · Backfill: objects stuck PENDING, found from an S3 Inventory report")
        threshold = timedelta(hours=float(self.runtime.parameters.get("PendingThresholdHours", 24)))
        s3 = self.account.s3(SOURCE_REGION)
        started: list[str] = []
        for scenario in scenarios:
            names = ScenarioNames(scenario.slug, self.account.account_id)
            source = names.source_bucket
            written = max(
                s3.head_object(Bucket=source, Key=o.key, VersionId=o.version_id)["LastModified"]
                for o in self.objects
                if o.scenario.slug == scenario.slug
            )
            wait = written + threshold - self.runtime.clock.now()
            if wait > timedelta(0):  # the schedules due meanwhile run as the clock passes them
                self.runtime.advance(minutes=math.ceil(wait.total_seconds() / 60) + 1)
            [manifest] = self.aws.deliver_inventory(source, now=self.runtime.clock.now())
            self.console.print(f"  S3 Inventory of {source} delivered: s3://{manifest}")
            first = self._scan_pending(source, started)
            self._end_outages()
            self.aws.deliver_inventory(source, now=self.runtime.clock.now())
            after = self._scan_pending(source, started)
            incident = self.ledger.get_incident(source, "-", "StuckPending")
            self.stuck_pending.setdefault(scenario.slug, {}).update(
                {
                    "source_bucket": source,
                    "inventory": first.get("inventory"),
                    "pending": first.get("pending"),
                    "stuck": first.get("stuck_count"),
                    "stuck_keys": sorted(item["key"] for item in first.get("stuck", [])),
                    "incident": "StuckPending" if incident is not None else None,
                    "stuck_after_resume": after.get("stuck_count"),
                    "incident_fixed": bool(incident is not None and incident.fixed),
                }
            )
        self._await_jobs(started)
        for job_id in started:
            job = self.ledger.get_job(job_id)
            if job is not None:
                reasons = "; ".join(job.failure_reasons) or "no failure"
                self.console.print(
                    f"  the run's backfill job {job_id} ({job.source_bucket}): {job.status} ({reasons}); "
                    "Batch Replication selects FAILED, NONE, COMPLETED or REPLICA objects, never PENDING ones"
                )

    def _scan_pending(self, source: str, started: list[str]) -> dict[str, Any]:
        """One backfill run for ``source`` (as its schedule runs it): its pending scan, shown."""
        assert self.runtime is not None
        result = self.runtime.invoke("BackfillFunction", {"bucket": source})
        [outcome] = result["sources"]
        started += [outcome["job_id"]] if outcome.get("job_id") and outcome["job_id"] not in started else []
        pending = outcome.get("pending") or {}
        incident = self.ledger.get_incident(source, "-", "StuckPending")
        state = "none" if incident is None else ("fixed" if incident.fixed else "open, alert sent")
        self.console.print(
            f"  backfill run: {pending.get('pending', 0)} PENDING, {pending.get('stuck_count', 0)} stuck "
            f"longer than {pending.get('threshold_hours', 0):g} h; StuckPending incident: {state}"
            + (f" ({pending['note']})" if pending.get("note") else "")
        )
        return pending

    def _await_jobs(self, job_ids: list[str]) -> None:
        """track_jobs polls every 5 minutes: until each job's report is applied."""
        for _ in range(12):
            if all(
                (job := self.ledger.get_job(job_id)) is not None and job.outcome_recorded
                for job_id in job_ids
            ):
                return
            self.runtime.advance(minutes=5)  # type: ignore[union-attr]
