"""Enrolling a source bucket: turn on what replimend needs to hear of its replication failures, and
take back exactly that.

S3 publishes ``s3:Replication:OperationFailedReplication`` only for rules with replication metrics
enabled, and only to a destination the bucket's notification configuration names
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-metrics-events.html). ``enroll``
therefore:

- sets ``Destination.Metrics.Status`` to Enabled on every rule, keeping every other setting of the
  rule and the metrics' own ``EventThreshold`` (optional without RTC: API_Metrics,
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_Metrics.html; botocore s3 ``Metrics`` requires
  only ``Status``); ``ReplicationTime`` (RTC) is never touched;
- records which rules it turned metrics on for, in one bucket tag, so that ``unenroll`` turns off
  only those (a rule whose metrics were on before, or that uses RTC, keeps them);
- adds one queue configuration, Id ``replimend-replication-events``, for the four replication event
  types, to the bucket's notification configuration as it is: PutBucketNotificationConfiguration
  replaces the whole configuration
  (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html), so
  every topic, queue, Lambda and EventBridge configuration read is written back unchanged.

Before anything changes, the queue's policy must admit the bucket: S3 validates the destination when
the configuration is saved and refuses a queue that does not let it send
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html).
Another configuration already sending replication events elsewhere is a conflict, not something to
overwrite: configurations of one bucket may not share an event type with overlapping key filters
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html).

The plans are pure (``plan_enroll``, ``plan_unenroll``, ``queue_admits``); ``Enrollment`` reads and
writes through a ``ports.BucketEnrollment``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from replimend.errors import ReplimendError
from replimend.ports import BucketEnrollment

#: The Id of the queue configuration enroll adds and unenroll removes (the demo and diagnosis's fix
#: use the same one).
NOTIFICATION_ID = "replimend-replication-events"
#: The four replication event types (botocore s3 ``Event`` enum; aws-facts.md §1.1); ingest reads all.
REPLICATION_EVENTS = (
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:Replication:OperationNotTracked",
)
_REPLICATION_WILDCARD = "s3:Replication:*"
#: Bucket tag naming the rules enroll turned metrics on for: space-separated digests of their IDs (a
#: tag value allows only letters, digits, spaces and ``_ . : / = + - @``, up to 256 characters:
#: https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html).
METRICS_TAG = "replimend:metrics-enabled-by-enroll"
MAX_TAG_VALUE = 256
_NOTIFICATION_KINDS = (
    ("QueueConfigurations", "QueueArn"),
    ("TopicConfigurations", "TopicArn"),
    ("LambdaFunctionConfigurations", "LambdaFunctionArn"),
)


class EnrollmentError(ReplimendError):
    """The bucket cannot be enrolled as it is; the message says what to do."""


class QueueNotAdmitted(EnrollmentError):
    """The queue's policy does not let S3 send the bucket's events; ``verdict`` has the statement to add."""

    def __init__(self, verdict: QueueVerdict) -> None:
        super().__init__(verdict.why)
        self.verdict = verdict


@dataclass(frozen=True)
class BucketSettings:
    """What enroll reads of a bucket before deciding."""

    bucket: str
    replication: dict[str, Any] | None
    notification: dict[str, Any]
    tags: dict[str, str]


@dataclass
class Plan:
    """The writes that make a bucket enrolled (or unenrolled), and what they change, in words.

    ``tags`` is the bucket's whole new tag set (empty: delete the tag set)."""

    bucket: str
    replication: dict[str, Any] | None = None
    notification: dict[str, Any] | None = None
    tags: dict[str, str] | None = None
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(x is not None for x in (self.replication, self.notification, self.tags))


def rule_digest(rule_id: str) -> str:
    return hashlib.sha256(rule_id.encode()).hexdigest()[:8]


def _recorded(tags: Mapping[str, str]) -> set[str]:
    return set(tags.get(METRICS_TAG, "").split())


def _covers_failures(events: list[str]) -> bool:
    return bool({_REPLICATION_WILDCARD, REPLICATION_EVENTS[0]} & set(events))


def _replication_events(events: list[str]) -> bool:
    return any(e == _REPLICATION_WILDCARD or e in REPLICATION_EVENTS for e in events)


def writable_notification(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a GetBucketNotificationConfiguration answer that PutBucketNotificationConfiguration
    takes back (botocore s3 ``NotificationConfiguration``)."""
    keys = (*(kind for kind, _ in _NOTIFICATION_KINDS), "EventBridgeConfiguration")
    return {k: copy.deepcopy(configuration[k]) for k in keys if k in configuration}


def plan_enroll(settings: BucketSettings, queue_arn: str) -> Plan:
    plan = Plan(settings.bucket)
    if not settings.replication or not settings.replication.get("Rules"):
        raise EnrollmentError(
            f"{settings.bucket} has no replication configuration: configure replication first "
            "(aws s3api put-bucket-replication), then enroll"
        )
    _plan_metrics_on(settings, plan)
    _plan_notification_on(settings, queue_arn, plan)
    return plan


def _plan_metrics_on(settings: BucketSettings, plan: Plan) -> None:
    assert settings.replication is not None
    replication = copy.deepcopy(settings.replication)
    enabled: list[str] = []
    for rule in replication["Rules"]:
        rule_id = str(rule.get("ID", ""))
        destination = rule.setdefault("Destination", {})
        metrics = destination.get("Metrics") or {}
        if metrics.get("Status") == "Enabled":
            continue
        if "Prefix" in rule and "Filter" not in rule:
            # A rule without Filter is the earlier (V1) schema, which handles delete markers otherwise
            # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteMarkerReplication.html);
            # whether S3 takes Metrics on one is not documented, and converting it is the owner's call.
            plan.notes.append(
                f"rule {rule_id} uses the earlier schema (Prefix, no Filter): not changed; convert it to a "
                "Filter and enroll again, or S3 may send no failure events for it"
            )
            continue
        destination["Metrics"] = {**metrics, "Status": "Enabled"}
        enabled.append(rule_id)
    if not enabled:
        return
    plan.replication = replication
    plan.changes.append(f"replication metrics enabled on rule(s) {', '.join(enabled)}")
    recorded = _recorded(settings.tags) | {rule_digest(r) for r in enabled}
    value = " ".join(sorted(recorded))
    if len(value) > MAX_TAG_VALUE:
        plan.notes.append(
            f"too many rules to record in tag {METRICS_TAG}: unenroll will leave their metrics on"
        )
        return
    plan.tags = {**settings.tags, METRICS_TAG: value}
    plan.changes.append(f"tag {METRICS_TAG} records them, for unenroll")


def _plan_notification_on(settings: BucketSettings, queue_arn: str, plan: Plan) -> None:
    configuration = writable_notification(settings.notification)
    wanted = {"Id": NOTIFICATION_ID, "QueueArn": queue_arn, "Events": list(REPLICATION_EVENTS)}
    queues = configuration.get("QueueConfigurations", [])
    ours = [c for c in queues if c.get("Id") == NOTIFICATION_ID]
    for kind, arn_field in _NOTIFICATION_KINDS:
        for other in configuration.get(kind, []):
            if other.get("Id") == NOTIFICATION_ID or not _replication_events(other.get("Events", [])):
                continue
            target = str(other.get(arn_field))
            if target == queue_arn and _covers_failures(other.get("Events", [])):
                plan.notes.append(
                    f"notification {other.get('Id') or '(no Id)'} already sends replication failure events "
                    f"to {queue_arn}: left as it is"
                )
                return
            raise EnrollmentError(
                f"{settings.bucket}'s notification {other.get('Id') or '(no Id)'} already sends replication "
                f"events to {target}; S3 refuses a second configuration for the same events. Send them "
                f"to {queue_arn} instead (or fan out through an SNS topic that replimend's queue subscribes "
                "to), then enroll again"
            )
    if (
        len(ours) == 1
        and ours[0].get("QueueArn") == queue_arn
        and sorted(ours[0].get("Events", [])) == sorted(REPLICATION_EVENTS)
        and not ours[0].get("Filter")
    ):
        return
    configuration["QueueConfigurations"] = [
        *(c for c in queues if c.get("Id") != NOTIFICATION_ID),
        wanted,
    ]
    plan.notification = configuration
    kept = sum(len(configuration.get(kind, [])) for kind, _ in _NOTIFICATION_KINDS) - 1
    eventbridge = " and EventBridge delivery" if "EventBridgeConfiguration" in configuration else ""
    verb = "replaced" if ours else "added"
    plan.changes.append(
        f"notification {NOTIFICATION_ID} {verb}: {', '.join(REPLICATION_EVENTS)} to {queue_arn} "
        f"({kept} other notification configuration(s){eventbridge} kept)"
    )


def plan_unenroll(settings: BucketSettings, queue_arn: str | None = None) -> Plan:
    """``queue_arn``: remove enroll's notification only if it targets this queue (another stack's
    enrollment of the same bucket is left alone)."""
    plan = Plan(settings.bucket)
    configuration = writable_notification(settings.notification)
    queues = configuration.get("QueueConfigurations", [])
    ours = [c for c in queues if c.get("Id") == NOTIFICATION_ID]
    if queue_arn is not None and any(c.get("QueueArn") != queue_arn for c in ours):
        plan.notes.append(
            f"notification {NOTIFICATION_ID} targets another queue than {queue_arn}: left as it is"
        )
        return plan
    if ours:
        configuration["QueueConfigurations"] = [c for c in queues if c.get("Id") != NOTIFICATION_ID]
        plan.notification = configuration
        plan.changes.append(f"notification {NOTIFICATION_ID} removed (every other notification kept)")
    recorded = _recorded(settings.tags)
    if not recorded:
        if settings.replication:
            plan.notes.append("enroll turned on no replication metrics here: metrics left as they are")
        return plan
    if settings.replication:
        replication = copy.deepcopy(settings.replication)
        disabled: list[str] = []
        for rule in replication.get("Rules", []):
            rule_id = str(rule.get("ID", ""))
            destination = rule.get("Destination") or {}
            metrics = destination.get("Metrics") or {}
            if rule_digest(rule_id) not in recorded or metrics.get("Status") != "Enabled":
                continue
            if (destination.get("ReplicationTime") or {}).get("Status") == "Enabled":
                # S3 RTC requires metrics (API_ReplicationTime); turned on since enroll: keep them.
                plan.notes.append(f"rule {rule_id} uses RTC now: its replication metrics stay on")
                continue
            destination["Metrics"] = {**metrics, "Status": "Disabled"}
            disabled.append(rule_id)
        if disabled:
            plan.replication = replication
            plan.changes.append(f"replication metrics disabled on rule(s) {', '.join(disabled)} (enroll's)")
    plan.tags = {k: v for k, v in settings.tags.items() if k != METRICS_TAG}
    plan.changes.append(f"tag {METRICS_TAG} removed")
    return plan


# ---- the queue policy ---------------------------------------------------------------------------

S3_PRINCIPAL = "s3.amazonaws.com"
_SEND = "sqs:SendMessage"
#: Condition operators evaluated here; a statement with any other (or another key) is not relied on.
_OPERATORS = {
    "stringequals": False,
    "arnequals": False,
    "stringlike": True,
    "arnlike": True,
}


def bucket_arn(bucket: str, queue_arn: str) -> str:
    partition = queue_arn.split(":")[1] if queue_arn.count(":") >= 5 else "aws"
    return f"arn:{partition}:s3:::{bucket}"


def admit_statement(queue_arn: str, bucket: str, account: str) -> dict[str, Any]:
    """AWS's statement for a queue that receives a bucket's notifications ("IAM policy for a
    destination SQS queue", grant-destinations-permissions-to-s3.html)."""
    return {
        "Sid": f"AllowS3Notifications-{bucket}"[:100],
        "Effect": "Allow",
        "Principal": {"Service": S3_PRINCIPAL},
        "Action": _SEND,
        "Resource": queue_arn,
        "Condition": {
            "ArnLike": {"aws:SourceArn": bucket_arn(bucket, queue_arn)},
            "StringEquals": {"aws:SourceAccount": account},
        },
    }


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _principal_is_s3(principal: Any) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    return "*" in _as_list(principal.get("AWS")) or S3_PRINCIPAL in _as_list(principal.get("Service"))


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool | None:
    """True/False when every condition is one evaluated here; None when one is not."""
    for operator, block in conditions.items():
        wildcard = _OPERATORS.get(str(operator).lower())
        if wildcard is None or not isinstance(block, Mapping):
            return None
        for key, values in block.items():
            value = context.get(str(key).lower())
            if value is None:
                return None
            if not any(_like(str(v), value) if wildcard else str(v) == value for v in _as_list(values)):
                return False
    return True


def _applies(statement: Mapping[str, Any], queue_arn: str, context: Mapping[str, str]) -> bool | None:
    if any(k in statement for k in ("NotPrincipal", "NotAction", "NotResource")):
        return None
    if not _principal_is_s3(statement.get("Principal")):
        return False
    if not any(_like(str(a), _SEND, ignore_case=True) for a in _as_list(statement.get("Action"))):
        return False
    if not any(_like(str(r), queue_arn) for r in _as_list(statement.get("Resource"))):
        return False
    return _conditions_hold(statement.get("Condition") or {}, context)


def queue_admits(policy: str | None, queue_arn: str, bucket: str, account: str) -> str | None:
    """None when the queue policy lets S3 send the bucket's notifications, else why not.

    Evaluated: Principal (``*`` or the S3 service), Action, Resource, and the conditions on
    ``aws:SourceArn`` / ``aws:SourceAccount`` that AWS's own example uses. A Deny whose conditions
    name other keys (e.g. ``aws:SecureTransport``) is not taken to apply; an Allow that needs such a
    key is not taken to admit."""
    if not policy:
        return f"{queue_arn} has no queue policy"
    try:
        document = json.loads(policy)
    except ValueError:
        return f"{queue_arn}'s policy is not JSON"
    context = {"aws:sourcearn": bucket_arn(bucket, queue_arn), "aws:sourceaccount": account}
    allowed = False
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, Mapping):
            continue
        applies = _applies(statement, queue_arn, context)
        if statement.get("Effect") == "Deny" and applies:
            return f"statement {statement.get('Sid') or '(no Sid)'} of {queue_arn}'s policy denies it"
        if statement.get("Effect") == "Allow" and applies:
            allowed = True
    if allowed:
        return None
    return f"no statement of {queue_arn}'s policy allows {S3_PRINCIPAL} to send from {bucket}"


def policy_with(policy: str | None, statement: Mapping[str, Any]) -> dict[str, Any]:
    document = json.loads(policy) if policy else {"Version": "2012-10-17", "Statement": []}
    document["Statement"] = [*_as_list(document.get("Statement")), dict(statement)]
    return dict(document)


# ---- reading and writing ------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueVerdict:
    admitted: bool
    why: str = ""
    statement: dict[str, Any] | None = None
    policy: dict[str, Any] | None = None  # the whole policy with the statement added


class Enrollment:
    """Reads a bucket's settings, checks the queue and applies a plan through a ``BucketEnrollment``."""

    def __init__(self, port: BucketEnrollment) -> None:
        self._port = port

    def read(self, bucket: str) -> BucketSettings:
        return BucketSettings(
            bucket=bucket,
            replication=self._port.replication_configuration(bucket),
            notification=self._port.notification_configuration(bucket),
            tags=self._port.bucket_tags(bucket),
        )

    def check_queue(self, bucket: str, queue_arn: str) -> QueueVerdict:
        parts = queue_arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs" or not parts[5]:
            raise EnrollmentError(f"{queue_arn!r} is not an SQS queue ARN")
        if parts[5].endswith(".fifo"):
            raise EnrollmentError(f"{queue_arn} is a FIFO queue: S3 cannot send notifications to one")
        region = self._port.bucket_region(bucket)
        if parts[3] != region:
            # A queue (or topic) destination must be in the bucket's Region ("Supported event
            # destinations": https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html)
            raise EnrollmentError(
                f"{queue_arn} is in {parts[3]}, {bucket} in {region}: S3 needs the same Region"
            )
        account = self._port.account_id()
        policy = self._port.queue_policy(queue_arn)
        why = queue_admits(policy, queue_arn, bucket, account)
        if why is None:
            return QueueVerdict(True)
        statement = admit_statement(queue_arn, bucket, account)
        return QueueVerdict(False, why, statement, policy_with(policy, statement))

    def enroll(self, bucket: str, queue_arn: str, *, dry_run: bool = False) -> Plan:
        """Check the queue, plan, and (unless ``dry_run``) apply; raises ``QueueNotAdmitted`` first."""
        verdict = self.check_queue(bucket, queue_arn)
        if not verdict.admitted:
            raise QueueNotAdmitted(verdict)
        plan = plan_enroll(self.read(bucket), queue_arn)
        if not dry_run:
            self.apply(plan, enrolling=True)
        return plan

    def unenroll(self, bucket: str, *, dry_run: bool = False, queue_arn: str | None = None) -> Plan:
        plan = plan_unenroll(self.read(bucket), queue_arn)
        if not dry_run:
            self.apply(plan, enrolling=False)
        return plan

    def apply(self, plan: Plan, *, enrolling: bool) -> None:
        """Enroll records before it enables and unenroll forgets after it disables, so a crash in
        between leaves a record of everything enroll turned on (re-running either finishes it)."""
        if enrolling and plan.tags is not None:
            self._port.put_bucket_tags(plan.bucket, plan.tags)
        if plan.replication is not None:
            self._port.put_replication_configuration(plan.bucket, plan.replication)
        if plan.notification is not None:
            self._port.put_notification_configuration(plan.bucket, plan.notification)
        if not enrolling and plan.tags is not None:
            self._port.put_bucket_tags(plan.bucket, plan.tags)


__all__ = [
    "METRICS_TAG",
    "NOTIFICATION_ID",
    "REPLICATION_EVENTS",
    "BucketSettings",
    "Enrollment",
    "EnrollmentError",
    "Plan",
    "QueueNotAdmitted",
    "QueueVerdict",
    "admit_statement",
    "plan_enroll",
    "plan_unenroll",
    "queue_admits",
]
