"""The demo's failure scenarios, each a real misconfiguration of an emulated account.

Every scenario owns one source bucket (us-east-1) replicating to one destination bucket (us-west-2)
through its own replication role, set up the way an operator would: versioning, a replication rule
with metrics enabled, and an ``s3:Replication:*`` notification to replimend's FailureQueue. A
scenario then breaks one thing (``misconfigure``); the replication engine decides what happens to
each uploaded object from that state. ``fix`` repairs it the way the registry's CLI says to — or,
for ``fix_claimed_only`` scenarios, only claims to: a runbook marks the incident fixed while the
cause persists, so every Batch Replication job fails the objects again until they run out of
attempts. Scenarios with ``destinations`` replicate to several destination buckets instead (one rule
per destination and key prefix, as V2 rules with Filter and Priority), each destination broken or not
and fixed before its own remediation pass. Nothing here states an outcome: the expected reason and
final states are only what the demo checks the pipeline's results against.

Two scenarios put messages on the FailureQueue themselves (``inject``), for what no bucket state
makes S3 send: a failure event with a reason this release's registry does not know (as when AWS
adds one; its bucket really fails to replicate, but sends S3's own events nowhere), and a malformed
message (``poison``), which must fail alone and end in the dead-letter queue.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from replimend_local.sam.template import REPO_ROOT

SOURCE_REGION = "us-east-1"
#: The ledger state shown for an object the ledger has no record of
NOT_RECORDED = "NOT_RECORDED"
DESTINATION_REGION = "us-west-2"
#: The stuck-PENDING scenario's destination Region, unavailable while its objects are written (an
#: outage of the embedded account: replication-status.html says the objects stay PENDING meanwhile)
OUTAGE_REGION = "eu-west-1"
#: The demo's PendingThresholdHours (the parameter's least): the simulated clock passes it, not the wall's
STUCK_PENDING_THRESHOLD_HOURS = 1

#: Keys uploaded in every scenario: plain, nested, with spaces and non-ASCII characters.
DEMO_KEYS = (
    "reports/2024/q1-summary.csv",
    "photos/Été 2024/plage + soleil #1.jpg",
    "data/part-0001.json",
)

#: A failure reason S3 does not send today: the registry has no entry for it (a test checks that).
UNREGISTERED_REASON = "DstReplicaStorageClassUnsupported"
#: AWS's example of a failure event (the replication-metrics-events page), the shape injected events take.
FAILURE_EVENT_SAMPLE = REPO_ROOT / "events" / "s3-unknown-reason.json"
#: A message cut short: not JSON, so ingest can never record it.
POISON_MESSAGE = '{"Records": [{"eventName": "Replication:OperationFailedReplication", "s3": {"bucket": '

REPLICATION_ACTIONS_SOURCE = [
    "s3:GetReplicationConfiguration",
    "s3:ListBucket",
]
REPLICATION_ACTIONS_OBJECTS = [
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionTagging",
    "s3:GetObjectRetention",
    "s3:GetObjectLegalHold",
]
REPLICATION_ACTIONS_DESTINATION = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]


@dataclass
class ScenarioNames:
    """The resources of one scenario in the emulated account."""

    slug: str
    account_id: str

    @property
    def source_bucket(self) -> str:
        return f"replimend-demo-{self.slug}-src"

    @property
    def destination_bucket(self) -> str:
        return f"replimend-demo-{self.slug}-dst"

    def destination(self, suffix: str) -> str:
        """The bucket of one destination of a multi-destination scenario."""
        return f"replimend-demo-{self.slug}-{suffix}"

    @property
    def inventory_bucket(self) -> str:
        """Where the source's S3 Inventory lists are delivered (the source's Region, as AWS requires)."""
        return f"replimend-demo-{self.slug}-inventory"

    @property
    def role_name(self) -> str:
        return f"replimend-demo-{self.slug}-replication"

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{self.role_name}"


@dataclass
class Account:
    """Clients of the emulated account (plain boto3: the embedded AWS answers) and shared wiring."""

    account_id: str
    failure_queue_arn: str
    clients: Callable[[str, str], Any]
    keys: dict[str, dict[str, str]] = field(default_factory=dict)  # slug -> {"source": arn, "replica": arn}

    def s3(self, region: str = SOURCE_REGION) -> Any:
        return self.clients("s3", region)

    def iam(self) -> Any:
        return self.clients("iam", SOURCE_REGION)

    def kms(self, region: str) -> Any:
        return self.clients("kms", region)

    def send_to_failure_queue(self, body: str) -> None:
        sqs = self.clients("sqs", SOURCE_REGION)
        url = sqs.get_queue_url(QueueName=self.failure_queue_arn.rsplit(":", 1)[1])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body)


# ------------------------------------------------------------------------------------------------
# Building blocks an operator uses


def trust_policy(*services: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def replication_policy(
    names: ScenarioNames,
    *,
    destination_actions: list[str],
    kms: bool = False,
    destination_buckets: tuple[str, ...] = (),
) -> str:
    destinations = destination_buckets or (names.destination_bucket,)
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": REPLICATION_ACTIONS_SOURCE,
            "Resource": f"arn:aws:s3:::{names.source_bucket}",
        },
        {
            "Effect": "Allow",
            "Action": REPLICATION_ACTIONS_OBJECTS,
            "Resource": f"arn:aws:s3:::{names.source_bucket}/*",
        },
        {
            "Effect": "Allow",
            "Action": destination_actions,
            "Resource": [f"arn:aws:s3:::{bucket}/*" for bucket in destinations],
        },
    ]
    if kms:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt*"],
                "Resource": "*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def create_role(account: Account, names: ScenarioNames, *, trusted: bool = True, allow_replicate: bool = True,
                kms: bool = False) -> None:  # fmt: skip
    services = (
        ("s3.amazonaws.com", "batchoperations.s3.amazonaws.com") if trusted else ("lambda.amazonaws.com",)
    )
    account.iam().create_role(RoleName=names.role_name, AssumeRolePolicyDocument=trust_policy(*services))
    destination_actions = REPLICATION_ACTIONS_DESTINATION if allow_replicate else ["s3:ReplicateDelete"]
    account.iam().put_role_policy(
        RoleName=names.role_name,
        PolicyName="replication",
        PolicyDocument=replication_policy(names, destination_actions=destination_actions, kms=kms),
    )


def create_destination(
    account: Account, names: ScenarioNames, bucket: str | None = None, *, region: str = DESTINATION_REGION
) -> None:
    bucket = bucket or names.destination_bucket
    s3 = account.s3(region)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def create_source(account: Account, names: ScenarioNames, *, object_lock: bool = False) -> None:
    s3 = account.s3()
    s3.create_bucket(Bucket=names.source_bucket, ObjectLockEnabledForBucket=object_lock)
    s3.put_bucket_versioning(Bucket=names.source_bucket, VersioningConfiguration={"Status": "Enabled"})


def put_replication(
    account: Account, names: ScenarioNames, *, replica_kms_key: str | None = None, metrics: bool = True
) -> None:
    """One rule for the whole bucket, replication metrics on (S3 sends no failure events without them)
    unless ``metrics`` is False (then ``enroll_with_replimend`` turns them on)."""
    destination: dict[str, Any] = {"Bucket": f"arn:aws:s3:::{names.destination_bucket}"}
    if metrics:
        destination["Metrics"] = {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    rule: dict[str, Any] = {
        "ID": f"{names.slug}-to-{DESTINATION_REGION}",
        "Priority": 1,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": destination,
    }
    if replica_kms_key is not None:
        rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
        destination["EncryptionConfiguration"] = {"ReplicaKmsKeyID": replica_kms_key}
    account.s3().put_bucket_replication(
        Bucket=names.source_bucket, ReplicationConfiguration={"Role": names.role_arn, "Rules": [rule]}
    )


def metrics_rule(rule_id: str, priority: int, prefix: str, destination_bucket: str) -> dict[str, Any]:
    """A V2 rule (Filter, Priority, DeleteMarkerReplication) with replication metrics on."""
    return {
        "ID": rule_id,
        "Priority": priority,
        "Status": "Enabled",
        "Filter": {"Prefix": prefix},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {
            "Bucket": f"arn:aws:s3:::{destination_bucket}",
            "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
        },
    }


def enroll(account: Account, names: ScenarioNames) -> None:
    """Send the source bucket's replication events to replimend's FailureQueue."""
    account.s3().put_bucket_notification_configuration(
        Bucket=names.source_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "replimend-replication-events",
                    "QueueArn": account.failure_queue_arn,
                    "Events": ["s3:Replication:*"],
                }
            ]
        },
    )


def enroll_with_replimend(account: Account, names: ScenarioNames) -> list[str]:
    """What `replimend enroll --bucket SRC` does: metrics on, the notification merged in, after the
    queue policy (the stack's, from SourceBucketArns) is checked to admit the bucket."""
    from replimend.aws.enrollment import AwsBucketEnrollment
    from replimend.enrollment import Enrollment

    port = AwsBucketEnrollment(lambda service, region: account.clients(service, region or SOURCE_REGION))
    return Enrollment(port).enroll(names.source_bucket, account.failure_queue_arn).changes


def healthy_setup(account: Account, names: ScenarioNames, **overrides: Any) -> None:
    create_role(
        account,
        names,
        trusted=overrides.get("trusted", True),
        allow_replicate=overrides.get("allow_replicate", True),
        kms=overrides.get("kms", False),
    )
    create_destination(account, names, region=overrides.get("destination_region", DESTINATION_REGION))
    create_source(account, names, object_lock=overrides.get("object_lock", False))
    by_command = overrides.get("enroll_by_command", False)
    if overrides.get("replication", True):
        put_replication(
            account,
            names,
            replica_kms_key=overrides.get("replica_kms_key"),
            metrics=overrides.get("metrics", True) and not by_command,
        )
    if by_command:
        enroll_with_replimend(account, names)
    elif overrides.get("enrolled", True):
        enroll(account, names)


# ------------------------------------------------------------------------------------------------
# Scenarios


@dataclass(frozen=True)
class DestinationSpec:
    """One destination of a multi-destination scenario: the keys its rules select (one rule per
    prefix), whether its versioning is suspended after setup (DstBucketUnversioned) and before which
    remediation pass the operator re-enables it."""

    suffix: str
    prefixes: tuple[str, ...] = ("",)
    broken: bool = False
    fix_pass: int = 1

    @property
    def expected_reason(self) -> str | None:
        return "DstBucketUnversioned" if self.broken else None

    def selects(self, key: str) -> bool:
        return any(key.startswith(prefix) for prefix in self.prefixes)


@dataclass(frozen=True)
class Scenario:
    slug: str
    title: str
    #: the failure reason S3 reports for this cause (None: nothing fails)
    expected_reason: str | None
    setup: Callable[[Account, ScenarioNames], None]
    #: what the operator does to repair the cause (None: nothing to repair)
    fix: Callable[[Account, ScenarioNames], str] | None = None
    fix_summary: str = ""
    #: SSE-KMS uploads with the scenario's source key
    sse_kms: bool = False
    #: keys whose source version is deleted after the failure and before remediation
    deleted_keys: tuple[str, ...] = ()
    #: ``fix`` changes nothing: a runbook marks the incident fixed (again before every pass, when a
    #: failed job has reopened it) though the cause persists
    fix_claimed_only: bool = False
    #: final states allowed once remediation has run, and after detection only
    allowed_after_remediation: frozenset[str] = frozenset({"REPLICATED"})
    allowed_after_detection: frozenset[str] = frozenset({"FAILED", "BLOCKED"})
    #: several destinations (empty: the one ``-dst`` destination with ``expected_reason``)
    destinations: tuple[DestinationSpec, ...] = ()
    #: no event reports these objects: after the fix, ``replimend backfill`` with these
    #: ObjectReplicationStatuses finds and replicates them (``found_by: backfill``)
    backfill_statuses: tuple[str, ...] = ()
    #: after the uploads: puts messages on the FailureQueue itself (given each uploaded (key, version
    #: id)); returns their bodies
    inject: Callable[[Account, ScenarioNames, Sequence[tuple[str, str]]], list[str]] | None = None
    #: the injected messages are malformed: each must fail alone and end in the dead-letter queue
    poison: bool = False
    #: the destination's Region, unavailable from before the uploads until the stuck-PENDING step: the
    #: objects stay PENDING (no event), the source's S3 Inventory shows them, then S3 resumes them
    outage_region: str | None = None

    def allowed_final(
        self, key: str, *, remediation: bool, expected_reason: str | None = None
    ) -> frozenset[str]:
        if self.backfill_statuses:
            return self.allowed_after_remediation if remediation else self.allowed_after_detection
        reason = self.expected_reason if not self.destinations else expected_reason
        if reason is None:
            return frozenset({NOT_RECORDED})  # replicated live: the ledger never hears of it
        if remediation and key in self.deleted_keys:
            return frozenset({"OBSOLETE"})
        return self.allowed_after_remediation if remediation else self.allowed_after_detection

    def targets(self, names: ScenarioNames, key: str) -> list[tuple[str, str | None, int | None]]:
        """Each destination ``key`` replicates to: (bucket, the reason S3 reports or None, the pass
        before which its cause is fixed or None)."""
        if not self.destinations:
            fix_pass = 1 if self.fix is not None else None
            return [(names.destination_bucket, self.expected_reason, fix_pass)]
        return [
            (names.destination(d.suffix), d.expected_reason, d.fix_pass if d.broken else None)
            for d in self.destinations
            if d.selects(key)
        ]


def _setup_healthy(account: Account, names: ScenarioNames) -> None:
    healthy_setup(account, names)


def _setup_unversioned(account: Account, names: ScenarioNames) -> None:
    # S3 refuses a replication rule towards an unversioned bucket, so versioning is suspended afterwards
    healthy_setup(account, names)
    account.s3(DESTINATION_REGION).put_bucket_versioning(
        Bucket=names.destination_bucket, VersioningConfiguration={"Status": "Suspended"}
    )


def _fix_versioning(account: Account, names: ScenarioNames) -> str:
    account.s3(DESTINATION_REGION).put_bucket_versioning(
        Bucket=names.destination_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    return (
        f"aws s3api put-bucket-versioning --bucket {names.destination_bucket} "
        "--versioning-configuration Status=Enabled"
    )


def _setup_silent(account: Account, names: ScenarioNames) -> None:
    # the rule has no replication metrics: S3 sends no failure event, only the status says FAILED
    healthy_setup(account, names, metrics=False)
    account.s3(DESTINATION_REGION).put_bucket_versioning(
        Bucket=names.destination_bucket, VersioningConfiguration={"Status": "Suspended"}
    )


def _setup_existing(account: Account, names: ScenarioNames) -> None:
    # buckets, role and notification, but no replication rule yet: the objects are uploaded first
    healthy_setup(account, names, replication=False)


def _setup_outage(account: Account, names: ScenarioNames) -> None:
    # a healthy rule to a destination in OUTAGE_REGION, and a daily CSV inventory with ReplicationStatus
    healthy_setup(account, names, destination_region=OUTAGE_REGION)
    s3 = account.s3()
    s3.create_bucket(Bucket=names.inventory_bucket)
    # "Amazon S3 Inventory": the destination bucket policy must let s3.amazonaws.com write the lists
    # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/configure-inventory.html)
    inventory_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InventoryDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{names.inventory_bucket}/*",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{names.source_bucket}"},
                    "StringEquals": {"aws:SourceAccount": account.account_id},
                },
            }
        ],
    }
    s3.put_bucket_policy(Bucket=names.inventory_bucket, Policy=json.dumps(inventory_policy))
    s3.put_bucket_inventory_configuration(
        Bucket=names.source_bucket,
        Id="replication-status",
        InventoryConfiguration={
            "Id": "replication-status",
            "IsEnabled": True,
            "IncludedObjectVersions": "All",
            "Destination": {
                "S3BucketDestination": {
                    "Bucket": f"arn:aws:s3:::{names.inventory_bucket}",
                    "Format": "CSV",
                    "Prefix": "inventory",
                }
            },
            "OptionalFields": ["Size", "LastModifiedDate", "ReplicationStatus"],
            "Schedule": {"Frequency": "Daily"},
        },
    )


def _configure_replication(account: Account, names: ScenarioNames) -> str:
    put_replication(account, names)
    return (
        f"aws s3api put-bucket-replication --bucket {names.source_bucket} --replication-configuration "
        "file://replication.json  (live replication copies new objects only)"
    )


def _setup_no_replicate(account: Account, names: ScenarioNames) -> None:
    # this scenario's bucket starts with metrics off and no notification: `replimend enroll` wires it
    healthy_setup(account, names, allow_replicate=False, enroll_by_command=True)


def _fix_role_policy(account: Account, names: ScenarioNames) -> str:
    account.iam().put_role_policy(
        RoleName=names.role_name,
        PolicyName="replication",
        PolicyDocument=replication_policy(
            names, destination_actions=REPLICATION_ACTIONS_DESTINATION, kms=names.slug.startswith("kms")
        ),
    )
    return f"aws iam put-role-policy --role-name {names.role_name} --policy-name replication --policy-document file://replication.json"  # noqa: E501


def _setup_untrusted(account: Account, names: ScenarioNames) -> None:
    healthy_setup(account, names, trusted=False)


def _fix_trust(account: Account, names: ScenarioNames) -> str:
    account.iam().update_assume_role_policy(
        RoleName=names.role_name,
        PolicyDocument=trust_policy("s3.amazonaws.com", "batchoperations.s3.amazonaws.com"),
    )
    return (
        f"aws iam update-assume-role-policy --role-name {names.role_name} --policy-document file://trust.json"
    )


def _source_key(account: Account, names: ScenarioNames) -> str:
    metadata = account.kms(SOURCE_REGION).create_key(Description=f"{names.slug} source objects")[
        "KeyMetadata"
    ]
    account.keys.setdefault(names.slug, {})["source"] = metadata["Arn"]
    return str(metadata["Arn"])


def _setup_kms_missing_key(account: Account, names: ScenarioNames) -> None:
    _source_key(account, names)
    # the rule names a replica key that was never created in the destination Region
    missing = (
        f"arn:aws:kms:{DESTINATION_REGION}:{account.account_id}:key/00000000-dead-4bad-beef-000000000000"
    )
    account.keys[names.slug]["replica"] = missing
    healthy_setup(account, names, kms=True, replica_kms_key=missing)


def _fix_kms_missing_key(account: Account, names: ScenarioNames) -> str:
    metadata = account.kms(DESTINATION_REGION).create_key(Description=f"{names.slug} replicas")["KeyMetadata"]
    account.keys[names.slug]["replica"] = metadata["Arn"]
    put_replication(account, names, replica_kms_key=metadata["Arn"])
    return (
        f"aws kms create-key --region {DESTINATION_REGION}; aws s3api put-bucket-replication --bucket "
        f"{names.source_bucket} (ReplicaKmsKeyID={metadata['KeyId']})"
    )


def _setup_kms_disabled_key(account: Account, names: ScenarioNames) -> None:
    _source_key(account, names)
    kms = account.kms(DESTINATION_REGION)
    metadata = kms.create_key(Description=f"{names.slug} replicas")["KeyMetadata"]
    kms.disable_key(KeyId=metadata["KeyId"])
    account.keys[names.slug]["replica"] = metadata["Arn"]
    healthy_setup(account, names, kms=True, replica_kms_key=metadata["Arn"])


def _fix_kms_disabled_key(account: Account, names: ScenarioNames) -> str:
    key_id = account.keys[names.slug]["replica"].rsplit("/", 1)[1]
    account.kms(DESTINATION_REGION).enable_key(KeyId=key_id)
    return f"aws kms enable-key --region {DESTINATION_REGION} --key-id {key_id}"


def _setup_missing_destination(account: Account, names: ScenarioNames) -> None:
    # S3 checks the destination when the rule is saved; it goes missing afterwards
    healthy_setup(account, names)
    account.s3(DESTINATION_REGION).delete_bucket(Bucket=names.destination_bucket)


def _fix_missing_destination(account: Account, names: ScenarioNames) -> str:
    create_destination(account, names)
    return (
        f"aws s3api create-bucket --bucket {names.destination_bucket} --region {DESTINATION_REGION} "
        f"--create-bucket-configuration LocationConstraint={DESTINATION_REGION}; "
        f"aws s3api put-bucket-versioning --bucket {names.destination_bucket} "
        "--versioning-configuration Status=Enabled"
    )


def setup_destinations(
    account: Account, names: ScenarioNames, destinations: tuple[DestinationSpec, ...]
) -> None:
    """A source replicating to several destinations, one rule per (destination, prefix) in priority
    order; the broken destinations' versioning is suspended once the rules are saved."""
    buckets = tuple(names.destination(d.suffix) for d in destinations)
    account.iam().create_role(
        RoleName=names.role_name,
        AssumeRolePolicyDocument=trust_policy("s3.amazonaws.com", "batchoperations.s3.amazonaws.com"),
    )
    account.iam().put_role_policy(
        RoleName=names.role_name,
        PolicyName="replication",
        PolicyDocument=replication_policy(
            names, destination_actions=REPLICATION_ACTIONS_DESTINATION, destination_buckets=buckets
        ),
    )
    for bucket in buckets:
        create_destination(account, names, bucket)
    create_source(account, names)
    rules: list[dict[str, Any]] = []
    for spec, bucket in zip(destinations, buckets, strict=True):
        for prefix in spec.prefixes:
            name = f"{spec.suffix}-{prefix.strip('/') or 'all'}"
            rules.append(metrics_rule(name, len(rules) + 1, prefix, bucket))
    account.s3().put_bucket_replication(
        Bucket=names.source_bucket, ReplicationConfiguration={"Role": names.role_arn, "Rules": rules}
    )
    enroll(account, names)
    for spec, bucket in zip(destinations, buckets, strict=True):
        if spec.broken:
            account.s3(DESTINATION_REGION).put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
            )


def fix_destination(account: Account, names: ScenarioNames, spec: DestinationSpec) -> str:
    bucket = names.destination(spec.suffix)
    account.s3(DESTINATION_REGION).put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    return f"aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled"


#: one healthy destination and one broken, every key to both
ONE_OF_TWO_BROKEN = (DestinationSpec("ok"), DestinationSpec("broken", broken=True))
#: two broken destinations selecting different keys, fixed before passes 1 and 2
FIXED_APART = (
    DestinationSpec("first", prefixes=("reports/", "data/"), broken=True, fix_pass=1),
    DestinationSpec("second", prefixes=("photos/",), broken=True, fix_pass=2),
)


def _claim_fixed(account: Account, names: ScenarioNames) -> str:
    # the runbook's only action is the gate's flag (set by the demo); the role policy stays as it is
    return (
        f"replimend incident fixed --source {names.source_bucket} --destination {names.destination_bucket} "
        "--reason DstPutObjectNotPermitted  (role policy left unchanged)"
    )


def _setup_object_lock(account: Account, names: ScenarioNames) -> None:
    healthy_setup(account, names, object_lock=True)


def _fix_object_lock(account: Account, names: ScenarioNames) -> str:
    account.s3(DESTINATION_REGION).put_object_lock_configuration(
        Bucket=names.destination_bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
    )
    return (
        f"aws s3api put-object-lock-configuration --bucket {names.destination_bucket} "
        "--object-lock-configuration ObjectLockEnabled=Enabled"
    )


def _setup_unenrolled_no_replicate(account: Account, names: ScenarioNames) -> None:
    # replication really fails, but S3's own events go nowhere: only the injected ones arrive
    healthy_setup(account, names, allow_replicate=False, enrolled=False)


def failure_event(account: Account, names: ScenarioNames, key: str, version_id: str, reason: str) -> str:
    """An SQS body as S3 sends it for a failed replication of ``key``, with ``reason``."""
    document = json.loads(FAILURE_EVENT_SAMPLE.read_text(encoding="utf-8"))
    record = document["Records"][0]
    # the demo's clock is simulated: datetime.now() reads it
    record["eventTime"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record["responseElements"]["x-amz-request-id"] = secrets.token_hex(8).upper()
    record["s3"]["bucket"] = {
        "name": names.source_bucket,
        "ownerIdentity": {"principalId": account.account_id},
        "arn": f"arn:aws:s3:::{names.source_bucket}",
    }
    # S3 sends keys URL-encoded, a space as '+' (notification-content-structure)
    record["s3"]["object"].update(
        {
            "key": quote_plus(key, safe="/"),
            "versionId": version_id,
            "sequencer": f"{secrets.randbits(64):018X}",
        }
    )
    record["replicationEventData"].update(
        {
            "replicationRuleId": f"{names.slug}-to-{DESTINATION_REGION}",
            "destinationBucket": f"arn:aws:s3:::{names.destination_bucket}",
            "failureReason": reason,
        }
    )
    return json.dumps(document)


def _inject_unregistered_reason(
    account: Account, names: ScenarioNames, versions: Sequence[tuple[str, str]]
) -> list[str]:
    bodies = [failure_event(account, names, key, version, UNREGISTERED_REASON) for key, version in versions]
    for body in bodies:
        account.send_to_failure_queue(body)
    return bodies


def _inject_poison(
    account: Account, _names: ScenarioNames, _versions: Sequence[tuple[str, str]]
) -> list[str]:
    account.send_to_failure_queue(POISON_MESSAGE)
    return [POISON_MESSAGE]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("healthy", "Healthy rule (for contrast)", None, _setup_healthy),
    Scenario(
        "unversioned",
        "Destination versioning disabled",
        "DstBucketUnversioned",
        _setup_unversioned,
        _fix_versioning,
        "enable versioning on the destination bucket",
    ),
    Scenario(
        "no-replicate",
        "Replication role lacks s3:ReplicateObject",
        "DstPutObjectNotPermitted",
        _setup_no_replicate,
        _fix_role_policy,
        "grant s3:ReplicateObject on the destination in the role policy",
    ),
    Scenario(
        "untrusted",
        "Replication role not trusted by S3",
        "AssumeRoleNotPermitted",
        _setup_untrusted,
        _fix_trust,
        "trust s3.amazonaws.com (and batchoperations.s3.amazonaws.com) in the role",
    ),
    Scenario(
        "kms-no-key",
        "SSE-KMS objects, replica key does not exist",
        "DstKmsKeyNotFound",
        _setup_kms_missing_key,
        _fix_kms_missing_key,
        "create a key in the destination Region and set ReplicaKmsKeyID",
        sse_kms=True,
    ),
    Scenario(
        "kms-disabled",
        "SSE-KMS objects, replica key disabled",
        "DstKmsKeyInvalidState",
        _setup_kms_disabled_key,
        _fix_kms_disabled_key,
        "enable the destination KMS key",
        sse_kms=True,
    ),
    Scenario(
        "no-destination",
        "Destination bucket missing",
        "DstBucketNotFound",
        _setup_missing_destination,
        _fix_missing_destination,
        "create the destination bucket (versioned) in us-west-2",
    ),
    Scenario(
        "object-lock",
        "Object Lock on the source only",
        "DstBucketObjectLockConfigMissing",
        _setup_object_lock,
        _fix_object_lock,
        "enable Object Lock on the destination bucket",
    ),
    Scenario(
        "not-fixed",
        "Role lacks s3:ReplicateObject, and nobody has fixed it yet",
        "DstPutObjectNotPermitted",
        _setup_no_replicate,
        None,
        "(left broken: the gate must hold these objects and start no job)",
        allowed_after_remediation=frozenset({"FAILED", "BLOCKED"}),
    ),
    Scenario(
        "still-broken",
        "Role lacks s3:ReplicateObject; a runbook marks it fixed without fixing it",
        "DstPutObjectNotPermitted",
        _setup_no_replicate,
        _claim_fixed,
        "a runbook marks the incident fixed (before every pass); the role policy is never changed",
        fix_claimed_only=True,
        allowed_after_remediation=frozenset({"GAVE_UP"}),
    ),
    Scenario(
        "two-dest",
        "Two destinations: one healthy, one with versioning disabled",
        "DstBucketUnversioned",
        lambda account, names: setup_destinations(account, names, ONE_OF_TWO_BROKEN),
        fix_summary="enable versioning on the broken destination (the healthy one never failed)",
        destinations=ONE_OF_TWO_BROKEN,
    ),
    Scenario(
        "fixed-apart",
        "Two broken destinations (versioning disabled), fixed one pass apart",
        "DstBucketUnversioned",
        lambda account, names: setup_destinations(account, names, FIXED_APART),
        fix_summary="enable versioning on each destination, the second one a pass later",
        destinations=FIXED_APART,
    ),
    Scenario(
        "silent",
        "Destination versioning disabled, replication metrics off: no failure event",
        None,
        _setup_silent,
        _fix_versioning,
        "enable versioning on the destination bucket",
        allowed_after_detection=frozenset({NOT_RECORDED}),  # S3 says FAILED; no event told the ledger
        backfill_statuses=("FAILED",),
    ),
    Scenario(
        "existing",
        "Objects uploaded before replication was configured",
        None,
        _setup_existing,
        _configure_replication,
        "configure replication (it copies new objects only)",
        allowed_after_detection=frozenset({NOT_RECORDED}),
        backfill_statuses=("NONE",),
    ),
    Scenario(
        "stuck-pending",
        f"Destination Region ({OUTAGE_REGION}) unavailable: objects stay PENDING, no event",
        None,
        _setup_outage,
        outage_region=OUTAGE_REGION,
    ),
    Scenario(
        "deleted",
        "Object deleted before it could be repaired",
        "DstBucketUnversioned",
        _setup_unversioned,
        _fix_versioning,
        "enable versioning on the destination bucket",
        deleted_keys=(DEMO_KEYS[1],),
    ),
    # Injected after every bucket's uploads, in this order: the malformed message then shares its
    # ingest batch with the unknown-reason events behind it.
    Scenario(
        "poison-message",
        "A malformed message on the FailureQueue (its bucket is healthy)",
        None,
        _setup_healthy,
        inject=_inject_poison,
        poison=True,
    ),
    Scenario(
        "unknown-reason",
        "S3 reports a failure reason this release does not know",
        UNREGISTERED_REASON,
        _setup_unenrolled_no_replicate,
        None,
        "(none: a person must look at a reason replimend does not know; no job is started)",
        inject=_inject_unregistered_reason,
        allowed_after_remediation=frozenset({"ESCALATED"}),
        allowed_after_detection=frozenset({"ESCALATED"}),
    ),
)
