"""Remediation: re-drive failed objects with S3 Batch Replication, then track the jobs.

- ``remediate.run_remediation``: gate, pick due failures per (source, destination), write one CSV
  manifest per pair, start one job per manifest, mark the objects IN_JOB (crash-safe).
- ``tracking.JobTracker``: job status events and polling, completion reports, per-object outcomes.

Logic receives its AWS adapters as parameters (``batch_jobs``, ``s3_objects``, ``manifest``'s
store); boto3 lives only in those adapters.
"""
