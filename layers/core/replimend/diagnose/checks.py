"""The registry of diagnosis checks: one declarative ``Check`` per name of ``reasons.CHECKS``.

Each entry says what it reads (API operations, as botocore's service models name them), the AWS page
its rule comes from, and how it evaluates; the failure reasons it explains are the reason entries
that name it (``reasons.REASONS[...].checks``), so the two registries cannot drift. A meta-test walks
them all. An evaluation returns PASS / FAIL / WARN / SKIP with the evidence read and, on FAIL, the
AWS CLI command that fixes it with the real names.

The groups are issue 8's: 1 versioning · 2 replication rule and filter · 3 replication role ·
4 destination bucket · 5 cross-account ownership · 6 KMS · 7 Object Lock · 8 metrics and the failure
notification · 9 Batch Operations role and replimend's buckets (and the source object itself: 0).
"""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from replimend.backfill.inventory import usable_inventory
from replimend.diagnose import rules
from replimend.diagnose.facts import Facts
from replimend.diagnose.model import CheckResult, Status
from replimend.errors import NotFoundError, ReplimendError
from replimend.ports import SimulationRequest
from replimend.reasons import CHECKS, EVENT_TYPE_ENTRIES, REASONS, UNKNOWN_REASON

Outcome = tuple[Status, str, str | None]  # status, evidence, fix
S3_PRINCIPAL = "s3.amazonaws.com"
BATCH_PRINCIPAL = "batchoperations.s3.amazonaws.com"
_GLACIER = frozenset({"GLACIER", "DEEP_ARCHIVE"})
_FAILURE_EVENTS = frozenset({"s3:Replication:*", "s3:Replication:OperationFailedReplication"})
DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/"


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # a key of reasons.CHECKS
    group: int  # issue 8's check group (0: the source object)
    reads: tuple[str, ...]  # "service:Operation" as botocore's models name the operations
    doc: str  # the AWS page (or botocore model shape) the rule comes from
    evaluate: Callable[[Facts], Outcome]
    needs_key: bool = False  # SKIP unless an object key is given

    @property
    def description(self) -> str:
        return CHECKS[self.name]

    @property
    def explains(self) -> tuple[str, ...]:
        """The failure reasons (and event types) whose registry entry names this check."""
        entries = [*REASONS.values(), UNKNOWN_REASON, *EVENT_TYPE_ENTRIES.values()]
        return tuple(e.code for e in entries if self.name in e.checks)

    def run(self, facts: Facts) -> CheckResult:
        if self.needs_key and facts.target.key is None:
            return CheckResult(self.name, Status.SKIP, "needs an object (--key)")
        try:
            status, evidence, fix = self.evaluate(facts)
        except NotFoundError as exc:
            return CheckResult(self.name, Status.SKIP, f"not evaluated: {exc}")
        except ReplimendError as exc:
            return CheckResult(self.name, Status.WARN, f"could not read: {exc}")
        return CheckResult(self.name, status, evidence, fix if status is Status.FAIL else None)


def _pass(evidence: str) -> Outcome:
    return Status.PASS, evidence, None


def _fail(evidence: str, fix: str) -> Outcome:
    return Status.FAIL, evidence, fix


def _warn(evidence: str) -> Outcome:
    return Status.WARN, evidence, None


def _skip(evidence: str) -> Outcome:
    return Status.SKIP, evidence, None


def _json(document: Any) -> str:
    return shlex.quote(json.dumps(document, separators=(",", ":")))


def _region_flag(facts: Facts, bucket: str) -> str:
    try:
        return f" --region {facts.region(bucket)}"
    except ReplimendError:
        return ""


def _put_replication(facts: Facts, change: Callable[[dict[str, Any]], None]) -> str:
    """``put-bucket-replication`` with the configuration as read, ``change`` applied to the rules for
    the destination (PutBucketReplication replaces the whole configuration)."""
    config = copy.deepcopy(facts.config() or {})
    for rule in config.get("Rules", []):
        if rules.destination_arn(rule) == facts.target.destination_arn:
            change(rule)
    return (
        f"aws s3api put-bucket-replication --bucket {facts.target.source}"
        f"{_region_flag(facts, facts.target.source)} --replication-configuration {_json(config)}"
    )


def _account_arn_parts(facts: Facts) -> tuple[str, str] | None:
    """(partition, account) of the source's account, from an ARN replimend knows: the replication
    role's, else its own Batch Operations role's or queue's (deployed in the sources' account)."""
    for arn in (facts.role_arn(), facts.setup.batch_role_arn, facts.setup.failure_queue_arn):
        parts = (arn or "").split(":")
        if len(parts) > 4 and parts[4].isdigit():
            return parts[1], parts[4]
    return None


def _destination_account(facts: Facts) -> tuple[str, str] | None:
    known = _account_arn_parts(facts)
    rule = facts.rule()
    other = str(((rule or {}).get("Destination") or {}).get("Account") or "")
    if known and other:
        return known[0], other  # a cross-account rule names the destination's owner
    return known


def _create_bucket(bucket: str, region: str) -> str:
    # us-east-1 takes no LocationConstraint (CreateBucket: "us-east-1 ... do not specify it")
    location = "" if region == "us-east-1" else f" --create-bucket-configuration LocationConstraint={region}"
    return f"aws s3api create-bucket --bucket {bucket} --region {region}{location}"


def _new_replica_key(facts: Facts, region: str) -> tuple[str, str]:
    """A command creating a KMS key for replicas in ``region`` under an alias named after the
    destination, and the alias ARN to name it by (ReplicaKmsKeyID takes a key ARN or an alias ARN:
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_EncryptionConfiguration.html)."""
    alias = f"alias/{facts.target.destination}-replicas"
    description = shlex.quote(f"replicas in {facts.target.destination}")
    command = (
        f"aws kms create-alias --region {region} --alias-name {alias} --target-key-id "
        f'"$(aws kms create-key --region {region} --description {description} '
        '--query KeyMetadata.KeyId --output text)"'
    )
    owner = _destination_account(facts)
    partition, account = owner if owner else ("aws", "<destination-account-id>")
    return command, f"arn:{partition}:kms:{region}:{account}:{alias}"


def _put_role_policy(role_arn: str, policy_name: str, actions: list[str], resource: str) -> str:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": sorted(actions), "Resource": resource}],
    }
    return (
        f"aws iam put-role-policy --role-name {role_arn.rsplit('/', 1)[-1]} --policy-name {policy_name} "
        f"--policy-document {_json(document)}"
    )


def _denied(results: list[Any]) -> list[str]:
    return sorted({r.action for r in results if not r.allowed})


def _decisions(results: list[Any]) -> str:
    return ", ".join(f"{r.action}: {r.decision}" for r in results)


# ---- 0 · the source object ---------------------------------------------------------------------


def _source_object_exists(facts: Facts) -> Outcome:
    target = facts.target
    version = f" version {target.version_id}" if target.version_id else ""
    try:
        head = facts.head()
    except NotFoundError:
        return _fail(
            f"HeadObject s3://{target.source}/{target.key}{version}: not found "
            "(deleted: nothing to replicate)",
            f"aws s3api list-object-versions --bucket {target.source} "
            f"--prefix {shlex.quote(target.key or '')}",
        )
    if head.get("DeleteMarker"):
        return _pass(f"s3://{target.source}/{target.key}{version} is a delete marker")
    return _pass(
        f"s3://{target.source}/{target.key}{version} exists ({head.get('ContentLength', '?')} bytes)"
    )


def _source_replication_status(facts: Facts) -> Outcome:
    status = str(facts.head().get("ReplicationStatus") or "")
    # botocore's enum has COMPLETE and COMPLETED; the user guide uses COMPLETED (aws-facts.md §6).
    if status in ("COMPLETED", "COMPLETE"):
        return _pass("x-amz-replication-status COMPLETED: every destination has it")
    if not status:
        return _warn("no x-amz-replication-status: no rule applied to the object when it was written")
    return _warn(f"x-amz-replication-status {status}")


def _source_storage_class(facts: Facts) -> Outcome:
    storage_class = str(facts.head().get("StorageClass") or "STANDARD")
    archive = facts.head().get("ArchiveStatus")
    if storage_class in _GLACIER or archive:
        target = facts.target
        version = f" --version-id {target.version_id}" if target.version_id else ""
        return _fail(
            f"storage class {storage_class}{f' ({archive})' if archive else ''}: Batch Replication cannot "
            "replicate archived objects",
            f"aws s3api restore-object --bucket {target.source} --key {shlex.quote(target.key or '')}"
            f"{version} --restore-request Days=7",
        )
    return _pass(f"storage class {storage_class}")


# ---- 1 · versioning ----------------------------------------------------------------------------


def _versioning(bucket_of: Callable[[Facts], str]) -> Callable[[Facts], Outcome]:
    def evaluate(facts: Facts) -> Outcome:
        bucket = bucket_of(facts)
        status = facts.versioning(bucket)
        if status == "Enabled":
            return _pass(f"GetBucketVersioning {bucket}: Enabled")
        return _fail(
            f"GetBucketVersioning {bucket}: {status or 'never enabled'} (replication needs Enabled)",
            f"aws s3api put-bucket-versioning --bucket {bucket}{_region_flag(facts, bucket)} "
            "--versioning-configuration Status=Enabled",
        )

    return evaluate


# ---- 2 · the replication rule ------------------------------------------------------------------


def _replication_rule(facts: Facts) -> Outcome:
    target = facts.target
    config = facts.config()
    if config is None:
        known = _account_arn_parts(facts)
        partition, account = known if known else ("aws", "<account-id>")
        role_name = f"{target.source}-replication"[:64]
        return _fail(
            f"GetBucketReplication {target.source}: no replication configuration",
            f"aws iam create-role --role-name {role_name} --assume-role-policy-document "
            + _json(_trust_document(S3_PRINCIPAL))
            + "  # then grant it what replication_role_*_permissions list\n"
            f"aws s3api put-bucket-replication --bucket {target.source} --replication-configuration "
            + _json(
                {
                    "Role": f"arn:{partition}:iam::{account}:role/{role_name}",
                    "Rules": [
                        {
                            "ID": f"to-{target.destination}"[:255],
                            "Priority": 1,
                            "Status": "Enabled",
                            "Filter": {"Prefix": ""},
                            "DeleteMarkerReplication": {"Status": "Disabled"},
                            "Destination": {
                                "Bucket": target.destination_arn,
                                "Metrics": {"Status": "Enabled"},
                            },
                        }
                    ],
                }
            ),
        )
    matching = facts.rules()
    if not matching:
        others = ", ".join(rules.destinations(config)) or "none"
        return _fail(
            f"no rule replicates {target.source} to {target.destination} (destinations: {others})",
            f"aws s3api get-bucket-replication --bucket {target.source}  # then add a rule for "
            f"{target.destination_arn} and put-bucket-replication",
        )
    enabled = facts.enabled_rules()
    if not enabled:
        ids = ", ".join(str(r.get("ID", "?")) for r in matching)
        return _fail(
            f"rule(s) {ids} for {target.destination} are Disabled",
            _put_replication(facts, lambda rule: rule.update(Status="Enabled")),
        )
    rule = enabled[0]
    return _pass(
        f"rule {rule.get('ID', '?')} (priority {rule.get('Priority', '-')}) Enabled, "
        f"{rules.describe_filter(rule)}, role {config.get('Role')}"
    )


def _rule_filter(facts: Facts) -> Outcome:
    target = facts.target
    enabled = facts.enabled_rules()
    if not enabled:
        return _skip("no enabled rule for this destination (replication_rule)")
    head = facts.head()
    kms = str(head.get("ServerSideEncryption", "")).startswith("aws:kms")
    tags = facts.tags()
    why_not = {str(r.get("ID", "?")): rules.matches(r, target.key or "", tags, kms=kms) for r in enabled}
    winner = facts.rule()
    if winner is None:
        reasons = "; ".join(f"{rule_id}: {why}" for rule_id, why in why_not.items())
        return _fail(
            f"no enabled rule for {target.destination} matches {target.key!r} ({reasons})",
            _put_replication(facts, lambda rule: rule.update(Filter={"Prefix": ""}))
            if not kms
            else _put_replication(
                facts,
                lambda rule: rule.update(
                    SourceSelectionCriteria={"SseKmsEncryptedObjects": {"Status": "Enabled"}}
                ),
            ),
        )
    matching = [rule_id for rule_id, why in why_not.items() if why is None]
    also = (
        f" (also matching: {', '.join(m for m in matching if m != winner.get('ID'))})"
        if len(matching) > 1
        else ""
    )
    return _pass(
        f"rule {winner.get('ID', '?')} (priority {winner.get('Priority', '-')}) matches and wins{also}; "
        f"tags {tags or 'none'}"
    )


# ---- 3 · the replication role ------------------------------------------------------------------


def _role_arn(facts: Facts) -> str:
    arn = facts.role_arn()
    if arn is None:
        raise NotFoundError(f"no replication configuration on {facts.target.source}: no role to check")
    return arn


def _replication_role_trust(facts: Facts) -> Outcome:
    arn = _role_arn(facts)
    try:
        role = facts.role(arn)
    except NotFoundError:
        return _fail(
            f"GetRole {arn}: the role does not exist",
            f"aws iam create-role --role-name {arn.rsplit('/', 1)[-1]} --assume-role-policy-document "
            + _json(_trust_document(S3_PRINCIPAL)),
        )
    services = rules.trusted_services(role.trust_policy)
    conditions = rules.trust_conditions(role.trust_policy)
    note = f" (conditions on {', '.join(conditions)}: not evaluated)" if conditions else ""
    if S3_PRINCIPAL not in services:
        return _fail(
            f"role {role.name} trusts {sorted(services) or 'no service'}, not {S3_PRINCIPAL}{note}",
            f"aws iam update-assume-role-policy --role-name {role.name} --policy-document "
            + _json(_trust_document(S3_PRINCIPAL, BATCH_PRINCIPAL)),
        )
    return _pass(f"role {role.name} trusts {', '.join(sorted(services))}{note}")


def _trust_document(*services: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}
        ],
    }


def _source_permissions(facts: Facts) -> Outcome:
    arn = _role_arn(facts)
    source = f"arn:aws:s3:::{facts.target.source}"
    objects = f"{source}/{facts.target.key}" if facts.target.key else f"{source}/*"
    object_actions = [
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionTagging",
    ]
    if facts.object_lock(facts.target.source):
        object_actions += ["s3:GetObjectRetention", "s3:GetObjectLegalHold"]
    results = facts.simulate(
        SimulationRequest(arn, ("s3:GetReplicationConfiguration", "s3:ListBucket"), (source,))
    )
    results += facts.simulate(SimulationRequest(arn, tuple(object_actions), (objects,)))
    denied = _denied(results)
    if denied:
        bucket_level = [a for a in denied if a in ("s3:GetReplicationConfiguration", "s3:ListBucket")]
        fixes = []
        if bucket_level:
            fixes.append(_put_role_policy(arn, "replication-source-bucket", bucket_level, source))
        if set(denied) - set(bucket_level):
            fixes.append(
                _put_role_policy(
                    arn, "replication-source-objects", sorted(set(denied) - set(bucket_level)), f"{source}/*"
                )
            )
        return _fail(
            f"SimulatePrincipalPolicy {arn}: {_decisions([r for r in results if not r.allowed])}",
            "\n".join(fixes),
        )
    return _pass(f"SimulatePrincipalPolicy {arn}: {', '.join(sorted({r.action for r in results}))} allowed")


def _destination_actions(facts: Facts, rule: Mapping[str, Any] | None) -> list[str]:
    """What the role must be allowed on the destination's objects for this rule (and object)."""
    actions = ["s3:ReplicateObject"]  # also covers tags and ACLs (aws-facts.md §10)
    rule = rule or {}
    if (rule.get("DeleteMarkerReplication") or {}).get("Status") == "Enabled":
        actions.append("s3:ReplicateDelete")
    if ((rule.get("Destination") or {}).get("AccessControlTranslation") or {}).get("Owner") == "Destination":
        actions.append("s3:ObjectOwnerOverrideToBucketOwner")
    # The Object Lock page asks only s3:GetObjectRetention / s3:GetObjectLegalHold (on the source) of
    # the role; writing a replica's retention or legal hold is what DstPut*NotPermitted name, so they
    # are required for an object that carries them.
    if facts.target.key is not None:
        head = facts.head()
        if head.get("ObjectLockMode"):
            actions.append("s3:PutObjectRetention")
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            actions.append("s3:PutObjectLegalHold")
    return actions


def _destination_simulation(facts: Facts, *, with_bucket_policy: bool) -> tuple[list[Any], str | None]:
    arn = _role_arn(facts)
    rule = facts.rule()
    destination = facts.target.destination
    objects = (
        f"arn:aws:s3:::{destination}/{facts.target.key}"
        if facts.target.key
        else f"arn:aws:s3:::{destination}/*"
    )
    policy = facts.bucket_policy(destination) if with_bucket_policy else None
    request = SimulationRequest(
        arn,
        tuple(_destination_actions(facts, rule)),
        (objects,),
        resource_policy=policy,
        resource_owner=facts.destination_account(rule) if policy else None,
    )
    return facts.simulate(request), policy


def _destination_permissions(facts: Facts) -> Outcome:
    arn = _role_arn(facts)
    rule = facts.rule()
    try:
        results, policy = _destination_simulation(facts, with_bucket_policy=True)
        how = "with the destination bucket policy" if policy else "(the destination has no bucket policy)"
    except NotFoundError:
        raise
    except ReplimendError as exc:  # the bucket policy is not readable: the role's own policies only
        results, _ = _destination_simulation(facts, with_bucket_policy=False)
        how = f"without the destination bucket policy ({exc})"
    if facts.cross_account(rule):
        identity, _ = _destination_simulation(facts, with_bucket_policy=False)
        results = [r if r.allowed is False else i for r, i in zip(results, identity, strict=True)]
    denied = _denied(results)
    if denied:
        return _fail(
            f"SimulatePrincipalPolicy {arn} {how}: {_decisions([r for r in results if not r.allowed])}",
            _put_role_policy(
                arn, "replication-destination", denied, f"arn:aws:s3:::{facts.target.destination}/*"
            ),
        )
    return _pass(f"SimulatePrincipalPolicy {arn} {how}: {', '.join(r.action for r in results)} allowed")


def _destination_bucket_policy(facts: Facts) -> Outcome:
    destination = facts.target.destination
    rule = facts.rule()
    cross = facts.cross_account(rule)
    policy = facts.bucket_policy(destination)
    if policy is None:
        if cross:
            return _fail(
                f"{destination} (account {facts.destination_account(rule)}) has no bucket policy: a "
                "cross-account destination must allow the replication role",
                f"aws s3api put-bucket-policy --bucket {destination} --policy "
                + _json(_destination_policy(facts, rule)),
            )
        return _pass(f"{destination} has no bucket policy (same account: none needed)")
    results, _ = _destination_simulation(facts, with_bucket_policy=True)
    denied_by_policy = [r for r in results if r.decision == "explicitDeny" and r.matched_resource_policy]
    if denied_by_policy:
        return _fail(
            f"the bucket policy of {destination} denies {', '.join(r.action for r in denied_by_policy)}",
            f"aws s3api get-bucket-policy --bucket {destination} --query Policy --output text  "
            f"# remove the Deny for {_role_arn(facts)}, then put-bucket-policy",
        )
    if cross and not any(r.matched_resource_policy and r.allowed for r in results):
        return _fail(
            f"the bucket policy of {destination} does not allow {_role_arn(facts)} (cross-account)",
            f"aws s3api put-bucket-policy --bucket {destination} --policy "
            + _json(_destination_policy(facts, rule)),
        )
    return _pass(f"the bucket policy of {destination} denies the role nothing it needs")


def _destination_policy(facts: Facts, rule: Mapping[str, Any] | None) -> dict[str, Any]:
    destination = f"arn:aws:s3:::{facts.target.destination}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowReplicationRole",
                "Effect": "Allow",
                "Principal": {"AWS": _role_arn(facts)},
                "Action": _destination_actions(facts, rule),
                "Resource": f"{destination}/*",
            },
            {
                "Sid": "AllowReplicationRoleVersioning",
                "Effect": "Allow",
                "Principal": {"AWS": _role_arn(facts)},
                "Action": ["s3:List*", "s3:GetBucketVersioning", "s3:PutBucketVersioning"],
                "Resource": destination,
            },
        ],
    }


# ---- 4 · the destination bucket ----------------------------------------------------------------


def _destination_bucket_exists(facts: Facts) -> Outcome:
    destination = facts.target.destination
    try:
        region = facts.region(destination)
    except NotFoundError:
        source_region = facts.region(facts.target.source)
        return _fail(
            f"{destination} does not exist",
            _create_bucket(destination, source_region)
            + f"  # the source's Region ({source_region}); another Region makes it cross-Region replication\n"
            f"aws s3api put-bucket-versioning --bucket {destination} "
            "--versioning-configuration Status=Enabled",
        )
    return _pass(f"{destination} exists in {region}")


def _destination_bucket_region(facts: Facts) -> Outcome:
    source, destination = facts.region(facts.target.source), facts.region(facts.target.destination)
    kind = "same Region: SRR" if source == destination else "cross-Region: CRR"
    return _pass(f"{facts.target.source} in {source} → {facts.target.destination} in {destination} ({kind})")


def _source_bucket_exists(facts: Facts) -> Outcome:
    source = facts.target.source
    try:
        region = facts.region(source)
    except NotFoundError:
        return _fail(
            f"{source} does not exist (Batch Replication cannot help: escalate)",
            f"aws s3api head-bucket --bucket {source}",
        )
    facts.config()  # raises (WARN) when this principal cannot read the replication configuration
    return _pass(f"{source} exists in {region}; its replication configuration is readable")


def _source_bucket_region(facts: Facts) -> Outcome:
    region = facts.region(facts.target.source)
    jobs = facts.setup.region
    if jobs is None:  # aws/s3control.py creates each job in its source bucket's Region
        return _pass(f"{facts.target.source} is in {region}: replimend creates its jobs there")
    if region != jobs:
        return _fail(
            f"{facts.target.source} is in {region}, replimend creates jobs in {jobs} (jobs must run in the "
            "source bucket's Region)",
            f"sam deploy --region {region}  # deploy replimend where the source bucket is",
        )
    return _pass(f"{facts.target.source} and replimend's jobs are both in {region}")


# ---- 5 · cross-account ownership ---------------------------------------------------------------


def _ownership_controls(facts: Facts) -> Outcome:
    rule = facts.rule()
    if not facts.cross_account(rule):
        return _skip("same-account destination: replicas are owned by the bucket owner")
    destination = facts.target.destination
    ownership = facts.ownership(destination)
    translation = ((rule or {}).get("Destination") or {}).get("AccessControlTranslation") or {}
    if ownership == "BucketOwnerEnforced":
        return _pass(
            f"{destination}: ObjectOwnership BucketOwnerEnforced (the destination account owns replicas)"
        )
    if translation.get("Owner") == "Destination":
        return _pass(
            f"{destination}: ObjectOwnership {ownership}; the rule sets AccessControlTranslation "
            "Owner=Destination"
        )
    return _fail(
        f"{destination}: ObjectOwnership {ownership or 'not set'} and no AccessControlTranslation: "
        "replicas stay owned by the source account",
        f"aws s3api put-bucket-ownership-controls --bucket {destination} "
        "--ownership-controls Rules=[{ObjectOwnership=BucketOwnerEnforced}]",
    )


# ---- 6 · KMS -----------------------------------------------------------------------------------


def _kms_use(facts: Facts, key_id: str, region: str, actions: tuple[str, ...], side: str) -> Outcome:
    arn = _role_arn(facts)
    try:
        key = facts.key(key_id, region)
    except NotFoundError:
        if side == "destination":
            create, alias_arn = _new_replica_key(facts, region)
            update = {"EncryptionConfiguration": {"ReplicaKmsKeyID": alias_arn}}
            fix = create + "\n" + _put_replication(facts, lambda rule: rule["Destination"].update(update))
        else:
            fix = "aws s3api head-object  # the source object's key is gone: it cannot be decrypted"
        return _fail(
            f"DescribeKey {key_id} in {region}: not found",
            (
                f"aws kms create-key --region {region} --description 'replicas of {facts.target.source}'\n"
                + fix
            )
            if side == "destination"
            else fix,
        )
    if key.state != "Enabled":
        fix = (
            f"aws kms cancel-key-deletion --region {key.region} --key-id {key.key_id}\n"
            if key.state == "PendingDeletion"
            else ""
        ) + f"aws kms enable-key --region {key.region} --key-id {key.key_id}"
        return _fail(f"{side} key {key.arn} is {key.state}", fix)
    key_policy = facts.key_policy(key)
    identity = facts.simulate(SimulationRequest(arn, actions, (key.arn,)))
    combined = facts.simulate(
        SimulationRequest(
            arn,
            actions,
            (key.arn,),
            resource_policy=json.dumps(key_policy),
            resource_owner=key.arn.split(":")[4],
        )
    )
    problems, by_key_policy = [], []
    for action, ident, both in zip(actions, identity, combined, strict=True):
        grant = rules.key_policy_grants(key_policy, arn, action)
        if both.decision == "explicitDeny":
            problems.append(f"{action} explicitly denied")
            by_key_policy.append(action)
        elif grant is None:
            problems.append(f"{action} not allowed by the key policy (nor to the account)")
            by_key_policy.append(action)
        elif grant == "account" and not ident.allowed:
            problems.append(f"{action} not allowed by the role's IAM policies (the key policy defers to IAM)")
    if not problems:
        return _pass(f"{side} key {key.arn} Enabled; the role may {', '.join(actions)} (key policy and IAM)")
    if by_key_policy:
        statement = {
            "Sid": "AllowReplicationRole",
            "Effect": "Allow",
            "Principal": {"AWS": arn},
            "Action": list(actions),
            "Resource": "*",
        }
        amended = copy.deepcopy(key_policy)
        amended["Statement"] = [*rules.statements(key_policy), statement]
        fix = (
            f"aws kms put-key-policy --region {key.region} --key-id {key.key_id} --policy-name default "
            f"--policy {_json(amended)}"
        )
        return _fail(f"the key policy of {key.arn}: {'; '.join(problems)}", fix)
    return _fail(
        f"{side} key {key.arn}: {'; '.join(problems)}",
        _put_role_policy(arn, f"replication-kms-{side}", list(actions), key.arn),
    )


def _kms_destination_key(facts: Facts) -> Outcome:
    rule = facts.rule()
    if rule is None:
        return _skip("no enabled rule for this destination (replication_rule)")
    if facts.target.key is not None and not str(facts.head().get("ServerSideEncryption", "")).startswith(
        "aws:kms"
    ):
        return _skip("the object is not SSE-KMS encrypted")
    if not rules.rule_selects_kms(rule):
        return _skip(
            f"rule {rule.get('ID', '?')} does not replicate SSE-KMS objects (SourceSelectionCriteria)"
        )
    replica_key = ((rule.get("Destination") or {}).get("EncryptionConfiguration") or {}).get(
        "ReplicaKmsKeyID"
    )
    region = facts.region(facts.target.destination)
    if not replica_key:
        create, alias_arn = _new_replica_key(facts, region)
        return _fail(
            f"rule {rule.get('ID', '?')} selects SSE-KMS objects but sets no ReplicaKmsKeyID",
            create
            + "\n"
            + _put_replication(
                facts,
                lambda r: r["Destination"].update(EncryptionConfiguration={"ReplicaKmsKeyID": alias_arn}),
            ),
        )
    return _kms_use(facts, str(replica_key), region, ("kms:Encrypt", "kms:GenerateDataKey"), "destination")


def _kms_source_key(facts: Facts) -> Outcome:
    head = facts.head()
    if not str(head.get("ServerSideEncryption", "")).startswith("aws:kms"):
        return _skip("the object is not SSE-KMS encrypted")
    key_id = str(head.get("SSEKMSKeyId") or "")
    return _kms_use(facts, key_id, facts.region(facts.target.source), ("kms:Decrypt",), "source")


# ---- 7 · Object Lock ---------------------------------------------------------------------------


def _object_lock(facts: Facts) -> Outcome:
    source, destination = facts.target.source, facts.target.destination
    if not facts.object_lock(source):
        return _pass(f"{source} does not use Object Lock")
    if facts.object_lock(destination):
        return _pass(f"Object Lock is enabled on {source} and {destination}")
    return _fail(
        f"{source} uses Object Lock, {destination} does not",
        f"aws s3api put-object-lock-configuration --bucket {destination}{_region_flag(facts, destination)} "
        "--object-lock-configuration ObjectLockEnabled=Enabled",
    )


# ---- 8 · metrics and the failure notification --------------------------------------------------


def _replication_metrics(facts: Facts) -> Outcome:
    rule = facts.rule()
    if rule is None:
        return _skip("no enabled rule for this destination (replication_rule)")
    metrics = (rule.get("Destination") or {}).get("Metrics") or {}
    if metrics.get("Status") == "Enabled":
        return _pass(f"rule {rule.get('ID', '?')}: replication metrics Enabled")

    def enable(r: dict[str, Any]) -> None:
        r["Destination"]["Metrics"] = {**(r["Destination"].get("Metrics") or {}), "Status": "Enabled"}

    return _fail(
        f"rule {rule.get('ID', '?')}: replication metrics off: S3 sends NO failure events for this "
        "destination, replimend only learns of failures by backfill",
        _put_replication(facts, enable),
    )


def _failure_notification(facts: Facts) -> Outcome:
    source = facts.target.source
    configuration = facts.notifications(source)
    wanted = facts.setup.failure_queue_arn
    found = [
        str(c.get(arn_field))
        for kind, arn_field in (
            ("QueueConfigurations", "QueueArn"),
            ("TopicConfigurations", "TopicArn"),
            ("LambdaFunctionConfigurations", "LambdaFunctionArn"),
        )
        for c in configuration.get(kind, [])
        if _FAILURE_EVENTS & set(c.get("Events", []))
    ]
    if wanted and wanted in found:
        return _pass(f"{source} sends s3:Replication:* events to {wanted}")
    if found and not wanted:
        return _pass(f"{source} sends replication failure events to {', '.join(found)}")
    queue = wanted or "arn:aws:sqs:<region>:<account-id>:<replimend FailureQueue>"
    merged = {
        k: v
        for k, v in configuration.items()
        if k.endswith("Configurations") or k == "EventBridgeConfiguration"
    }
    merged.setdefault("QueueConfigurations", [])
    merged["QueueConfigurations"] = [
        *merged["QueueConfigurations"],
        {"Id": "replimend-replication-events", "QueueArn": queue, "Events": ["s3:Replication:*"]},
    ]
    elsewhere = f" (they go to {', '.join(found)})" if found else ""
    return _fail(
        f"{source} does not send s3:Replication:* events to replimend's queue{elsewhere}: failures go unseen",
        f"aws s3api put-bucket-notification-configuration --bucket {source} "
        f"--notification-configuration {_json(merged)}",
    )


def _inventory_replication_status(facts: Facts) -> Outcome:
    source = facts.target.source
    config, why = usable_inventory(facts.inventories(source))
    if config is not None:
        return _pass(f"{source}: {why}")
    return _warn(
        f"{source}: no CSV S3 Inventory with ReplicationStatus ({why}): objects stuck PENDING go unseen "
        f"(`replimend pending` needs one; see {DOC}configure-inventory.html)"
    )


# ---- 9 · the Batch Operations role and replimend's buckets -------------------------------------


def _batch_role(facts: Facts) -> Outcome:
    setup = facts.setup
    if not setup.batch_role_arn:
        return _skip("replimend's Batch Operations role is not known here")
    arn = setup.batch_role_arn
    try:
        role = facts.role(arn)
    except NotFoundError:
        return _fail(
            f"GetRole {arn}: the Batch Operations role does not exist", "sam deploy  # the stack creates it"
        )
    if BATCH_PRINCIPAL not in rules.trusted_services(role.trust_policy):
        return _fail(
            f"role {role.name} does not trust {BATCH_PRINCIPAL}",
            f"aws iam update-assume-role-policy --role-name {role.name} --policy-document "
            + _json(_trust_document(BATCH_PRINCIPAL)),
        )
    wanted: list[tuple[str, str]] = [("s3:InitiateReplication", f"arn:aws:s3:::{facts.target.source}/*")]
    for bucket, actions in (
        (setup.manifest_bucket, ("s3:GetObject", "s3:GetObjectVersion")),
        (setup.report_bucket, ("s3:PutObject",)),
    ):
        if bucket:
            facts.region(bucket)  # NotFoundError: the bucket is gone (SKIP names it)
            wanted += [(action, f"arn:aws:s3:::{bucket}/*") for action in actions]
    results = [
        r
        for action, resource in wanted
        for r in facts.simulate(SimulationRequest(arn, (action,), (resource,)))
    ]
    denied = [r for r in results if not r.allowed]
    if denied:
        return _fail(
            f"SimulatePrincipalPolicy {arn}: "
            + ", ".join(f"{r.action} on {r.resource}: {r.decision}" for r in denied),
            "\n".join(
                _put_role_policy(arn, f"batch-{r.action.split(':')[1]}", [r.action], r.resource)
                for r in denied
            ),
        )
    return _pass(
        f"role {role.name} trusts {BATCH_PRINCIPAL}; {', '.join(f'{a} on {r}' for a, r in wanted)} allowed"
    )


# ---- the registry ------------------------------------------------------------------------------

_PAGE_PERMS = DOC + "setting-repl-config-perm-overview.html"
_CHECKS: tuple[Check, ...] = (
    Check(
        "source_bucket_exists",
        4,
        ("s3:GetBucketLocation", "s3:GetBucketReplication"),
        DOC + "replication-troubleshoot.html",
        _source_bucket_exists,
    ),
    Check(
        "source_bucket_region",
        4,
        ("s3:GetBucketLocation",),
        DOC + "s3-batch-replication-batch.html",
        _source_bucket_region,
    ),
    Check(
        "source_versioning",
        1,
        ("s3:GetBucketVersioning",),
        DOC + "replication-requirements.html",
        _versioning(lambda f: f.target.source),
    ),
    Check(
        "destination_bucket_exists",
        4,
        ("s3:GetBucketLocation", "s3:HeadBucket"),
        DOC + "replication-troubleshoot.html",
        _destination_bucket_exists,
    ),
    Check(
        "destination_bucket_region",
        4,
        ("s3:GetBucketLocation",),
        DOC + "replication.html",
        _destination_bucket_region,
    ),
    Check(
        "destination_versioning",
        1,
        ("s3:GetBucketVersioning",),
        DOC + "replication-requirements.html",
        _versioning(lambda f: f.target.destination),
    ),
    Check(
        "replication_rule",
        2,
        ("s3:GetBucketReplication",),
        DOC + "replication-add-config.html",
        _replication_rule,
    ),
    Check(
        "rule_filter",
        2,
        ("s3:GetBucketReplication", "s3:HeadObject", "s3:GetObjectTagging"),
        DOC + "replication-add-config.html",
        _rule_filter,
        needs_key=True,
    ),
    Check(
        "source_storage_class",
        0,
        ("s3:HeadObject",),
        DOC + "s3-batch-replication-batch.html",
        _source_storage_class,
        needs_key=True,
    ),
    Check(
        "replication_role_trust",
        3,
        ("s3:GetBucketReplication", "iam:GetRole"),
        _PAGE_PERMS,
        _replication_role_trust,
    ),
    Check(
        "replication_role_source_permissions",
        3,
        ("iam:SimulatePrincipalPolicy", "s3:GetObjectLockConfiguration"),
        _PAGE_PERMS,
        _source_permissions,
    ),
    Check(
        "replication_role_destination_permissions",
        3,
        ("iam:SimulatePrincipalPolicy", "s3:GetBucketPolicy"),
        _PAGE_PERMS,
        _destination_permissions,
    ),
    Check(
        "destination_bucket_policy",
        3,
        ("s3:GetBucketPolicy", "iam:SimulatePrincipalPolicy"),
        DOC + "replication-walkthrough-2.html",
        _destination_bucket_policy,
    ),
    Check(
        "ownership_controls",
        5,
        ("s3:GetBucketOwnershipControls", "s3:GetBucketReplication"),
        DOC + "replication-change-owner.html",
        _ownership_controls,
    ),
    Check(
        "kms_source_key",
        6,
        ("s3:HeadObject", "kms:DescribeKey", "kms:GetKeyPolicy", "iam:SimulatePrincipalPolicy"),
        DOC + "replication-config-for-kms-objects.html",
        _kms_source_key,
        needs_key=True,
    ),
    Check(
        "kms_destination_key",
        6,
        ("s3:GetBucketReplication", "kms:DescribeKey", "kms:GetKeyPolicy", "iam:SimulatePrincipalPolicy"),
        DOC + "replication-config-for-kms-objects.html",
        _kms_destination_key,
    ),
    Check(
        "object_lock",
        7,
        ("s3:GetObjectLockConfiguration",),
        DOC + "object-lock-managing.html#object-lock-managing-replication",
        _object_lock,
    ),
    Check(
        "batch_role",
        9,
        ("iam:GetRole", "iam:SimulatePrincipalPolicy", "s3:GetBucketLocation"),
        DOC + "s3-batch-replication-policies.html",
        _batch_role,
    ),
    Check(
        "replication_metrics",
        8,
        ("s3:GetBucketReplication",),
        DOC + "replication-metrics-events.html",
        _replication_metrics,
    ),
    Check(
        "failure_notification",
        8,
        ("s3:GetBucketNotificationConfiguration",),
        DOC + "replication-metrics-events.html",
        _failure_notification,
    ),
    Check(
        "inventory_replication_status",
        8,
        ("s3:ListBucketInventoryConfigurations",),
        DOC + "storage-inventory.html",
        _inventory_replication_status,
    ),
    Check(
        "source_object_exists",
        0,
        ("s3:HeadObject",),
        "botocore s3 model: HeadObject (NoSuchKey; 405 for a delete marker)",
        _source_object_exists,
        needs_key=True,
    ),
    Check(
        "source_replication_status",
        0,
        ("s3:HeadObject",),
        DOC + "replication-status.html",
        _source_replication_status,
        needs_key=True,
    ),
)

#: Every check by name, in the order they run (the order of reasons.CHECKS).
REGISTRY: Mapping[str, Check] = MappingProxyType({check.name: check for check in _CHECKS})
