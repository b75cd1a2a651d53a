"""Writing Batch Operations CSV manifests: streaming chunks, content-derived names and tokens.

Rows are in ``replimend.manifest_csv``'s format; manifests are stored SSE-S3 only. A manifest's S3
key and the job's ClientRequestToken both derive from the rows' sha256, so a retried run that plans
the same rows writes the same object and gets back the same job instead of a second one.
"""

from __future__ import annotations

import hashlib
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from replimend.manifest_csv import manifest_row
from replimend.models import FailureRecord

#: Rows are kept in memory up to this size, then spill to /tmp (a million rows fit a small Lambda).
SPOOL_MEMORY_BYTES = 16 * 1024 * 1024
TOKEN_LENGTH = 64  # ClientRequestToken is 1-64 characters


def _spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, mode="w+b")


def manifest_key(source_bucket: str, digest: str) -> str:
    return f"manifests/{source_bucket}/{digest}.csv"


def pending_marker_key(source_bucket: str, digest: str) -> str:
    """Where the intent to start a job from a manifest is recorded until its objects are marked."""
    return f"{PENDING_PREFIX}{source_bucket}/{digest}.json"


PENDING_PREFIX = "pending/"
RELEASED_PREFIX = "released/"


def released_marker_key(pending_key: str) -> str:
    """Where a pending marker goes once its job could not be resumed (see Remediation)."""
    return RELEASED_PREFIX + pending_key.removeprefix(PENDING_PREFIX)


def report_prefix(source_bucket: str) -> str:
    return f"reports/{source_bucket}"


def client_request_token(digest: str) -> str:
    """The CreateJob idempotency token: the manifest digest (same rows → same token → same job)."""
    return digest[:TOKEN_LENGTH]


@dataclass
class ManifestChunk:
    """One manifest being written: a row per source version, to a spooled file; the records of
    that version (one per destination it failed for) to another.

    The digest covers the source, every row and each record's destination and lock version: a
    re-plan of unchanged records gets the same token, a later attempt (every transition bumps the
    version) or another set of destinations a new one.
    """

    source_bucket: str
    count: int = 0  # rows (versions); ``record_count`` counts their destination records
    body: IO[bytes] = field(default_factory=_spool)
    _records: IO[bytes] = field(default_factory=_spool)
    _hash: hashlib._Hash = field(init=False)

    record_count: int = 0
    destinations: set[str] = field(default_factory=set)  # of every record added

    def __post_init__(self) -> None:
        self._hash = hashlib.sha256(f"{self.source_bucket}\n".encode())

    def add(self, records: list[FailureRecord]) -> None:
        """One source version (its row, once) and its records towards each destination."""
        first = records[0].ref
        line = manifest_row(self.source_bucket, first.key, first.version_id).encode()
        self.body.write(line)
        self._hash.update(line)
        for record in records:
            # Each record's lock version too: a later attempt of the same objects (same rows) must
            # get a new token, or S3 would hand back the finished job of the previous attempt.
            self._hash.update(f"{record.ref.destination_bucket}\0{record.version}\n".encode())
            pickle.dump(record, self._records, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1
        self.record_count += len(records)
        self.destinations.update(record.ref.destination_bucket for record in records)

    def salt(self, text: str) -> None:
        """Make this chunk's digest (so its key and token) differ from an earlier identical one."""
        self._hash.update(f"salt\n{text}\n".encode())

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()

    @property
    def key(self) -> str:
        return manifest_key(self.source_bucket, self.digest)

    @property
    def token(self) -> str:
        return client_request_token(self.digest)

    def rewound_body(self) -> IO[bytes]:
        self.body.seek(0)
        return self.body

    def text(self) -> str:
        """The whole manifest (tests and small manifests only)."""
        return self.rewound_body().read().decode()

    def records(self) -> Iterator[FailureRecord]:
        """Every destination record of every row, in row order, as they were when planned."""
        self._records.seek(0)
        while True:
            try:
                # Our own spool file, written above in this process: not untrusted input.
                yield pickle.load(self._records)  # noqa: S301
            except EOFError:
                return

    def close(self) -> None:
        self.body.close()
        self._records.close()
