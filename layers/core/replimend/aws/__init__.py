"""The AWS adapters other than the ledger: the only modules (with ``replimend.ledger``) that call boto3.

- ``errors``: the one ClientError translator every adapter uses.
- ``s3``: source-version checks, bucket Regions, manifest/report storage.
- ``s3control``: create, describe and list Batch Replication jobs.
"""
