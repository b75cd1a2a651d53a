"""S3 names shared by the emulators, each written once: replication rule filters and S3 ARNs.

The live replication engine, the Batch Replication manifest generator and the Batch Operations
manifests all match rules and read ARNs through these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

S3_ARN_PREFIX = "arn:aws:s3:::"


def rule_filter_matches(rule: Mapping[str, Any], key: str, tags: Callable[[], Mapping[str, str]]) -> bool:
    """Whether ``key`` (with tags fetched lazily) falls under ``rule``'s filter (V2 Filter or V1 Prefix)."""
    if "Filter" not in rule:
        return key.startswith(str(rule.get("Prefix") or ""))
    rule_filter = rule["Filter"] or {}
    if "And" in rule_filter:
        conjunction = rule_filter["And"] or {}
        prefix = str(conjunction.get("Prefix") or "")
        wanted = {tag["Key"]: tag["Value"] for tag in conjunction.get("Tags") or []}
    else:
        prefix = str(rule_filter.get("Prefix") or "")
        tag = rule_filter.get("Tag")
        wanted = {tag["Key"]: tag["Value"]} if tag else {}
    if not key.startswith(prefix):
        return False
    if not wanted:
        return True
    present = tags()
    return all(present.get(name) == value for name, value in wanted.items())


def bucket_from_arn(arn: str) -> str:
    """``arn:aws:s3:::name`` -> ``name``; ValueError for anything else."""
    name = arn[len(S3_ARN_PREFIX) :] if arn.startswith(S3_ARN_PREFIX) else ""
    if not name or "/" in name:
        raise ValueError(f"not an S3 bucket ARN: {arn!r}")
    return name


def object_from_arn(arn: str) -> tuple[str, str]:
    """``arn:aws:s3:::bucket/key`` -> ``(bucket, key)``; ValueError for anything else."""
    rest = arn[len(S3_ARN_PREFIX) :] if arn.startswith(S3_ARN_PREFIX) else ""
    bucket, _, key = rest.partition("/")
    if not bucket or not key:
        raise ValueError(f"not an S3 object ARN: {arn!r}")
    return bucket, key


def bucket_name(arn_or_name: str) -> str:
    """A replication destination as S3 accepts it: a bucket ARN, or (leniently) a bare name."""
    return bucket_from_arn(arn_or_name) if arn_or_name.startswith("arn:") else arn_or_name
