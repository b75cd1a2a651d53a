"""replimend: mend Amazon S3 replication failures.

The pipeline, in the order data flows through it:
  events      parse every delivery form of S3 replication events
  reasons     the registry of failure reasons: category, action, checks, fix
  ingest      record parsed, classified events in the ledger
  remediate   gate, aggregate, write manifests, start Batch Replication jobs
  track       follow the jobs to per-object outcomes: status events, polling, completion reports
and around it:
  ports       the contracts between the stages and the adapters
  ledger      the DynamoDB single-table audit ledger (the only DynamoDB code)
  aws         the other AWS adapters (S3, s3control) and the one ClientError translator
  wiring      builds each function's dependencies from its settings
"""

__version__ = "0.1.0"
