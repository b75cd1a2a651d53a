"""ingest: record parsed and classified S3 replication events in the ledger.

- ``recorder``: ``ingest_message`` (one SQS message body) and ``record_events``, with metrics.
"""
