"""Why S3 did not replicate a version (the failure reasons are S3's own codes)."""

from __future__ import annotations


class _ReplicationFailure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
