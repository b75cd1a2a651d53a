"""What a backfill asks S3 for, decided without AWS: the generator filter, the job's identity
(token, tag, description) and whether a source may get a job now.

The filter is botocore's ``JobManifestGeneratorFilter``. ``ObjectReplicationStatuses`` takes
NONE (never attempted), FAILED, COMPLETED (to fill a newly added destination) and REPLICA; AWS,
"Filters for a Batch Replication job":
https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html#batch-replication-filters
PENDING is not among them: S3 resumes a PENDING object itself once the cause is back ("Getting
replication status information", https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html),
so replimend reports stuck PENDING objects (``pending.py``) and does not re-drive them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from replimend.models import JobRecord
from replimend.ports import ListedJob

#: botocore s3control ``ReplicationStatus`` (the filter's enum): what a backfill may select.
FILTER_STATUSES = ("NONE", "FAILED", "COMPLETED", "REPLICA")
DEFAULT_STATUSES = ("FAILED",)
TOKEN_LENGTH = 64  # ClientRequestToken: 1-64 characters (botocore s3control CreateJobRequest)
TAG_PREFIX = "replimend-backfill:"
#: The incident reason under which a blocked backfill is reported (not an S3 failure reason).
BACKFILL_BLOCKED = "BackfillBlocked"
#: Batch Operations pricing (README "Costs"; aws-facts.md §8, to confirm on the S3 pricing page).
JOB_FEE_USD = 0.25
PER_MILLION_OBJECTS_USD = 1.00
MANIFEST_GENERATION_PER_MILLION_USD = 0.015


class FilterError(ValueError):
    """A backfill filter S3 would refuse (or that selects nothing by construction)."""


def parse_statuses(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"FAILED,NONE"`` → ("FAILED", "NONE"); anything outside the filter's enum is refused."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    statuses = tuple(dict.fromkeys(p.strip().upper() for p in parts if p.strip()))
    if not statuses:
        raise FilterError(f"no replication status given; choose from {', '.join(FILTER_STATUSES)}")
    unknown = [s for s in statuses if s not in FILTER_STATUSES]
    if unknown:
        hint = " (S3 resumes PENDING objects itself: see `replimend pending`)" if "PENDING" in unknown else ""
        raise FilterError(
            f"unknown replication status {', '.join(unknown)}: choose from {', '.join(FILTER_STATUSES)}{hint}"
        )
    return statuses


@dataclass(frozen=True, slots=True)
class GeneratorFilter:
    """The objects one backfill job covers, as S3's manifest generator selects them."""

    statuses: tuple[str, ...] = DEFAULT_STATUSES
    created_after: datetime | None = None
    prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parse_statuses(self.statuses)
        if self.created_after is not None and self.created_after.tzinfo is None:
            object.__setattr__(self, "created_after", self.created_after.replace(tzinfo=UTC))
        if any(not p for p in self.prefixes):
            raise FilterError("an empty key prefix selects everything: leave --prefix out instead")

    def to_api(self) -> dict[str, Any]:
        """The ``Filter`` member of ``S3JobManifestGenerator``. EligibleForReplication keeps the
        manifest to what the bucket's replication rules select (prefix and tags)."""
        api: dict[str, Any] = {
            "EligibleForReplication": True,
            "ObjectReplicationStatuses": list(self.statuses),
        }
        if self.created_after is not None:
            api["CreatedAfter"] = self.created_after
        if self.prefixes:
            api["KeyNameConstraint"] = {"MatchAnyPrefix": list(self.prefixes)}
        return api

    def describe(self) -> dict[str, Any]:
        """The filter for people and JSON output (times as ISO 8601)."""
        api = self.to_api()
        if self.created_after is not None:
            api["CreatedAfter"] = self.created_after.isoformat()
        return api

    def identity(self) -> str:
        after = self.created_after.isoformat() if self.created_after else ""
        return "|".join([",".join(sorted(self.statuses)), after, ",".join(sorted(self.prefixes))])


def window_of(now: datetime) -> str:
    """The trigger window a run belongs to: its UTC hour. Triggers in one window with one filter are
    the same request (one token); later windows are kept off an active job by the overlap check."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H")


def request_token(source_bucket: str, job_filter: GeneratorFilter, window: str) -> str:
    """ClientRequestToken of a backfill: derived from source, filter and window, so concurrent
    triggers send the same request. Nothing relies on what CreateJob does with a token it has seen
    (AWS documents no answer): the ledger lock and the tag in the Description decide."""
    text = "\n".join(["backfill", source_bucket, job_filter.identity(), window])
    return "bf-" + hashlib.sha256(text.encode()).hexdigest()[: TOKEN_LENGTH - 3]


def job_tag(token: str) -> str:
    return f"{TAG_PREFIX}{token[:35]}"


def job_description(token: str, source_bucket: str, job_filter: GeneratorFilter) -> str:
    """At most 256 characters: a 54-character tag, a bucket name of at most 63 and the statuses."""
    return f"{job_tag(token)} backfill {source_bucket} {','.join(job_filter.statuses)}"[:256]


def manifest_prefix(source_bucket: str) -> str:
    return f"generated/{source_bucket}"


def report_prefix(source_bucket: str) -> str:
    return f"backfill-reports/{source_bucket}"


_BUCKET_CHARS = "a-z0-9.-"


def names_source(description: str, source_bucket: str) -> bool:
    """Whether a job Description written by replimend (remediation or backfill) names the source:
    the bucket name as a whole word (``logs`` is not ``logs-eu``)."""
    if not description.startswith("replimend"):
        return False
    pattern = rf"(?<![{_BUCKET_CHARS}]){re.escape(source_bucket)}(?![{_BUCKET_CHARS}])"
    return re.search(pattern, description) is not None


@dataclass(frozen=True, slots=True)
class Overlap:
    """Why a source gets no backfill job now (empty: it may)."""

    ledger_jobs: tuple[str, ...] = ()
    listed_jobs: tuple[str, ...] = ()

    @property
    def blocked(self) -> bool:
        return bool(self.ledger_jobs or self.listed_jobs)

    def __str__(self) -> str:
        jobs = sorted({*self.ledger_jobs, *self.listed_jobs})
        return f"replimend job(s) still active for this source: {', '.join(jobs)}" if jobs else "no overlap"


def overlap(source_bucket: str, ledger_jobs: Sequence[JobRecord], listed: Sequence[ListedJob]) -> Overlap:
    """Active replimend jobs of a source: the ledger's, and ListJobs' (a job started by a run that
    died before recording it, or by another deployment of replimend)."""
    return Overlap(
        ledger_jobs=tuple(j.job_id for j in ledger_jobs if j.source_bucket == source_bucket),
        listed_jobs=tuple(j.job_id for j in listed if names_source(j.description, source_bucket)),
    )


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """What a job costs in Batch Operations fees (request and replication charges come on top)."""

    objects: int | None  # None: not known cheaply
    job_fee_usd: float = JOB_FEE_USD

    @property
    def object_fee_usd(self) -> float | None:
        return None if self.objects is None else self.objects / 1_000_000 * PER_MILLION_OBJECTS_USD

    @property
    def total_usd(self) -> float | None:
        fee = self.object_fee_usd
        return None if fee is None else self.job_fee_usd + fee

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimated_objects": self.objects,
            "job_fee_usd": self.job_fee_usd,
            "per_million_objects_usd": PER_MILLION_OBJECTS_USD,
            "manifest_generation_per_million_objects_usd": MANIFEST_GENERATION_PER_MILLION_USD,
            "estimated_total_usd": None if self.total_usd is None else round(self.total_usd, 4),
        }
