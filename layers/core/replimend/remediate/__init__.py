"""remediate: re-drive failed objects with S3 Batch Replication.

- ``remediation.Remediation``: one pass: gate, pick due failures per (source, destination), write
  the CSV manifests, start one job per manifest, mark the objects IN_JOB (crash-safe).
- ``gate``: the interim cause gate (the operator's "fixed" flag) and its per-pass cache.
- ``manifest``: manifest chunks, content-derived keys, tokens and pending markers.

The pass receives its ledger, gate and AWS adapters as ``replimend.ports`` Protocols.
"""
