"""Settings: validated models read from the environment once, at cold start.

Each function loads the model it needs (``load_settings(RemediationSettings)``); a missing or
invalid variable fails the cold start with a message naming it, instead of a KeyError later.
These models are the single source of defaults: template.yaml's parameter defaults that feed an
environment variable must equal them (tests/unit/test_settings_template.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from replimend.errors import ConfigurationError


class LedgerSettings(BaseModel):
    """What every function needs: where the ledger is."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ledger_table: str = Field(min_length=3, alias="LEDGER_TABLE")
    #: GSI partition keys are spread over this many shards so a failure storm on one bucket
    #: does not land on one partition. Changing it on a live table orphans nothing (readers
    #: query every shard up to the value), but only raise it.
    index_shards: int = Field(default=16, ge=1, le=256, alias="LEDGER_INDEX_SHARDS")
    #: Days a closed object (and its history) is kept after closing, via DynamoDB TTL; 0 keeps it forever.
    history_retention_days: int = Field(default=0, ge=0, alias="HISTORY_RETENTION_DAYS")


class IngestSettings(LedgerSettings):
    """ingest: the ledger, and where alerts about objects it escalates go."""

    #: The SNS topic alerts go to (template.yaml's AlertTopic); none: no alerts.
    alert_topic_arn: str | None = Field(default=None, alias="ALERT_TOPIC_ARN")


class RemediationSettings(LedgerSettings):
    """What remediate, track_jobs and backfill need on top of the ledger."""

    account_id: str = Field(pattern=r"^\d{12}$", alias="ACCOUNT_ID")
    manifest_bucket: str = Field(min_length=3, alias="MANIFEST_BUCKET")
    report_bucket: str = Field(min_length=3, alias="REPORT_BUCKET")
    batch_role_arn: str = Field(pattern=r"^arn:[^:]+:iam::\d{12}:role/.+", alias="BATCH_ROLE_ARN")
    max_attempts: int = Field(default=5, ge=1, le=100, alias="MAX_ATTEMPTS")
    backoff_base_seconds: int = Field(default=900, ge=0, alias="BACKOFF_BASE_SECONDS")
    backoff_max_seconds: int = Field(default=86_400, ge=0, alias="BACKOFF_MAX_SECONDS")
    max_objects_per_job: int = Field(default=1_000_000, ge=1, alias="MAX_OBJECTS_PER_JOB")
    #: A bounded pass: what one 15-minute Lambda run can HEAD-check, write and mark IN_JOB; the rest
    #: waits for the next pass (template.yaml's MaxObjectsPerRun default is this value).
    max_objects_per_run: int = Field(default=200_000, ge=1, alias="MAX_OBJECTS_PER_RUN")
    job_priority: int = Field(default=10, ge=0, le=2_147_483_647, alias="JOB_PRIORITY")
    dry_run: bool = Field(default=False, alias="DRY_RUN")
    #: The ARN partition of the account (aws, aws-cn, aws-us-gov): template.yaml passes AWS::Partition.
    partition: str = Field(default="aws", pattern=r"^aws[a-z-]*$", alias="PARTITION")
    #: The SNS topic incident alerts go to (template.yaml's AlertTopic); none: no alerts.
    alert_topic_arn: str | None = Field(default=None, alias="ALERT_TOPIC_ARN")
    #: An incident still open this long after it opened is re-announced, at most once per interval;
    #: 0 sends no reminders (template.yaml's IncidentReminderHours).
    incident_reminder_hours: int = Field(default=24, ge=0, le=8760, alias="INCIDENT_REMINDER_HOURS")


class BackfillSettings(RemediationSettings):
    """What the backfill function needs on top of remediation's settings."""

    #: The enrolled source buckets (template.yaml's SourceBucketArns, comma-separated ARNs).
    source_bucket_arns: str = Field(default="", alias="SOURCE_BUCKET_ARNS")
    #: ObjectReplicationStatuses of a scheduled backfill (comma-separated; NONE, FAILED, COMPLETED, REPLICA).
    backfill_statuses: str = Field(default="FAILED", min_length=4, alias="BACKFILL_STATUSES")
    #: An object PENDING longer than this in the latest inventory is reported stuck.
    pending_threshold_hours: int = Field(default=24, ge=1, alias="PENDING_THRESHOLD_HOURS")
    #: How long a backfill run holds a source while it checks for overlap and starts its job.
    lock_lease_seconds: int = Field(default=900, ge=60, alias="BACKFILL_LOCK_SECONDS")
    #: The Region the function (and the manifest bucket) is in; Lambda sets AWS_REGION.
    region: str | None = Field(default=None, alias="AWS_REGION")

    @property
    def source_buckets(self) -> list[str]:
        """Bucket names of ``source_bucket_arns`` (ARNs ``arn:<partition>:s3:::<name>``)."""
        names = [arn.strip().rsplit(":", 1)[-1] for arn in self.source_bucket_arns.split(",")]
        return [name for name in dict.fromkeys(names) if name]


class ArchiveSettings(LedgerSettings):
    """What the archive function needs: the audit bucket the ledger's history goes to."""

    audit_bucket: str = Field(min_length=3, alias="AUDIT_BUCKET")


SettingsT = TypeVar("SettingsT", bound=LedgerSettings)


def load_settings(model: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
    """Read and validate ``model`` from the environment; raise ConfigurationError naming what is wrong."""
    env = os.environ if environ is None else environ
    try:
        return model.model_validate(dict(env))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigurationError(f"invalid settings for {model.__name__}: {problems}") from exc
