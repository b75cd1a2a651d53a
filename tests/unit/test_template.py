"""template.yaml's operational guard rails: concurrency, log retention, failure destinations, checkov skips,
and IAM as AWS documents it (the undocumented conditions only behind StrictIamConditions)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from replimend_local.sam_template import REPO_ROOT, load_template
from tests.deployed_template import deployed

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = sorted(name for name, spec in RESOURCES.items() if spec["Type"] == "AWS::Serverless::Function")
ASYNC_FUNCTIONS = ["RemediateFunction", "TrackJobsFunction", "BackfillFunction"]


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


# --- IAM ---------------------------------------------------------------------------------------

#: Actions of the functions' policies that have no resource type in the Service Authorization
#: Reference ("Actions, resources, and condition keys for Amazon S3"), so only "*" names them.
WITHOUT_RESOURCE_TYPE = {"s3:CreateJob", "s3:ListJobs"}
#: The conditions no AWS documentation example uses; StrictIamConditions=true adds them.
STRICT_CONDITIONS = {
    "s3:CreateJob": {"StringEquals": {"s3:RequestJobOperation": "S3ReplicateObject"}},
    "iam:PassRole": {"StringEquals": {"iam:PassedToService": "batchoperations.s3.amazonaws.com"}},
    "sts:AssumeRole": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
}
SOURCE_OBJECTS = {
    "Fn::Split": [
        ",",
        {"Fn::Sub": ["${Arns}/*", {"Arns": {"Fn::Join": ["/*,", {"Ref": "SourceBucketArns"}]}}]},
    ]
}


def actions_of(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def function_statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    properties = template["Resources"][function]["Properties"]
    return [s for policy in properties.get("Policies", []) for s in policy["Statement"]]


def batch_role(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]["BatchOperationsRole"]["Properties"]


@pytest.mark.parametrize("strict", ["false", "true"])
def test_star_is_the_resource_only_of_actions_without_a_resource_type(strict: str) -> None:
    template = deployed(TEMPLATE, StrictIamConditions=strict)
    for function in FUNCTIONS:
        for statement in function_statements(template, function):
            if statement["Resource"] == "*":
                assert actions_of(statement) <= WITHOUT_RESOURCE_TYPE, (function, statement)


def test_the_undocumented_conditions_are_off_by_default() -> None:
    # Given the template at its defaults
    template = deployed(TEMPLATE)
    assert TEMPLATE["Parameters"]["StrictIamConditions"]["Default"] == "false"
    # Then CreateJob, PassRole and the batch role's trust carry no condition: AWS's examples have none
    for function in ("RemediateFunction", "BackfillFunction"):
        statements = function_statements(template, function)
        for action in ("s3:CreateJob", "iam:PassRole"):
            [statement] = [s for s in statements if action in actions_of(s)]
            assert "Condition" not in statement, statement
    [trust] = batch_role(template)["AssumeRolePolicyDocument"]["Statement"]
    assert "Condition" not in trust


def test_strict_iam_conditions_adds_exactly_the_three_conditions() -> None:
    # Given the operator turns the hardening on
    template = deployed(TEMPLATE, StrictIamConditions="true")
    remediate = function_statements(template, "RemediateFunction")
    conditions = {
        action: statement["Condition"]
        for statement in remediate
        for action in actions_of(statement)
        if "Condition" in statement
    }
    [trust] = batch_role(template)["AssumeRolePolicyDocument"]["Statement"]
    conditions["sts:AssumeRole"] = trust["Condition"]
    # Then these three conditions, and no other, are present
    assert conditions == STRICT_CONDITIONS
    # and backfill, the other function that starts jobs, carries the same two on CreateJob and PassRole
    backfill = {
        action: statement["Condition"]
        for statement in function_statements(template, "BackfillFunction")
        for action in actions_of(statement)
        if "Condition" in statement
    }
    assert backfill == {k: v for k, v in STRICT_CONDITIONS.items() if k != "sts:AssumeRole"}
    for function in set(FUNCTIONS) - {"RemediateFunction", "BackfillFunction"}:
        assert all("Condition" not in s for s in function_statements(template, function)), function


def test_create_job_and_pass_role_are_alone_in_their_statements() -> None:
    remediate = function_statements(deployed(TEMPLATE), "RemediateFunction")
    [create] = [s for s in remediate if "s3:CreateJob" in actions_of(s)]
    [pass_role] = [s for s in remediate if "iam:PassRole" in actions_of(s)]
    assert actions_of(create) == {"s3:CreateJob"} and create["Resource"] == "*"
    assert actions_of(pass_role) == {"iam:PassRole"}
    assert pass_role["Resource"] == {"Fn::GetAtt": ["BatchOperationsRole", "Arn"]}


def test_the_batch_role_is_aws_batch_replication_example() -> None:
    # AWS "Configuring an IAM role for S3 Batch Replication": the generated-manifest policy, which
    # contains the user-supplied-manifest one, and the trust policy of batchoperations.s3.amazonaws.com
    role = batch_role(deployed(TEMPLATE))
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "batchoperations.s3.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    [policy] = role["Policies"]
    granted = sorted(
        (action, str(resource))
        for statement in policy["PolicyDocument"]["Statement"]
        for action in actions_of(statement)
        for resource in (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if statement["Effect"] == "Allow"
    )
    manifests = {"Fn::Sub": "${ManifestBucket.Arn}/*"}
    reports = {"Fn::Sub": "${ReportBucket.Arn}/*"}
    assert granted == sorted(
        (action, str(resource))
        for action, resource in [
            ("s3:InitiateReplication", SOURCE_OBJECTS),
            ("s3:GetReplicationConfiguration", {"Ref": "SourceBucketArns"}),
            ("s3:PutInventoryConfiguration", {"Ref": "SourceBucketArns"}),
            ("s3:GetObject", manifests),
            ("s3:GetObjectVersion", manifests),
            ("s3:PutObject", reports),
            ("s3:PutObject", manifests),
        ]
    )


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_that_heads_source_versions_may_list_the_source_buckets(function: str) -> None:
    # HEAD of a missing version answers 403 without s3:ListBucket on the bucket, 404 with it
    statements = function_statements(deployed(TEMPLATE), function)
    heads = any(
        s["Resource"] == SOURCE_OBJECTS and "s3:GetObjectVersion" in actions_of(s) for s in statements
    )
    lists = any(
        s["Resource"] == {"Ref": "SourceBucketArns"} and "s3:ListBucket" in actions_of(s) for s in statements
    )
    assert heads == lists, function
    assert heads or function != "RemediateFunction"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []


def test_every_arn_the_template_builds_carries_the_partition() -> None:
    # Parameters hold examples an operator replaces; everything else the stack builds itself
    built = _strings({k: v for k, v in TEMPLATE.items() if k not in {"Parameters", "Description"}})
    arns = [s for s in built if "arn:" in s]
    assert arns, "the template builds ARNs (the job-status rule, DescribeJob's jobs)"
    for text in arns:
        assert "arn:aws:" not in text, text
        assert all(part.startswith("${AWS::Partition}:") for part in text.split("arn:")[1:]), text


def test_the_functions_are_told_the_partition() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["PARTITION"] == {"Ref": "AWS::Partition"}


def test_every_parameter_is_in_the_readme_parameter_table() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = [line for line in readme.splitlines() if line.startswith("| `")]
    for parameter in TEMPLATE["Parameters"]:
        assert any(f"`{parameter}`" in line.split("|")[1] for line in table), parameter


# ---- alarms and the dashboard -------------------------------------------------------------------

ALARMS = {
    name: spec["Properties"] for name, spec in RESOURCES.items() if spec["Type"] == "AWS::CloudWatch::Alarm"
}
_METRIC_CALL = re.compile(r"""(?:add_metric|single_metric)\(\s*name=["']([A-Za-z]+)["']""")


def emitted_metrics() -> set[str]:
    """Every EMF metric name replimend's code emits (literal names, and the names of the
    ``for name, attribute in (("Name", ...` tables that publish counts)."""
    names: set[str] = set()
    for path in (REPO_ROOT / "layers" / "core" / "replimend").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        names.update(_METRIC_CALL.findall(text))
        if re.search(r"add_metric\(\s*name=name", text):
            names.update(re.findall(r'^\s*\("([A-Z][A-Za-z]+)", (?:"[a-z_]+"|result\.)', text, re.MULTILINE))
    return names


def test_the_code_emits_what_the_dashboard_and_alarms_are_built_on() -> None:
    emitted = emitted_metrics()
    # the parser finds the metrics of every stage, or this test proves nothing
    assert {"RecordsWritten", "JobsStarted", "ObjectsReplicated", "EventsReceived"} <= emitted
    for alarm in ALARMS.values():
        if (
            alarm["Namespace"]
            == TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
        ):
            assert alarm["MetricName"] in emitted, alarm["MetricName"]
            assert alarm["Dimensions"] == [{"Name": "service", "Value": "replimend"}]
    body = props("Dashboard")["DashboardBody"]["Fn::Sub"]
    for name in re.findall(r'"Replimend", "([A-Za-z]+)"', body) + re.findall(
        r'MetricName=\\"([A-Za-z]+)', body
    ):
        assert name in emitted, name


@pytest.mark.parametrize(
    "metric", ["UnknownReasons", "ObjectsGaveUp", "JobsFailed", "OldestDueFailureAgeSeconds"]
)
def test_replimends_own_trouble_raises_an_alarm_to_the_alert_topic(metric: str) -> None:
    assert metric in emitted_metrics()
    (alarm,) = [a for a in ALARMS.values() if a["MetricName"] == metric]
    assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_error_and_throttle_alarms(function: str, metric: str) -> None:
    found = [
        a
        for a in ALARMS.values()
        if a["Namespace"] == "AWS/Lambda"
        and a["MetricName"] == metric
        and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    ]
    assert len(found) == 1 and found[0]["AlarmActions"] == [{"Ref": "AlertTopic"}]


@pytest.mark.parametrize("queue", ["FailureDeadLetterQueue", "InvocationFailureQueue"])
def test_a_queue_of_failures_that_is_not_empty_raises_an_alarm(queue: str) -> None:
    (alarm,) = [
        a
        for a in ALARMS.values()
        if a["Namespace"] == "AWS/SQS"
        and a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]


def test_cloudwatch_may_use_the_alert_topics_key() -> None:
    assert props("AlertTopic")["KmsMasterKeyId"] == {"Ref": "AlertTopicKey"}
    statements = props("AlertTopicKey")["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in statements)
