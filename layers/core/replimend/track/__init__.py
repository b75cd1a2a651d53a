"""track: follow Batch Replication jobs to per-object outcomes.

- ``tracker.JobTracker``: job status events and polling, completion reports, per-object outcomes.
- ``job_events``: the Batch Operations job status event (EventBridge, via CloudTrail).
- ``reports``: completion reports, parsed defensively.
"""
