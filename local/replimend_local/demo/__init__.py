"""`replimend demo`: the whole story on an embedded AWS.

One module per concern: ``scenarios`` (how each bucket is broken and fixed), ``story`` (the run,
step by step), ``checks`` (what must hold at the end), ``rendering`` (the console), ``report`` (the
JSON report), ``state`` (what the run knows).

1. Start the embedded AWS (moto + emulators) and deploy template.yaml into it with the local runtime.
2. Enroll one source bucket per scenario (us-east-1 → us-west-2), break each the way the field
   breaks them, upload objects; the replication engine decides every outcome from that state.
3. Failure events flow through the real pipeline (engine → FailureQueue → ingest → ledger) and the
   demo shows what failed, why, and what the operator must fix (the reason registry's fix and CLI).
4. When the template has the remediation functions: apply the fixes as an operator would, mark the
   incidents fixed (the interim gate), let the remediate schedule fire on the runtime's clock, let
   Batch Operations run the jobs and track_jobs close the objects. One cause is only claimed fixed
   (a runbook sets the flag, the role stays broken): its objects fail job after job, wait out an
   exponential backoff on the simulated clock, and are given up (escalated) at MaxAttempts. Show
   each pass, final states, jobs and audit trails.
5. Check every object against the states its scenario allows (a given-up object after exactly
   MaxAttempts attempts) and that every pass started at most one job per (source, destination);
   write the JSON report.

The whole run happens at the runtime's simulated time (``LocalRuntime.simulated_time``): handlers,
emulators, moto and the demo's own ledger writes read the local clock, so backoff elapses when the
clock is advanced.
"""

from replimend_local.demo.story import Demo, run_demo

__all__ = ["Demo", "run_demo"]
