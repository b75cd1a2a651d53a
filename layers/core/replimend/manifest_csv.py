"""The S3 Batch Operations CSV manifest format (aws-facts.md §3.3): one row per object version.

No header, ``bucket,key,versionId`` per row, keys URL-encoded, a version id on every row (``null``
for the null version). Shared by remediate (writes manifests), track (reads a job's objects back,
decodes report keys) and the s3control adapter (the manifest spec of CreateJob).
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, unquote, unquote_plus

from replimend.errors import MalformedEventError

MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
MANIFEST_FIELDS = ("Bucket", "Key", "VersionId")
NULL_VERSION = "null"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
#: What no UTF-8 text holds: storage's surrogate escapes of undecodable bytes, or a lone surrogate.
_NOT_UTF8 = re.compile("[\ud800-\udfff]")


def encode_key(key: str) -> str:
    """URL-encode a key the way S3 Batch Operations reads it (every reserved character, UTF-8)."""
    return quote(key, safe="")


def decode_key(encoded: str) -> str:
    """The key of a manifest or report row; MalformedEventError for a '%' that starts no escape or
    escapes that are not UTF-8 (never a silent U+FFFD)."""
    if _BAD_ESCAPE.search(encoded):
        raise MalformedEventError(f"key has an invalid percent escape: {encoded[:100]!r}")
    # unquote_plus also reads form-encoded keys ('+' for a space); a literal '+' is always %2B.
    try:
        return unquote_plus(encoded, errors="strict")
    except UnicodeDecodeError as exc:
        raise MalformedEventError(f"key escapes are not UTF-8: {encoded[:100]!r}") from exc


def key_candidates(raw: str) -> list[str]:
    """The keys a report row's key text may stand for, most likely first.

    AWS does not document how completion reports encode keys. First the exact string replimend
    wrote in the manifest (``encode_key``'s inverse), then a form-encoded reading ('+' for a
    space), then a percent-decoded one, then the text as it is; escapes that are not valid UTF-8
    give no candidate.
    """
    readings: list[str] = []  # [percent-decoded, form-decoded], when the escapes are valid UTF-8
    if not _BAD_ESCAPE.search(raw):
        for decode in (unquote, unquote_plus):
            with contextlib.suppress(UnicodeDecodeError):
                readings.append(decode(raw, errors="strict"))
    exact = [key for key in readings[:1] if encode_key(key) == raw]
    candidates = [*exact, *readings[1:], *readings[:1], raw]
    return list(dict.fromkeys(candidates))


def csv_rows(lines: Iterable[str]) -> Iterator[list[str] | csv.Error]:
    """CSV rows of ``lines``; a row csv cannot read (a stray carriage return, a field past csv's
    limit, bytes that are not UTF-8) comes out as a csv.Error and reading goes on with the next one."""
    reader = csv.reader(line for line in lines if line.strip())
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield exc
            continue
        bad = next((field for field in fields if _NOT_UTF8.search(field)), None)
        if bad is None:
            yield fields
        else:
            # a key with a surrogate could be neither matched in the ledger nor sent to DynamoDB;
            # repr() writes the surrogates as \udcXX escapes, so the message itself is UTF-8
            yield csv.Error(f"not UTF-8 text: {bad[:100]!r}")


def manifest_row(bucket: str, key: str, version_id: str | None) -> str:
    """One manifest line; the null version (or an unknown one) is written as the literal ``null``."""
    return f"{bucket},{encode_key(key)},{version_id or NULL_VERSION}\n"


@dataclass(frozen=True, slots=True)
class ManifestRow:
    bucket: str
    key: str  # decoded
    version_id: str  # as written: "null" for the null version


def parse_manifest(lines: Iterable[str]) -> Iterator[ManifestRow]:
    """Read a CSV manifest (ours, or any ``bucket,key[,version]`` one) back into decoded rows; a row
    that cannot be read is skipped (replimend writes every row itself, so none should be)."""
    for fields in csv_rows(lines):
        if isinstance(fields, csv.Error) or len(fields) < 2:
            continue
        try:
            key = decode_key(fields[1])
        except MalformedEventError:
            continue
        version = fields[2] if len(fields) > 2 and fields[2] else NULL_VERSION
        yield ManifestRow(bucket=fields[0], key=key, version_id=version)
