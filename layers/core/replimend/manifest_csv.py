"""The S3 Batch Operations CSV manifest format (aws-facts.md §3.3): one row per object version.

No header, ``bucket,key,versionId`` per row, keys URL-encoded, a version id on every row (``null``
for the null version). Shared by remediate (writes manifests), track (reads a job's objects back,
decodes report keys) and the s3control adapter (the manifest spec of CreateJob).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus

MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
MANIFEST_FIELDS = ("Bucket", "Key", "VersionId")
NULL_VERSION = "null"


def encode_key(key: str) -> str:
    """URL-encode a key the way S3 Batch Operations reads it (every reserved character, UTF-8)."""
    return quote(key, safe="")


def decode_key(encoded: str) -> str:
    # unquote_plus also reads form-encoded keys ('+' for a space); a literal '+' is always %2B.
    return unquote_plus(encoded)


def manifest_row(bucket: str, key: str, version_id: str | None) -> str:
    """One manifest line; the null version (or an unknown one) is written as the literal ``null``."""
    return f"{bucket},{encode_key(key)},{version_id or NULL_VERSION}\n"


@dataclass(frozen=True, slots=True)
class ManifestRow:
    bucket: str
    key: str  # decoded
    version_id: str  # as written: "null" for the null version


def parse_manifest(lines: Iterable[str]) -> Iterator[ManifestRow]:
    """Read a CSV manifest (ours, or any ``bucket,key[,version]`` one) back into decoded rows."""
    for fields in csv.reader(line for line in lines if line.strip()):
        if len(fields) < 2:
            continue
        version = fields[2] if len(fields) > 2 and fields[2] else NULL_VERSION
        yield ManifestRow(bucket=fields[0], key=decode_key(fields[1]), version_id=version)
