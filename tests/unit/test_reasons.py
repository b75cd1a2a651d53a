"""The failure-reason registry: complete (meta-test), well-formed, and classify_failure's decisions."""

from __future__ import annotations

import dataclasses
import re

import pytest

from replimend.events import parse_document
from replimend.models import (
    FAILED_REPLICATION,
    MISSED_THRESHOLD,
    NOT_TRACKED,
    REPLICATED_AFTER_THRESHOLD,
    TEST_EVENT,
    Action,
    ReplicationEvent,
)
from replimend.reasons import (
    CHECKS,
    EVENT_TYPE_ENTRIES,
    NOT_REPLICATION,
    REASONS,
    UNKNOWN_REASON,
    UNKNOWN_REPLICATION_EVENT,
    VALID_CATEGORIES,
    ReasonEntry,
    classify_failure,
    entry_for,
    reason_entry,
)
from tests.conftest import load_event

# Every failureReason code AWS documents (reference/aws-facts.md §2, the user guide's "Amazon S3
# replication failure reasons"), written out by hand so the registry cannot silently lose one.
# The multipart row documents four codes: three current names and the older
# DstMultipartPartUploadNotPermitted; each gets its own entry. 31 rows + 3 extra multipart codes = 35.
DOCUMENTED_CODES = (
    "AssumeRoleNotPermitted",
    "DstBucketInvalidRegion",
    "DstBucketNotFound",
    "DstBucketObjectLockConfigMissing",
    "DstBucketUnversioned",
    "DstDelObjNotPermitted",
    "DstKmsKeyInvalidState",
    "DstKmsKeyNotFound",
    "DstMultipartCompleteNotPermitted",
    "DstMultipartInitNotPermitted",
    "DstMultipartUploadNotPermitted",
    "DstMultipartPartUploadNotPermitted",
    "DstObjectHardDeleted",
    "DstPutAclNotPermitted",
    "DstPutLegalHoldNotPermitted",
    "DstPutObjectNotPermitted",
    "DstPutRetentionNotPermitted",
    "DstPutTaggingNotPermitted",
    "DstVersionNotFound",
    "InitiateReplicationNotPermitted",
    "SrcBucketInvalidRegion",
    "SrcBucketNotFound",
    "SrcBucketReplicationConfigMissing",
    "SrcGetAclNotPermitted",
    "SrcGetLegalHoldNotPermitted",
    "SrcGetObjectNotPermitted",
    "SrcGetRetentionNotPermitted",
    "SrcGetTaggingNotPermitted",
    "SrcHeadObjectNotPermitted",
    "SrcKeyNotFound",
    "SrcKmsKeyInvalidState",
    "SrcObjectNotEligible",
    "SrcObjectNotFound",
    "SrcReplicationNotPending",
    "SrcVersionNotFound",
)

# Codes that are reported only by Batch Replication ("(Batch only)" in the reference).
BATCH_ONLY_CODES = {
    "DstBucketInvalidRegion",
    "DstObjectHardDeleted",
    "InitiateReplicationNotPermitted",
    "SrcBucketInvalidRegion",
}

ALL_ENTRIES = (
    *REASONS.values(),
    UNKNOWN_REASON,
    *EVENT_TYPE_ENTRIES.values(),
    UNKNOWN_REPLICATION_EVENT,
    NOT_REPLICATION,
)


def failure(reason: str | None, event_type: str = FAILED_REPLICATION) -> ReplicationEvent:
    return ReplicationEvent(event_type=event_type, event_id="id", source_bucket="src", failure_reason=reason)


# ---------------------------------------------------------------- meta-tests


def test_documented_code_list_has_35_distinct_codes() -> None:
    assert len(DOCUMENTED_CODES) == len(set(DOCUMENTED_CODES)) == 35


@pytest.mark.parametrize("code", DOCUMENTED_CODES)
def test_every_documented_code_has_an_entry(code: str) -> None:
    assert code in REASONS
    assert REASONS[code].code == code
    assert reason_entry(code) is REASONS[code]


def test_registry_has_no_entry_for_an_undocumented_code() -> None:
    assert set(REASONS) == set(DOCUMENTED_CODES)
    assert UNKNOWN_REASON.code not in REASONS


@pytest.mark.parametrize("entry", ALL_ENTRIES, ids=lambda entry: entry.code)
def test_every_entry_is_complete(entry: ReasonEntry) -> None:
    assert entry.category in VALID_CATEGORIES
    assert isinstance(entry.action, Action)
    assert entry.fix.strip()
    assert entry.description.strip()
    assert entry.cli.strip()
    assert entry.checks, f"{entry.code} names no diagnosis check"
    unknown_checks = set(entry.checks) - set(CHECKS)
    assert not unknown_checks, f"{entry.code} names checks not in CHECKS: {unknown_checks}"
    assert len(entry.checks) == len(set(entry.checks))


@pytest.mark.parametrize("entry", ALL_ENTRIES, ids=lambda entry: entry.code)
def test_every_cli_line_is_an_aws_cli_command_with_well_formed_placeholders(entry: ReasonEntry) -> None:
    for line in entry.cli.splitlines():
        assert re.match(r"^aws (s3api|s3control|iam|kms|cloudwatch) [a-z-]+ ", line), line
        assert line.count("<") == line.count(">"), line
        for placeholder in re.findall(r"<([^<>]*)>", line):
            assert re.fullmatch(r"[a-z][a-z0-9-]*", placeholder), f"bad placeholder <{placeholder}> in {line}"


def test_every_check_is_used_by_some_entry_and_described() -> None:
    used = {check for entry in ALL_ENTRIES for check in entry.checks}
    assert used == set(CHECKS)
    assert all(description.strip() for description in CHECKS.values())


def test_entries_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        REASONS["DstBucketUnversioned"].action = Action.RETRY  # type: ignore[misc]
    with pytest.raises(TypeError):
        REASONS["New"] = UNKNOWN_REASON  # type: ignore[index]


def test_batch_only_flags_match_the_reference() -> None:
    assert {code for code, entry in REASONS.items() if entry.batch_only} == BATCH_ONLY_CODES


# ---------------------------------------------------------------- actions


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("SrcKeyNotFound", Action.CLOSE_OBSOLETE),
        ("SrcVersionNotFound", Action.CLOSE_OBSOLETE),
        ("SrcObjectNotFound", Action.CLOSE_OBSOLETE),
        ("SrcReplicationNotPending", Action.CLOSE_DONE),
        ("DstObjectHardDeleted", Action.ESCALATE),
        ("SrcBucketNotFound", Action.ESCALATE),
        ("DstVersionNotFound", Action.RETRY),
        ("AssumeRoleNotPermitted", Action.RETRY_AFTER_FIX),
        ("DstBucketUnversioned", Action.RETRY_AFTER_FIX),
        ("DstKmsKeyInvalidState", Action.RETRY_AFTER_FIX),
        ("InitiateReplicationNotPermitted", Action.RETRY_AFTER_FIX),
        ("SrcObjectNotEligible", Action.RETRY_AFTER_FIX),
    ],
)
def test_actions_of_the_codes_whose_outcome_matters_most(code: str, action: Action) -> None:
    assert REASONS[code].action is action


def test_configuration_problems_wait_for_a_fix() -> None:
    # Every code that is not terminal, done, data-only or unfixable by Batch Replication is a config problem.
    special = {
        "SrcKeyNotFound",
        "SrcVersionNotFound",
        "SrcObjectNotFound",
        "SrcReplicationNotPending",
        "DstObjectHardDeleted",
        "SrcBucketNotFound",
        "DstVersionNotFound",
    }
    for code in set(DOCUMENTED_CODES) - special:
        assert REASONS[code].action is Action.RETRY_AFTER_FIX, code


def test_destination_versioning_fix_is_the_real_cli_command() -> None:
    assert (
        "aws s3api put-bucket-versioning --bucket <destination-bucket> --versioning-configuration Status=Enabled"
        in REASONS["DstBucketUnversioned"].cli
    )
    assert REASONS["DstBucketUnversioned"].checks == ("destination_versioning",)


# ---------------------------------------------------------------- classify_failure


def test_known_failure_reason_is_classified_by_its_entry() -> None:
    classification = classify_failure(failure("DstBucketUnversioned"))
    assert classification.action is Action.RETRY_AFTER_FIX
    assert classification.category == "versioning"
    assert classification.failure_reason == "DstBucketUnversioned"
    assert classification.known is True


def test_unknown_failure_reason_is_escalated_and_kept_as_received() -> None:
    # Given a code AWS added after this registry was written
    event = only_event("s3-unknown-reason.json")

    # When it is classified
    classification = classify_failure(event)

    # Then it is escalated, marked unknown, and the code is kept verbatim
    assert classification.action is Action.ESCALATE
    assert classification.known is False
    assert classification.failure_reason == "DstReplicaQuotaExceeded"
    assert classification.category == "unknown"


def test_failed_replication_without_a_reason_is_unknown_and_escalated() -> None:
    classification = classify_failure(failure(None))
    assert (classification.action, classification.known, classification.failure_reason) == (
        Action.ESCALATE,
        False,
        None,
    )
    assert entry_for(failure(None)) is UNKNOWN_REASON


def test_reason_codes_are_case_sensitive() -> None:
    assert classify_failure(failure("dstbucketunversioned")).known is False


@pytest.mark.parametrize("event_type", [MISSED_THRESHOLD, REPLICATED_AFTER_THRESHOLD, NOT_TRACKED])
def test_threshold_and_not_tracked_events_are_observed(event_type: str) -> None:
    classification = classify_failure(failure(None, event_type))
    assert classification.action is Action.OBSERVE
    assert classification.known is True


def test_threshold_events_are_observed_even_with_a_failure_reason() -> None:
    assert classify_failure(failure("DstBucketUnversioned", MISSED_THRESHOLD)).action is Action.OBSERVE


@pytest.mark.parametrize("event_type", [TEST_EVENT, "ObjectCreated:Put", "ObjectRemoved:Delete"])
def test_test_events_and_other_s3_events_are_ignored(event_type: str) -> None:
    classification = classify_failure(failure(None, event_type))
    assert classification.action is Action.IGNORE
    assert classification.category == "not-replication"


def test_an_unknown_replication_event_type_is_observed_and_flagged() -> None:
    classification = classify_failure(failure(None, "Replication:OperationSomethingNew"))
    assert classification.action is Action.OBSERVE
    assert classification.known is False


@pytest.mark.parametrize(
    ("name", "actions"),
    [
        ("s3-failed-replication.json", [Action.RETRY_AFTER_FIX]),
        (
            "sqs-failed-replication.json",
            [Action.RETRY_AFTER_FIX, Action.RETRY_AFTER_FIX, Action.CLOSE_OBSOLETE],
        ),
        ("s3-threshold-events.json", [Action.OBSERVE] * 3),
        ("sqs-test-event.json", [Action.IGNORE]),
        ("s3-object-created.json", [Action.IGNORE]),
        ("s3-unknown-reason.json", [Action.ESCALATE]),
    ],
)
def test_sample_events_classify_as_expected(name: str, actions: list[Action]) -> None:
    events = [item for item in parse_document(load_event(name)) if isinstance(item, ReplicationEvent)]
    assert [classify_failure(event).action for event in events] == actions


def only_event(name: str) -> ReplicationEvent:
    [event] = parse_document(load_event(name))
    assert isinstance(event, ReplicationEvent)
    return event
