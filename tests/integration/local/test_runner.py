"""LocalRuntime: the template drives resources, environment and event sources in the embedded AWS."""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from replimend_local.embedded import EmbeddedAws
from replimend_local.sam import (
    TEMPLATE_PATH,
    FunctionError,
    LocalClock,
    LocalRuntime,
    Schedule,
    TemplateError,
)

CLOCK_START = datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)

# A handler that records what it saw and fails the messages whose body asks for it.
RECORDER = textwrap.dedent(
    """
    import json, os, time

    SEEN = []
    COLD_START_ENV = {"TABLE": os.environ.get("TABLE"), "MODE": os.environ.get("MODE")}

    def handler(event, context):
        SEEN.append({"event": event, "env": {"TABLE": os.environ.get("TABLE"), "MODE": os.environ.get("MODE")},
                     "function": context.function_name,
                     "remaining": context.get_remaining_time_in_millis(),
                     "now": time.time()})
        failures = [
            {"itemIdentifier": record["messageId"]}
            for record in event.get("Records", [])
            if json.loads(record["body"]).get("fail")
        ]
        if event.get("raise"):
            raise RuntimeError("asked to fail")
        if "rawPath" in event:
            return {"statusCode": 200, "headers": {"content-type": "application/json"},
                    "body": json.dumps({"path": event["rawPath"], "params": event["pathParameters"],
                                        "query": event["queryStringParameters"]})}
        return {"batchItemFailures": failures}
    """
)

TEMPLATE = textwrap.dedent(
    """
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      Mode:
        Type: String
        AllowedValues: [fast, slow]
        Default: fast
      Buckets:
        Type: CommaDelimitedList
        Default: "a,b"
      Retries:
        Type: Number
        Default: 2
    Conditions:
      IsSlow: !Equals [!Ref Mode, slow]
      NotSlow: !Not [{Condition: IsSlow}]
    Globals:
      Function:
        Runtime: python3.13
        Timeout: 20
        MemorySize: 256
        Environment:
          Variables:
            TABLE: !Ref Table
            MODE: !Ref Mode
    Resources:
      Dlq:
        Type: AWS::SQS::Queue
      Queue:
        Type: AWS::SQS::Queue
        Properties:
          VisibilityTimeout: 120
          RedrivePolicy:
            deadLetterTargetArn: !GetAtt Dlq.Arn
            maxReceiveCount: !Ref Retries
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          BillingMode: PAY_PER_REQUEST
          AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
          KeySchema: [{AttributeName: pk, KeyType: HASH}]
          TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
      Reports:
        Type: AWS::S3::Bucket
        Properties:
          BucketName: !Sub "${AWS::StackName}-reports-${AWS::AccountId}"
          BucketEncryption:
            ServerSideEncryptionConfiguration:
              - ServerSideEncryptionByDefault: {SSEAlgorithm: AES256}
          PublicAccessBlockConfiguration:
            BlockPublicAcls: true
            BlockPublicPolicy: true
            IgnorePublicAcls: true
            RestrictPublicBuckets: true
          LifecycleConfiguration:
            Rules: [{Id: expire, Status: Enabled, ExpirationInDays: 30}]
      ReportsPolicy:
        Type: AWS::S3::BucketPolicy
        Properties:
          Bucket: !Ref Reports
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Deny
                Principal: "*"
                Action: "s3:*"
                Resource: [!GetAtt Reports.Arn, !Sub "${Reports.Arn}/*"]
                Condition: {Bool: {"aws:SecureTransport": "false"}}
      BatchRole:
        Type: AWS::IAM::Role
        Properties:
          AssumeRolePolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Principal: {Service: batchoperations.s3.amazonaws.com}
                Action: sts:AssumeRole
          Policies:
            - PolicyName: reports
              PolicyDocument:
                Version: "2012-10-17"
                Statement:
                  - Effect: Allow
                    Action: s3:PutObject
                    Resource: !Join ["", [!GetAtt Reports.Arn, "/*"]]
      SlowOnly:
        Type: AWS::SQS::Queue
        Condition: IsSlow
      Worker:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: fn/worker
          Handler: app.handler
          Environment:
            Variables:
              MODE: !If [IsSlow, slow-mode, !Select [1, !Ref Buckets]]
              ROLE_ARN: !GetAtt BatchRole.Arn
              FIRST: !Select [0, !Split [",", !Join [",", !Ref Buckets]]]
          Events:
            Messages:
              Type: SQS
              Properties:
                Queue: !GetAtt Queue.Arn
                BatchSize: 5
                FunctionResponseTypes: [ReportBatchItemFailures]
      Other:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: fn/other
          Handler: app.handler
          Timeout: 5
          Events:
            JobEvents:
              Type: EventBridgeRule
              Properties:
                Pattern:
                  source: [aws.s3]
                  detail-type: [AWS Service Event via CloudTrail]
                  detail: {eventName: [JobCreated, JobStatusChanged]}
            Every15:
              Type: ScheduleV2
              Properties:
                ScheduleExpression: rate(15 minutes)
                Input: '{"run": "remediate"}'
            Hourly:
              Type: Schedule
              Properties:
                Schedule: cron(0 * * * ? *)
            Api:
              Type: HttpApi
              Properties:
                Path: /items/{item}
                Method: GET
      JobRule:
        Type: AWS::Events::Rule
        Properties:
          EventPattern: {source: [replimend.test], detail-type: [Poke]}
          Targets:
            - Id: worker
              Arn: !GetAtt Worker.Arn
      SchedulerRole:
        Type: AWS::IAM::Role
        Properties:
          AssumeRolePolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Principal: {Service: scheduler.amazonaws.com}
                Action: sts:AssumeRole
      Daily:
        Type: AWS::Scheduler::Schedule
        Properties:
          ScheduleExpression: rate(1 day)
          FlexibleTimeWindow: {Mode: "OFF"}
          Target:
            Arn: !GetAtt Worker.Arn
            RoleArn: !GetAtt SchedulerRole.Arn
            Input: '{"backfill": true}'
    Outputs:
      QueueUrl:
        Value: !Ref Queue
      SlowQueue:
        Condition: IsSlow
        Value: !Ref SlowOnly
    """
)


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(emulators=False) as embedded:
        yield embedded


@pytest.fixture
def template_path(tmp_path: Path) -> Path:
    for name in ("worker", "other"):
        (tmp_path / "fn" / name).mkdir(parents=True)
        (tmp_path / "fn" / name / "app.py").write_text(RECORDER, encoding="utf-8")
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    return path


@pytest.fixture
def runtime(aws: EmbeddedAws, template_path: Path, request: pytest.FixtureRequest) -> Iterator[LocalRuntime]:
    aws.reset()
    stack = f"t{abs(hash(request.node.name)) % 10**6}"
    with LocalRuntime(template_path, stack_name=stack, clock=LocalClock(CLOCK_START)) as local:
        yield local


def seen(runtime: LocalRuntime, function_id: str) -> list[dict[str, Any]]:
    module = runtime.function(function_id).module
    assert module is not None, f"{function_id} was never invoked"
    return module.SEEN  # type: ignore[no-any-return]


def test_template_values_resolve_for_the_local_stack(runtime: LocalRuntime) -> None:
    # Given the deployed test template
    worker = runtime.function("Worker")
    # Then globals merge with the function's own variables and intrinsics resolve
    assert worker.environment["TABLE"] == f"{runtime.stack_name}-Table"
    assert worker.environment["MODE"] == "b"  # !If false branch -> !Select [1, Buckets]
    assert worker.environment["FIRST"] == "a"
    assert worker.environment["ROLE_ARN"] == f"arn:aws:iam::123456789012:role/{runtime.stack_name}-BatchRole"
    assert worker.memory_mb == 256 and worker.timeout_seconds == 20
    assert runtime.function("Other").timeout_seconds == 5
    # And conditional resources and outputs follow their condition
    assert runtime.resources["SlowOnly"].status == "SKIPPED"
    assert set(runtime.outputs) == {"QueueUrl"}
    assert runtime.outputs["QueueUrl"].endswith(f"/{runtime.stack_name}-Queue")


def test_parameter_overrides_are_validated_and_change_conditions(
    aws: EmbeddedAws, template_path: Path
) -> None:
    aws.reset()
    with pytest.raises(TemplateError, match="not one of"):
        LocalRuntime(template_path, parameters={"Mode": "medium"})
    with pytest.raises(TemplateError, match="unknown parameters"):
        LocalRuntime(template_path, parameters={"Nope": "x"})
    runtime = LocalRuntime(template_path, stack_name="slowstack", parameters={"Mode": "slow"}).deploy()
    assert runtime.function("Worker").environment["MODE"] == "slow-mode"
    assert runtime.function("Other").environment["MODE"] == "slow"
    assert runtime.resources["SlowOnly"].status == "CREATED"
    assert "SlowQueue" in runtime.outputs


def test_resources_are_created_in_the_embedded_aws(runtime: LocalRuntime) -> None:
    stack = runtime.stack_name
    sqs, s3, iam, dynamodb = (boto3.client(name) for name in ("sqs", "s3", "iam", "dynamodb"))
    # SQS queue with its redrive policy pointing at the DLQ
    attributes = sqs.get_queue_attributes(QueueUrl=runtime.physical_id("Queue"), AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["VisibilityTimeout"] == "120"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": f"arn:aws:sqs:us-east-1:123456789012:{stack}-Dlq",
        "maxReceiveCount": 2,
    }
    # DynamoDB table with its key schema and TTL
    table = dynamodb.describe_table(TableName=f"{stack}-Table")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    ttl = dynamodb.describe_time_to_live(TableName=f"{stack}-Table")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    # S3 bucket named by !Sub, with encryption, public access block, lifecycle and policy
    bucket = f"{stack}-reports-123456789012"
    assert runtime.physical_id("Reports") == bucket
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert (
        s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    )
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Expiration"]["Days"] == 30
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    # IAM role with its trust and inline policy
    role = iam.get_role(RoleName=f"{stack}-BatchRole")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    inline = iam.get_role_policy(RoleName=f"{stack}-BatchRole", PolicyName="reports")["PolicyDocument"]
    assert inline["Statement"][0]["Resource"] == f"arn:aws:s3:::{bucket}/*"
    # SAM's implicit function role exists too
    assert iam.get_role(RoleName=f"{stack}-WorkerRole")["Role"]["Arn"] == runtime.attribute(
        "WorkerRole", "Arn"
    )
    # EventBridge rule with the template's pattern, targeting a shadow queue
    events = boto3.client("events")
    (rule,) = events.list_rules(NamePrefix=f"{stack}-OtherJobEvents")["Rules"]
    assert json.loads(rule["EventPattern"])["detail"] == {"eventName": ["JobCreated", "JobStatusChanged"]}


def test_each_function_runs_with_its_own_environment(runtime: LocalRuntime) -> None:
    # When both functions are invoked (imported under their own environment)
    runtime.invoke("Worker", {"Records": []})
    runtime.invoke("Other", {"Records": []})
    worker, other = runtime.function("Worker").module, runtime.function("Other").module
    assert worker is not None and other is not None and worker is not other
    # Then each saw its own variables at cold start and during the invocation
    assert {"TABLE": f"{runtime.stack_name}-Table", "MODE": "b"} == worker.COLD_START_ENV
    assert {"TABLE": f"{runtime.stack_name}-Table", "MODE": "fast"} == other.COLD_START_ENV
    assert seen(runtime, "Worker")[0]["env"]["MODE"] == "b"
    assert seen(runtime, "Other")[0]["env"]["MODE"] == "fast"
    # And the fake context carries the function's identity and deadline
    call = seen(runtime, "Worker")[0]
    assert call["function"] == f"{runtime.stack_name}-Worker"
    assert 0 < call["remaining"] <= 20_000


def test_sqs_batches_with_partial_failures_end_in_the_dlq_after_max_receive_count(
    runtime: LocalRuntime,
) -> None:
    sqs = boto3.client("sqs")
    queue_url = runtime.physical_id("Queue")
    # Given 7 messages, two of which the handler reports as failed every time
    bodies = [{"n": n, "fail": n in (2, 5)} for n in range(7)]
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    # When the runtime drains its event sources
    runtime.drain()
    # Then batches respect BatchSize, successes are delivered once and deleted
    calls = seen(runtime, "Worker")
    assert all(len(call["event"]["Records"]) <= 5 for call in calls)
    delivered = [json.loads(r["body"])["n"] for call in calls for r in call["event"]["Records"]]
    assert sorted(n for n in delivered if n not in (2, 5)) == [0, 1, 3, 4, 6]
    # And each failed message was delivered maxReceiveCount (2) times, then moved to the DLQ by moto
    assert delivered.count(2) == 2 and delivered.count(5) == 2
    assert (
        int(
            sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        == 0
    )
    dead = sqs.receive_message(QueueUrl=runtime.physical_id("Dlq"), MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["body"] if "body" in m else m["Body"])["n"] for m in dead) == [2, 5]
    # And the records have Lambda's SQS event shape
    record = calls[0]["event"]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == runtime.attribute("Queue", "Arn")
    assert record["attributes"]["ApproximateReceiveCount"] == "1"


def test_a_raising_handler_fails_the_whole_batch(runtime: LocalRuntime) -> None:
    sqs = boto3.client("sqs")
    queue_url = runtime.physical_id("Queue")
    runtime.invoke("Worker", {"Records": []})  # load the module so SEEN exists
    module = runtime.function("Worker").module
    assert module is not None
    original = module.handler

    def flaky(event: dict[str, Any], context: Any) -> Any:
        if len(module.SEEN) < 2:  # the first real delivery fails entirely
            module.SEEN.append({"event": event})
            raise RuntimeError("boom")
        return original(event, context)

    module.handler = flaky
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"n": 1}))
    runtime.drain()
    failed = [i for i in runtime.invocations if i.function_id == "Worker" and not i.ok]
    assert len(failed) == 1 and "boom" in (failed[0].error or "")
    assert [json.loads(r["body"])["n"] for r in module.SEEN[-1]["event"]["Records"]] == [1]
    assert sqs.receive_message(QueueUrl=runtime.physical_id("Dlq")).get("Messages") is None


def test_eventbridge_rules_route_only_matching_events(runtime: LocalRuntime) -> None:
    # Given a job status event and an unrelated one on the default bus
    job_event = {
        "Source": "aws.s3",
        "DetailType": "AWS Service Event via CloudTrail",
        "Detail": {"eventSource": "s3.amazonaws.com", "eventName": "JobStatusChanged",
                   "serviceEventDetails": {"jobId": "j-1", "status": "Complete"}},
    }  # fmt: skip
    other_event = {"Source": "aws.s3", "DetailType": "Object Created", "Detail": {"bucket": {"name": "x"}}}
    runtime.put_events([job_event, other_event])
    # When the runtime drains
    runtime.drain()
    # Then moto's pattern matching delivered only the job event, in EventBridge's shape
    (call,) = seen(runtime, "Other")
    assert call["event"]["detail-type"] == "AWS Service Event via CloudTrail"
    assert call["event"]["detail"]["serviceEventDetails"]["jobId"] == "j-1"
    assert runtime.invocations[-1].trigger.startswith("rule:")


def test_schedules_fire_on_the_local_clock(runtime: LocalRuntime) -> None:
    start = runtime.clock.now()
    assert start == CLOCK_START
    # Nothing fires before the clock moves
    assert runtime.drain() == 0
    runtime.advance(minutes=14)
    assert not [i for i in runtime.invocations if i.trigger.startswith("schedule:")]
    # When the clock passes 00:30 and then 01:15
    runtime.advance(minutes=16)
    runtime.advance(minutes=45)
    # Then rate(15 minutes) fired at 15, 30, 45, 60 and 75 minutes; the hourly cron once, at 01:00
    fired = [i for i in runtime.invocations if i.trigger.startswith("schedule:")]
    rate_runs = [i.started_at for i in fired if i.summary == "rate(15 minutes)"]
    cron_runs = [i.started_at for i in fired if i.summary.startswith("cron(")]
    assert rate_runs == [start + timedelta(minutes=m) for m in (15, 30, 45, 60, 75)]
    assert cron_runs == [datetime(2030, 1, 1, 1, 0, tzinfo=UTC)]
    assert runtime.clock.now() - start == timedelta(minutes=75)
    # And the ScheduleV2 Input is the event; the Schedule rule sends a Scheduled Event
    events = [call["event"] for call in seen(runtime, "Other")]
    assert events.count({"run": "remediate"}) == 5
    (scheduled,) = [e for e in events if e.get("detail-type") == "Scheduled Event"]
    assert scheduled["source"] == "aws.events" and scheduled["time"] == "2030-01-01T01:00:00Z"
    assert scheduled["resources"][0].endswith(f":rule/{runtime.stack_name}-OtherHourly")


def test_schedule_expressions() -> None:
    anchor = datetime(2024, 1, 1, 0, 0, tzinfo=UTC)

    def times(expression: str, hours: int) -> list[datetime]:
        schedule = Schedule("s", expression, "F", lambda _m: {}, last_checked=anchor)
        return list(schedule.due_between(anchor, anchor.replace(hour=hours)))

    assert len(times("rate(1 hour)", 5)) == 5
    assert [t.minute for t in times("cron(0/20 * * * ? *)", 1)] == [20, 40, 0]
    assert [t.hour for t in times("cron(30 2,4 * * ? *)", 6)] == [2, 4]
    # 2024-01-01 is a Monday: MON-FRI matches, SAT-SUN does not
    assert len(times("cron(0 3 ? * MON-FRI *)", 5)) == 1
    assert times("cron(0 3 ? * SAT-SUN *)", 5) == []
    with pytest.raises(TemplateError):
        Schedule("s", "every 5 minutes", "F", lambda _m: {})


def test_http_api_routes_serve_api_gateway_events(runtime: LocalRuntime) -> None:
    base = runtime.serve_http()
    with urllib.request.urlopen(f"{base}/items/a%20b?x=1") as response:
        body = json.loads(response.read())
    assert body == {"path": "/items/a%20b", "params": {"item": "a%20b"}, "query": {"x": "1"}}
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/nothing")
    assert missing.value.code == 404


def test_the_project_template_deploys_and_wires_ingest(aws: EmbeddedAws) -> None:
    aws.reset()
    runtime = LocalRuntime(TEMPLATE_PATH, stack_name="replimend-test").deploy()
    # Every function of template.yaml is runnable and every resource was created or explained
    assert "IngestFunction" in runtime.functions
    assert all(r.status in ("CREATED", "SKIPPED") for r in runtime.resources.values())
    ingest_sources = [s for s in runtime.sqs_sources if s.function_id == "IngestFunction"]
    assert [s.queue_arn for s in ingest_sources] == [runtime.outputs["FailureQueueArn"]]
    assert ingest_sources[0].report_item_failures
    env = runtime.function("IngestFunction").environment
    assert env["LEDGER_TABLE"] == runtime.outputs["LedgerTableName"] == "replimend-test-Ledger"
    redrive = json.loads(
        boto3.client("sqs").get_queue_attributes(
            QueueUrl=runtime.outputs["FailureQueueUrl"], AttributeNames=["RedrivePolicy"]
        )["Attributes"]["RedrivePolicy"]
    )
    assert redrive["deadLetterTargetArn"].endswith(":replimend-test-FailureDeadLetterQueue")


def test_standalone_rules_and_scheduler_schedules_target_functions(runtime: LocalRuntime) -> None:
    # Given an AWS::Events::Rule and an AWS::Scheduler::Schedule whose targets are the Worker function
    runtime.put_events([{"Source": "replimend.test", "DetailType": "Poke", "Detail": {"n": 1}}])
    runtime.put_events([{"Source": "replimend.test", "DetailType": "Other", "Detail": {"n": 2}}])
    # When events are drained and a day passes
    runtime.drain()
    runtime.advance(days=1)
    # Then the matching event and the daily schedule's Input reached the Worker, nothing else did
    events = [call["event"] for call in seen(runtime, "Worker")]
    assert [e["detail"] for e in events if "detail" in e] == [{"n": 1}]
    assert events.count({"backfill": True}) == 1
    schedules = boto3.client("scheduler").list_schedules()["Schedules"]
    assert [s["Name"] for s in schedules] == [f"{runtime.stack_name}-Daily"]


def test_a_missing_handler_fails_the_invocation_like_lambda(runtime: LocalRuntime) -> None:
    runtime.function("Worker").handler = "app.no_such_handler"
    with pytest.raises(FunctionError, match=r"Runtime\.HandlerNotFound"):
        runtime.invoke("Worker", {})
    assert runtime.invocations[-1].ok is False


def test_handlers_and_the_embedded_account_live_at_the_runtime_clock(
    aws: EmbeddedAws, template_path: Path
) -> None:
    aws.reset()
    runtime = LocalRuntime(template_path, stack_name="simtime", clock=LocalClock(CLOCK_START)).deploy()
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="simtime-bucket")
    try:
        # Given a clock in 2030, when a handler runs twice without the clock moving
        runtime.invoke("Worker", {})
        runtime.invoke("Worker", {})
        # Then it reads the clock's time (wall clock APIs, unmodified code), never going back
        first, second = (call["now"] for call in seen(runtime, "Worker"))
        assert CLOCK_START.timestamp() <= first <= second < CLOCK_START.timestamp() + 60
        # When the clock advances two hours, the handlers (schedules included) live two hours later
        runtime.advance(hours=2)
        runtime.invoke("Worker", {})
        assert seen(runtime, "Worker")[-1]["now"] >= (CLOCK_START + timedelta(hours=2)).timestamp()
        scheduled = [call["now"] for call in seen(runtime, "Other") if call["event"] == {"run": "remediate"}]
        assert scheduled[0] >= (CLOCK_START + timedelta(minutes=15)).timestamp()
        assert scheduled == sorted(scheduled)
        # And inside simulated_time the moto server agrees (S3 LastModified at the simulated time)
        with runtime.simulated_time():
            assert datetime.now(UTC) >= CLOCK_START + timedelta(hours=2)
            s3.put_object(Bucket="simtime-bucket", Key="k", Body=b"x")
            modified = s3.head_object(Bucket="simtime-bucket", Key="k")["LastModified"]
            assert modified >= CLOCK_START + timedelta(hours=2) - timedelta(seconds=1)
        # And outside it, real time again
        assert datetime.now(UTC) < CLOCK_START
    finally:
        runtime.close()
    assert datetime.now(UTC) < CLOCK_START and not runtime.simulated_time.active


def test_simulated_time_can_be_turned_off(aws: EmbeddedAws, template_path: Path) -> None:
    aws.reset()
    runtime = LocalRuntime(
        template_path, stack_name="realtime", clock=LocalClock(CLOCK_START), simulate_time=False
    ).deploy()
    try:
        runtime.invoke("Worker", {})
        assert seen(runtime, "Worker")[-1]["now"] < CLOCK_START.timestamp()
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({"Type": "AWS::StepFunctions::StateMachine", "Properties": {}}, "AWS::StepFunctions::StateMachine"),
        (
            {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "fn/worker",
                    "Handler": "app.handler",
                    "Events": {"Stream": {"Type": "Kinesis", "Properties": {"Stream": "arn"}}},
                },
            },
            "Kinesis",
        ),
    ],
    ids=["resource type", "event type"],
)
def test_what_the_runtime_does_not_emulate_fails_the_deployment_loudly(
    aws: EmbeddedAws, template_path: Path, resource: dict[str, Any], message: str
) -> None:
    # Given a template with a resource type or an event type the runtime does not know
    template = {"Resources": {"Unknown": resource}}
    runtime = LocalRuntime(template, stack_name="loud")
    runtime.template_dir = template_path.parent
    # When it is deployed, Then it fails naming what is not emulated (nothing is skipped silently)
    with pytest.raises(TemplateError, match=message):
        runtime.deploy()
