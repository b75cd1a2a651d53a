"""Find the ledger record of a manifest or completion-report row (shared by remediate and track)."""

from __future__ import annotations

from replimend.manifest_csv import NULL_VERSION
from replimend.models import FailureRecord, ObjectRef
from replimend.ports import RemediationLedger


def find_failure(
    ledger: RemediationLedger, bucket: str, key: str, version_id: str | None, destination_bucket: str
) -> FailureRecord | None:
    """The ledger record of a manifest/report row; the null version may be stored as None or "null"."""
    versions: list[str | None] = [version_id]
    if version_id in (None, "", NULL_VERSION):
        versions = [None, NULL_VERSION]
    for version in versions:
        record = ledger.get_failure(ObjectRef(bucket, key, version, destination_bucket))
        if record is not None:
            return record
    return None
