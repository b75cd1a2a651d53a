"""A storm: N replication failures of one source bucket, end to end through the local runtime.

The source replicates to a destination whose versioning was suspended, so the emulated S3 fails every
upload and sends each failure event to the FailureQueue; the SQS event source delivers them to the
ingest handler in the template's batches. Then the cause is fixed and marked so, the schedule fires,
the remediate handler starts its jobs, the emulated Batch Operations runs them and track_jobs reads
their reports. Reported: what the ledger holds against what was sent, and the jobs against the
minimum (one per source per pass, split only at MaxObjectsPerJob).

`make bench` runs 2,000 (BENCH_STORM_EVENTS); `make bench-storm BENCH_STORM_EVENTS=100000` runs the
storm alone into the last full run's results. Here a failure costs about 0.06 s end to end, the same at
1,000 and 3,000 (it was 0.36 s before this process's calls skipped the socket, configuration reads were
remembered until a change and moto's Query stopped sorting the whole table): 100,000 take about 100
minutes.
"""

from __future__ import annotations

import math
import time
from typing import Any

from benchmarks.common import rounded

SOURCE_PREFIX = "storm"
MAX_OBJECTS_PER_JOB = 1_000_000  # template.yaml's default
# Lambda polls the queue while S3 sends events; delivering as the uploads go keeps the queue short,
# as it is in AWS (and moto's SQS reads scan the whole queue on every receive).
DELIVER_EVERY = 100
MAX_PASSES = 50
REMEDIATE_FUNCTION = "RemediateFunction"  # template.yaml's logical id


def run_storm(events: int) -> dict[str, Any]:
    from replimend.models import ObjectState
    from replimend_local.stack import local_stack
    from tests.e2e.e2e_stack import DESTINATION_REGION, Stack

    started = time.perf_counter()
    with local_stack(
        stack_name="replimend-storm",
        parameters={"LogLevel": "ERROR", "SourceBucketArns": f"arn:aws:s3:::{SOURCE_PREFIX}-src"},
    ) as local:
        stack = Stack(local)
        source, destination, _role = stack.replicated_bucket_pair(
            SOURCE_PREFIX, destination_versioning="Suspended"
        )
        s3 = stack.client("s3")
        for number in range(events):
            s3.put_object(Bucket=source, Key=f"storm/{number:07d}.bin", Body=b"x")
            if (number + 1) % DELIVER_EVERY == 0:
                stack.runtime.drain(max_rounds=max(200, DELIVER_EVERY))
        stack.runtime.drain(max_rounds=max(200, events))
        ingested = time.perf_counter()
        ledger = stack.ledger
        stack.client("s3", DESTINATION_REGION).put_bucket_versioning(
            Bucket=destination, VersioningConfiguration={"Status": "Enabled"}
        )
        for incident in ledger.list_incidents(open_only=True):
            ledger.set_incident_fixed(
                incident.source_bucket, incident.destination_bucket, incident.failure_reason, actor="bench"
            )
        # Passes until nothing is due or in a job: a pass stops at the function's time budget, so
        # a big storm may take several, each allowed one job per source (more only at the job limit).
        for _ in range(MAX_PASSES):
            stack.runtime.advance(minutes=15)  # the schedule's pass
            stack.runtime.advance(minutes=5)  # the job runs, its events are tracked
            due = next(iter(ledger.due_versions(source, now=stack.runtime.clock.now())), None)
            if due is None and not ledger.active_jobs(source):
                break
        jobs = [job for job in ledger.list_jobs() if job.source_bucket == source]
        # Counted from the passes themselves: invocations take real time, during which the clock
        # moves on and the schedule may fire again within one advance.
        passes_with_jobs = sum(
            1
            for invocation in stack.runtime.invocations
            if invocation.function_id == REMEDIATE_FUNCTION
            and isinstance(invocation.result, dict)
            and any(
                pass_of.get("source_bucket") == source and pass_of.get("jobs")
                for pass_of in invocation.result.get("sources", [])
            )
        )
        states: dict[str, int] = {}
        objects = 0
        for number in range(events):
            history = ledger.history(source, f"storm/{number:07d}.bin")
            if history:
                objects += 1
                final = history[-1].to_state
                if final is not None:
                    states[str(final)] = states.get(str(final), 0) + 1
        # Every CreateJob S3 accepted left a job there (the emulator, like S3, lists them for 90 days).
        s3control = stack.client("s3control")
        listed, token = 0, None
        while True:
            page = s3control.list_jobs(
                AccountId=stack.aws.account_id, **({"NextToken": token} if token else {})
            )
            listed += sum(1 for job in page.get("Jobs", []) if job.get("Operation") == "S3ReplicateObject")
            token = page.get("NextToken")
            if not token:
                break
        failed_invocations = sum(1 for i in stack.runtime.invocations if not i.ok)
        # The local runtime lets an invocation run past its timeout (it logs it); Lambda would stop it.
        functions = stack.runtime.functions
        over_timeout = sorted(
            (i.function_id, round(i.duration_ms / 1000, 1))
            for i in stack.runtime.invocations
            if i.function_id in functions and i.duration_ms > functions[i.function_id].timeout_seconds * 1000
        )
    return {
        "events": events,
        "lost": events - objects,
        "ledger_objects": objects,
        "replicated": states.get(str(ObjectState.REPLICATED), 0),
        "jobs": len(jobs),
        "min_jobs": max(passes_with_jobs, math.ceil(events / MAX_OBJECTS_PER_JOB)) if events else 0,
        "passes_with_jobs": passes_with_jobs,
        "create_job_calls": listed,
        "failed_invocations": failed_invocations,
        "over_timeout_invocations": [f"{name} {seconds} s" for name, seconds in over_timeout],
        "ingest_seconds": rounded(ingested - started, 1),
        "seconds": rounded(time.perf_counter() - started, 1),
    }
