"""Batch Replication jobs replimend started, and the ClientRequestToken → job id records.

Items: pk J#<job id>, sk J (the job); pk T#<token>, sk T (its request token). Listing by status is
the ``Lists`` index (keys only: list_pk JOB#ACTIVE|JOB#DONE, list_sk <source>#<created>#<job id>),
so progress updates of a running job never rewrite an index entry.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from replimend.errors import ConflictError
from replimend.ledger.table import EPOCH_TIME, Clock, Item, Table, as_int, format_time, parse_time
from replimend.models import TERMINAL_JOB_STATUSES, JobRecord

LISTS_INDEX = "Lists"
JOB_SK = "J"
TOKEN_SK = "T"
ACTIVE = "JOB#ACTIVE"
DONE = "JOB#DONE"
_TIME_FIELDS = frozenset({"created_at", "finished_at", "stale_since"})
_INT_FIELDS = frozenset(
    {"object_count", "tasks_succeeded", "tasks_failed", "report_rows_done", "report_rows_matched", "version"}
)
_TERMINAL = frozenset(str(s) for s in TERMINAL_JOB_STATUSES)


def job_key(job_id: str) -> dict[str, str]:
    return {"pk": f"J#{job_id}", "sk": JOB_SK}


def token_key(token: str) -> dict[str, str]:
    return {"pk": f"T#{token}", "sk": TOKEN_SK}


def job_item(job: JobRecord) -> Item:
    item: Item = {}
    for f in dataclasses.fields(job):
        value = getattr(job, f.name)
        if value is None:
            continue
        if isinstance(value, datetime):
            value = format_time(value)
        elif isinstance(value, list):
            value = [str(v) for v in value]
        elif isinstance(value, StrEnum):
            value = str(value)
        item[f.name] = value
    created = format_time(job.created_at) if job.created_at else EPOCH_TIME
    item.update(
        job_key(job.job_id),
        entity="job",
        list_pk=DONE if job.status in _TERMINAL else ACTIVE,
        list_sk=f"{job.source_bucket}#{created}#{job.job_id}",
    )
    return item


def job_from_item(item: Item) -> JobRecord:
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(JobRecord):
        if f.name not in item:
            continue
        value = item[f.name]
        if f.name in _TIME_FIELDS:
            value = parse_time(str(value))
        elif f.name in _INT_FIELDS:
            value = as_int(value)
        elif f.name in ("failure_reasons", "destinations"):
            value = [str(v) for v in value]
        kwargs[f.name] = value
    kwargs.setdefault("destination_bucket", None)  # absent for generated-manifest jobs
    return JobRecord(**kwargs)


def _by_creation(jobs: list[JobRecord]) -> list[JobRecord]:
    return sorted(jobs, key=lambda j: (j.created_at or datetime.min.replace(tzinfo=UTC), j.job_id))


class JobStore:
    def __init__(self, table: Table, *, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def create(self, job: JobRecord) -> bool:
        """Record a job started in S3; False if a job with this id is already recorded."""
        if job.created_at is None:
            job = dataclasses.replace(job, created_at=self._clock())
        try:
            self._table.put(job_item(job), Attr("pk").not_exists())
            created = True
        except ConflictError:
            created = False
        # Also on the "exists" path: heals a crash between the two puts.
        try:
            self._table.put(
                {**token_key(job.client_request_token), "entity": "token", "job_id": job.job_id},
                Attr("pk").not_exists() | Attr("job_id").eq(job.job_id),
            )
        except ConflictError as exc:
            raise ConflictError(
                f"request token {job.client_request_token} already belongs to another job than {job.job_id}"
            ) from exc
        return created

    def get(self, job_id: str) -> JobRecord | None:
        item = self._table.get(**job_key(job_id))
        return job_from_item(item) if item else None

    def find_by_token(self, token: str) -> JobRecord | None:
        item = self._table.get(**token_key(token))
        return self.get(str(item["job_id"])) if item else None

    def update(self, job: JobRecord, **changes: Any) -> JobRecord:
        """Apply ``changes`` if the job is still at ``job.version`` (else ConflictError)."""
        allowed = {f.name for f in dataclasses.fields(JobRecord)} - {"job_id", "version"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"update_job: not a changeable JobRecord field: {', '.join(sorted(unknown))}")
        updated = dataclasses.replace(job, **changes, version=job.version + 1)
        try:
            self._table.put(job_item(updated), Attr("version").eq(job.version))
        except ConflictError as exc:
            raise ConflictError(f"job {job.job_id} moved since version {job.version}; re-read it") from exc
        return updated

    def list(self, *, active_only: bool = False, source_bucket: str | None = None) -> list[JobRecord]:
        partitions = [ACTIVE] if active_only else [ACTIVE, DONE]
        keys = []
        for partition in partitions:
            condition: ConditionBase = Key("list_pk").eq(partition)
            if source_bucket is not None:
                condition = condition & Key("list_sk").begins_with(f"{source_bucket}#")
            keys += [
                {"pk": str(k["pk"]), "sk": str(k["sk"])}
                for k in self._table.query(IndexName=LISTS_INDEX, KeyConditionExpression=condition)
            ]
        jobs = [job_from_item(item) for item in self._table.batch_get(keys).values()]
        if active_only:  # the index may lag the item: the item's status decides
            jobs = [j for j in jobs if j.status not in _TERMINAL]
        return _by_creation(jobs)
