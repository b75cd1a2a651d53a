"""ingest: placeholder until the core lands."""
