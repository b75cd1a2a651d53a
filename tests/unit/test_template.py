"""template.yaml's operational guard rails: concurrency, log retention, failure destinations, checkov skips."""

from __future__ import annotations

from typing import Any

import pytest

from replimend_local.sam_template import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = sorted(name for name, spec in RESOURCES.items() if spec["Type"] == "AWS::Serverless::Function")
ASYNC_FUNCTIONS = ["RemediateFunction", "TrackJobsFunction"]


def props(name: str) -> dict[str, Any]:
    return RESOURCES[name]["Properties"]


def test_ingest_concurrency_is_reserved_and_the_sqs_source_never_exceeds_it() -> None:
    ingest = props("IngestFunction")
    assert ingest["ReservedConcurrentExecutions"] == {"Ref": "IngestConcurrency"}
    scaling = ingest["Events"]["FailureEvents"]["Properties"]["ScalingConfig"]
    assert scaling == {"MaximumConcurrency": {"Ref": "IngestConcurrency"}}
    parameter = TEMPLATE["Parameters"]["IngestConcurrency"]
    assert parameter["MinValue"] >= 2  # the event source's MaximumConcurrency is at least 2
    assert parameter["MinValue"] <= parameter["Default"] <= parameter["MaxValue"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_logs_to_its_own_group_with_the_retention_parameter(function: str) -> None:
    group = props(function)["LoggingConfig"]["LogGroup"]["Ref"]
    assert RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
    assert props(group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    retention = TEMPLATE["Parameters"]["LogRetentionDays"]
    assert retention["Default"] in retention["AllowedValues"]


@pytest.mark.parametrize("function", ASYNC_FUNCTIONS)
def test_asynchronous_functions_send_failures_to_the_invocation_failure_queue(function: str) -> None:
    spec = props(function)
    assert spec["ReservedConcurrentExecutions"] == 1
    invoke = spec["EventInvokeConfig"]
    assert invoke["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["InvocationFailureQueue", "Arn"]},
    }
    for name, event in spec["Events"].items():
        assert event["Type"] in {"ScheduleV2", "EventBridgeRule"}, name
        assert event["Properties"]["DeadLetterConfig"] == {
            "Arn": {"Fn::GetAtt": ["InvocationFailureQueue", "Arn"]}
        }, name
        assert "RetryPolicy" in event["Properties"], name


def test_the_job_status_rule_is_the_only_one_allowed_to_dead_letter_into_the_queue() -> None:
    rule = props("TrackJobsFunction")["Events"]["JobStatusEvents"]["Properties"]
    [allow] = [
        s
        for s in props("InvocationFailureQueuePolicy")["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    source_arn = allow["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    assert source_arn.endswith(":rule/" + rule["RuleName"]["Fn::Sub"])


def test_every_checkov_skip_says_why() -> None:
    skips = [
        (name, skip)
        for name, spec in RESOURCES.items()
        for skip in (spec.get("Metadata") or {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert skip["id"].startswith("CKV_AWS_"), name
        assert len(skip.get("comment", "")) > 40, (name, skip)


def test_no_function_may_write_on_star_without_a_condition() -> None:
    read_only = {"s3:ListJobs", "s3:DescribeJob"}
    for function in FUNCTIONS:
        for policy in props(function).get("Policies", []):
            for statement in policy["Statement"]:
                actions = statement["Action"]
                actions = {actions} if isinstance(actions, str) else set(actions)
                if statement["Resource"] == "*":
                    assert actions <= read_only or "Condition" in statement, (function, statement)
