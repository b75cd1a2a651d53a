"""backfill: what no event reported. Scheduled (daily) and on demand, one Batch Replication job per
enrolled source bucket with the S3 manifest generator (``runner``), what the job selects and whether
a source may get one (``planner``), and objects stuck PENDING found in S3 Inventory (``inventory``,
``pending``). The job is tracked by track_jobs like any other; what its report names and the ledger
did not know enters the ledger ``found_by: backfill``.

Imports nothing at package level, so ``replimend.diagnose`` can use ``backfill.inventory``.
"""
