"""replimend: mend Amazon S3 replication failures.

The pipeline, in the order data flows through it:
  events      parse every delivery form of S3 replication events
  reasons     the registry of failure reasons: category, action, checks, fix
  ledger      the DynamoDB single-table audit ledger (the only DynamoDB code)
  ingest      record parsed events in the ledger
  remediation gate, aggregate, write manifests, start Batch Replication jobs, track them
"""

__version__ = "0.1.0"
