"""Event sources: what makes the functions run, as Lambda, EventBridge and the schedulers would.

* SQS events: poll the queue and deliver batches like Lambda's event source mapping (BatchSize,
  FilterCriteria, ReportBatchItemFailures). Failed messages become visible again at once (instead
  of after the visibility timeout), so moto's own redrive moves them to the DLQ after
  maxReceiveCount.
* EventBridge rules: the rule is created in moto with its real pattern and a shadow SQS queue as
  its target (moto cannot target Lambda), so moto does the pattern matching; the runtime polls the
  shadow queue and invokes the function with each event.
* DynamoDB stream events: read the table's stream (moto keeps it) shard by shard and deliver
  batches like Lambda's stream event source mapping: in order, StartingPosition, BatchSize,
  ReportBatchItemFailures (retry from the lowest reported sequence number), BisectBatchOnFunctionError
  (a failed batch is retried in halves), MaximumRetryAttempts, then the on-failure destination
  (an SQS queue) gets the batch's description and the shard moves past it.
  https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-eventsourcemapping.html
* Schedule / ScheduleV2 events and AWS::Scheduler::Schedule resources: fired by the clock
  (``advance(minutes=15)``), since moto stores schedules but never fires them.

An event type the runtime does not know is a TemplateError, never skipped.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from replimend_local.moto_patches import event_pattern_matches
from replimend_local.sam.clock import Schedule
from replimend_local.sam.core import RuntimeCore
from replimend_local.sam.errors import DrainTimeout, TemplateError
from replimend_local.sam.functions import Invocation, LocalFunction
from replimend_local.sam.http import HttpRoute
from replimend_local.sam.template import as_bool


@dataclass
class SqsSource:
    function_id: str
    name: str
    queue_url: str
    queue_arn: str
    batch_size: int
    report_item_failures: bool
    filters: list[Any]
    enabled: bool = True


@dataclass
class RuleSource:
    function_id: str
    rule_name: str
    rule_arn: str
    queue_url: str
    input: Any = None
    input_path: str | None = None


@dataclass
class StreamSource:
    function_id: str
    name: str
    stream_arn: str
    batch_size: int
    starting_position: str
    report_item_failures: bool
    bisect: bool
    max_retries: int  # -1: until the record expires (here: for ever)
    on_failure_arn: str | None
    enabled: bool = True
    #: per shard: the sequence number to read from next (None: the starting position)
    position: dict[str, str | None] = field(default_factory=dict)
    #: per shard: (first sequence number of the failing batch, attempts, batch size to try)
    retrying: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    #: the stream's shards (read once: the embedded DynamoDB never splits one)
    shards: list[str] = field(default_factory=list)
    #: per shard: the iterator to read on with (one call a poll while the shard is quiet)
    iterators: dict[str, str] = field(default_factory=dict)


#: the event types of AWS::Serverless::Function the runtime delivers
EVENT_TYPES = (
    "SQS",
    "DynamoDB",
    "EventBridgeRule",
    "CloudWatchEvent",
    "Schedule",
    "ScheduleV2",
    "HttpApi",
    "Api",
)


class EventSources(RuntimeCore):
    """Wires the functions' events from the template and delivers them."""

    # ---------------------------------------------------------------- event source wiring

    def _function_for_arn(self, arn: Any) -> str | None:
        for function in self.functions.values():
            if arn in (function.arn, function.name) or str(arn).startswith(function.arn + ":"):
                return function.logical_id
        # a function declared later in the template than the rule that targets it
        for logical_id, resource in self.resources.items():
            if resource.type == "AWS::Serverless::Function" and resource.status == "PENDING":
                self._ensure(logical_id)
                if arn == resource.attributes["Arn"] or arn == resource.physical_id:
                    return logical_id
        return None

    def _wire_events(self, function: LocalFunction) -> None:
        events = self.template["Resources"][function.logical_id].get("Properties", {}).get("Events") or {}
        for event_name, spec in events.items():
            kind = spec.get("Type")
            props = self.resolver.resolve(spec.get("Properties") or {})
            label = f"{function.logical_id}{event_name}"
            if kind == "SQS":
                self._add_sqs_source(function.logical_id, event_name, props)
            elif kind == "DynamoDB":
                self._add_stream_source(function.logical_id, event_name, props)
            elif kind in ("EventBridgeRule", "CloudWatchEvent"):
                bus = props.get("EventBusName", "default")
                rule_name = props.get("RuleName") or self._name(label, 64)
                rule_arn = self._put_pattern_rule(
                    rule_name, bus, props["Pattern"], props.get("State", "ENABLED")
                )
                self._add_rule_source(
                    function.logical_id,
                    rule_name,
                    bus=bus,
                    rule_arn=rule_arn,
                    input_value=props.get("Input"),
                    input_path=props.get("InputPath"),
                )
            elif kind == "Schedule":
                enabled = as_bool(props.get("Enabled", True)) and props.get("State", "ENABLED") == "ENABLED"
                rule_name = props.get("Name") or self._name(label, 64)
                rule_arn = self.client("events").put_rule(
                    Name=rule_name,
                    ScheduleExpression=props["Schedule"],
                    State="ENABLED" if enabled else "DISABLED",
                )["RuleArn"]
                self._add_schedule(
                    rule_name,
                    props["Schedule"],
                    function_id=function.logical_id,
                    rule_arn=rule_arn,
                    input_value=props.get("Input"),
                    enabled=enabled,
                )
            elif kind == "ScheduleV2":
                name = props.get("Name") or self._name(label, 64)
                self._add_schedule(
                    name,
                    props["ScheduleExpression"],
                    function_id=function.logical_id,
                    rule_arn=None,
                    input_value=props.get("Input"),
                    enabled=props.get("State", "ENABLED") == "ENABLED",
                )
            elif kind in ("HttpApi", "Api"):
                self.http_routes.append(
                    HttpRoute(
                        function.logical_id,
                        str(props.get("Method", "ANY")).upper(),
                        props.get("Path", "/{proxy+}"),
                        "2.0"
                        if kind == "HttpApi" and props.get("PayloadFormatVersion", "2.0") == "2.0"
                        else "1.0",
                        iam_auth=kind == "HttpApi" and self._route_authorizer(spec) == "AWS_IAM",
                    )
                )
            else:
                raise TemplateError(
                    f"{function.logical_id}: event {event_name} of type {kind} is not emulated locally "
                    f"(emulated: {', '.join(EVENT_TYPES)})"
                )

    def _route_authorizer(self, spec: Mapping[str, Any]) -> str | None:
        """An HttpApi route's authorizer: its own Auth.Authorizer, else its API's DefaultAuthorizer."""
        props = spec.get("Properties") or {}
        api = props.get("ApiId")
        api_id = api.get("Ref") if isinstance(api, Mapping) else None
        api_props = (self.template["Resources"].get(api_id) or {}).get("Properties") or {} if api_id else {}
        default = (api_props.get("Auth") or {}).get("DefaultAuthorizer")
        authorizer = (props.get("Auth") or {}).get("Authorizer", default)
        return str(authorizer) if authorizer else None

    def _wire_event_source_mapping(self, logical_id: str) -> None:
        props = self.resolver.resolve(self.template["Resources"][logical_id].get("Properties") or {})
        function_id = self._function_for_arn(props["FunctionName"])
        if function_id is None or ":sqs:" not in str(props.get("EventSourceArn")):
            raise TemplateError(
                f"{logical_id}: only SQS event source mappings to functions of this stack are "
                "emulated locally"
            )
        self._add_sqs_source(function_id, logical_id, {**props, "Queue": props["EventSourceArn"]})

    def _add_sqs_source(self, function_id: str, name: str, props: Mapping[str, Any]) -> None:
        arn = props["Queue"]
        url = (
            self._queue_urls_by_arn.get(arn)
            or self.client("sqs").get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
        )
        filters = []
        for item in (props.get("FilterCriteria") or {}).get("Filters", []):
            pattern = item["Pattern"]
            filters.append(json.loads(pattern) if isinstance(pattern, str) else pattern)
        self.sqs_sources.append(
            SqsSource(
                function_id=function_id,
                name=name,
                queue_url=url,
                queue_arn=arn,
                batch_size=int(props.get("BatchSize", 10)),
                report_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                filters=filters,
                enabled=as_bool(props.get("Enabled", True)),
            )
        )

    def _add_stream_source(self, function_id: str, name: str, props: Mapping[str, Any]) -> None:
        position = str(props.get("StartingPosition", ""))
        if position not in ("TRIM_HORIZON", "LATEST"):
            raise TemplateError(f"{function_id}: {name}: StartingPosition must be TRIM_HORIZON or LATEST")
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if on_failure is not None and ":sqs:" not in str(on_failure):
            raise TemplateError(f"{function_id}: {name}: only an SQS on-failure destination is emulated")
        self.stream_sources.append(
            StreamSource(
                function_id=function_id,
                name=name,
                stream_arn=str(props["Stream"]),
                batch_size=int(props.get("BatchSize", 100)),
                starting_position=position,
                report_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                bisect=as_bool(props.get("BisectBatchOnFunctionError", False)),
                max_retries=int(props.get("MaximumRetryAttempts", -1)),
                on_failure_arn=str(on_failure) if on_failure else None,
                enabled=as_bool(props.get("Enabled", True)),
            )
        )
        source = self.stream_sources[-1]
        if position == "LATEST":  # from the mapping's creation: after what the shards hold now
            streams = self.client("dynamodbstreams")
            for shard in streams.describe_stream(StreamArn=source.stream_arn)["StreamDescription"]["Shards"]:
                source.position[shard["ShardId"]] = self._shard_end(source, shard["ShardId"])

    def _put_pattern_rule(self, name: str, bus: str, pattern: Any, state: str) -> str:
        response = self.client("events").put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=pattern if isinstance(pattern, str) else json.dumps(pattern),
            State=state,
        )
        return str(response["RuleArn"])

    def _add_rule_source(
        self,
        function_id: str,
        rule_name: str,
        *,
        bus: str,
        rule_arn: str,
        input_value: Any,
        input_path: str | None,
    ) -> None:
        """A shadow queue as the rule's target: moto matches the pattern, the runtime invokes the function."""
        sqs = self.client("sqs")
        queue_name = f"{rule_name[:70]}-target"
        url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.client("events").put_targets(
            Rule=rule_name, EventBusName=bus, Targets=[{"Id": f"local-{function_id}"[:64], "Arn": queue_arn}]
        )
        self.rule_sources.append(RuleSource(function_id, rule_name, rule_arn, url, input_value, input_path))

    def _add_schedule(
        self,
        name: str,
        expression: str,
        *,
        function_id: str,
        rule_arn: str | None,
        input_value: Any,
        enabled: bool,
    ) -> None:
        def payload(moment: datetime) -> Any:
            if input_value is not None:
                return json.loads(input_value) if isinstance(input_value, str) else input_value
            if rule_arn is None:  # EventBridge Scheduler sends an empty object when no Input is set
                return {}
            return {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": self.account_id,
                "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.region,
                "resources": [rule_arn],
                "detail": {},
            }

        self.schedules.append(
            Schedule(name, expression, function_id, payload, enabled=enabled, last_checked=self.clock.now())
        )

    # ---------------------------------------------------------------- event sources

    def add_poller(self, poller: Callable[[], int]) -> None:
        """Run ``poller`` on every drain round; it returns how much it did (0 when quiet)."""
        self.pollers.append(poller)

    def drain(self, *, max_rounds: int = 200) -> int:
        """Run SQS and EventBridge deliveries (and pollers) until all are quiet; returns the work done."""
        with self.simulated_time():
            return self._drain(max_rounds)

    def _drain(self, max_rounds: int) -> int:
        total = 0
        for _ in range(max_rounds):
            delivered = 0
            for source in self.sqs_sources:
                if source.enabled:
                    delivered += self._poll_sqs(source)
            for rule in self.rule_sources:
                delivered += self._poll_rule(rule)
            for stream in self.stream_sources:
                if stream.enabled:
                    delivered += self._poll_stream(stream)
            for poller in self.pollers:
                delivered += poller()
            total += delivered
            if delivered == 0:
                return total
        raise DrainTimeout(f"event sources still delivering after {max_rounds} rounds")

    def _poll_sqs(self, source: SqsSource) -> int:
        sqs = self.client("sqs")
        invocations = 0
        while True:
            response = sqs.receive_message(
                QueueUrl=source.queue_url,
                MaxNumberOfMessages=min(source.batch_size, 10),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            messages = response.get("Messages", [])
            if not messages:
                return invocations
            records = [self._sqs_record(message, source) for message in messages]
            kept = [record for record in records if self._passes_filters(record, source)]
            dropped = [record for record in records if record not in kept]
            # Lambda deletes messages that match no filter without invoking the function
            self._delete(source, dropped)
            if not kept:
                continue
            invocation = self._invoke(
                source.function_id,
                {"Records": kept},
                trigger=f"sqs:{source.queue_arn.rsplit(':', 1)[1]}",
                summary=f"{len(kept)} message{'s' if len(kept) != 1 else ''}",
            )
            invocations += 1
            failed_ids = self._failed_message_ids(invocation, kept, source)
            self._delete(source, [record for record in kept if record["messageId"] not in failed_ids])
            # Visible again at once (not after the visibility timeout): the next poll redelivers it,
            # and moto's redrive moves it to the DLQ once maxReceiveCount is reached.
            for record in kept:
                if record["messageId"] in failed_ids:
                    sqs.change_message_visibility(
                        QueueUrl=source.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                    )
            if failed_ids:
                invocation.summary += f", {len(failed_ids)} failed"
                # a failed message becomes visible again at once: stop this poll, let drain() come back
                return invocations

    @staticmethod
    def _failed_message_ids(
        invocation: Invocation, records: list[dict[str, Any]], source: SqsSource
    ) -> set[str]:
        every = {record["messageId"] for record in records}
        if not invocation.ok:
            return every
        if not source.report_item_failures:
            return set()
        result = invocation.result
        if not isinstance(result, dict) or "batchItemFailures" not in result:
            return set()
        failed: set[str] = set()
        for item in result["batchItemFailures"] or []:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or identifier not in every:
                return every  # Lambda treats an invalid response as a failure of the whole batch
            failed.add(identifier)
        return failed

    def _delete(self, source: SqsSource, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            if chunk:
                self.client("sqs").delete_message_batch(
                    QueueUrl=source.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)
                    ],
                )

    def _sqs_record(self, message: Mapping[str, Any], source: SqsSource) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                key: attributes[key]
                for key in (
                    "ApproximateReceiveCount",
                    "SentTimestamp",
                    "SenderId",
                    "ApproximateFirstReceiveTimestamp",
                    "MessageGroupId",
                    "MessageDeduplicationId",
                    "SequenceNumber",
                )
                if key in attributes
            },
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": source.queue_arn,
            "awsRegion": self.region,
        }

    @staticmethod
    def _passes_filters(record: Mapping[str, Any], source: SqsSource) -> bool:
        if not source.filters:
            return True
        candidate = dict(record)
        with contextlib.suppress(ValueError, TypeError):
            candidate["body"] = json.loads(record["body"])
        return any(event_pattern_matches(pattern, candidate) for pattern in source.filters)

    def _poll_stream(self, source: StreamSource) -> int:
        if not source.shards:
            described = self.client("dynamodbstreams").describe_stream(StreamArn=source.stream_arn)
            source.shards = [shard["ShardId"] for shard in described["StreamDescription"]["Shards"]]
        invocations = 0
        for shard_id in source.shards:
            while True:
                records = self._read_shard(source, shard_id)
                if not records:
                    break
                invocations += 1
                if not self._deliver_stream_batch(source, shard_id, records):
                    break  # a failed batch: drain() comes back for the retry
        return invocations

    def _read_shard(self, source: StreamSource, shard_id: str) -> list[dict[str, Any]]:
        streams = self.client("dynamodbstreams")
        iterator = source.iterators.pop(shard_id, None)
        if iterator is None:
            after = source.position.get(shard_id)  # a shard the mapping has not read yet: from its start
            iterator_args: dict[str, Any] = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                if after
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = streams.get_shard_iterator(
                StreamArn=source.stream_arn, ShardId=shard_id, **iterator_args
            )["ShardIterator"]
        retry = source.retrying.get(shard_id)
        limit = retry[2] if retry else source.batch_size
        page = streams.get_records(ShardIterator=iterator, Limit=max(1, limit))
        records = [{**record, "eventSourceARN": source.stream_arn} for record in page.get("Records", [])]
        # Read on from the next iterator unless the batch fails (a retry reads from its position)
        if page.get("NextShardIterator"):
            source.iterators[shard_id] = page["NextShardIterator"]
        return records

    def _shard_end(self, source: StreamSource, shard_id: str) -> str | None:
        streams = self.client("dynamodbstreams")
        iterator = streams.get_shard_iterator(
            StreamArn=source.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        last: str | None = None
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not page.get("Records"):
                return last
            last = page["Records"][-1]["dynamodb"]["SequenceNumber"]
            iterator = page.get("NextShardIterator")
        return last

    def _deliver_stream_batch(
        self, source: StreamSource, shard_id: str, records: list[dict[str, Any]]
    ) -> bool:
        """Invoke with one batch; True when the shard moved past all of it."""
        numbers = [str(r["dynamodb"]["SequenceNumber"]) for r in records]
        invocation = self._invoke(
            source.function_id,
            {"Records": records},
            trigger=f"dynamodb:{source.stream_arn.split('/')[1]}",
            summary=f"{len(records)} record{'s' if len(records) != 1 else ''}",
        )
        failed_from = self._first_failed_record(invocation, numbers, source)
        if failed_from is not None:
            source.iterators.pop(shard_id, None)
        if failed_from is None:
            source.position[shard_id] = numbers[-1]
            source.retrying.pop(shard_id, None)
            return True
        done = numbers.index(failed_from)
        if done:  # checkpoint before the first failed record, retry from it
            source.position[shard_id] = numbers[done - 1]
        first, attempts, size = source.retrying.get(shard_id, (failed_from, 0, len(records) - done))
        if source.bisect and not invocation.ok and len(records) - done > 1:
            # "Splitting a batch does not count towards the retry quota" (services-dynamodb-errors)
            size = max(1, (len(records) - done) // 2)
        else:
            attempts = attempts + 1 if first == failed_from else 1
        invocation.summary += f", failed from {failed_from}"
        if source.max_retries >= 0 and attempts > source.max_retries:
            self._send_to_on_failure(source, shard_id, records[done:])
            source.position[shard_id] = numbers[-1]
            source.iterators.pop(shard_id, None)
            source.retrying.pop(shard_id, None)
            return True
        source.retrying[shard_id] = (failed_from, attempts, size)
        return False

    @staticmethod
    def _first_failed_record(invocation: Invocation, numbers: list[str], source: StreamSource) -> str | None:
        if not invocation.ok:
            return numbers[0]
        result = invocation.result
        if not source.report_item_failures or not isinstance(result, dict):
            return None
        failures = result.get("batchItemFailures") or []
        reported = []
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or str(identifier) not in numbers:
                return numbers[0]  # Lambda treats an invalid response as a failure of the whole batch
            reported.append(str(identifier))
        # Lambda retries from the lowest sequence number reported
        return min(reported, key=numbers.index) if reported else None

    def _send_to_on_failure(self, source: StreamSource, shard_id: str, records: list[dict[str, Any]]) -> None:
        if source.on_failure_arn is None:
            return
        url = (
            self._queue_urls_by_arn.get(source.on_failure_arn)
            or self.client("sqs").get_queue_url(QueueName=source.on_failure_arn.rsplit(":", 1)[1])["QueueUrl"]
        )
        # The shape Lambda sends for a stream batch it gave up on: where to find the records, not
        # the records (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html), a subset
        # of its fields.
        body = {
            "requestContext": {
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": source.max_retries + 1,
            },
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(records),
                "streamArn": source.stream_arn,
            },
        }
        self.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(body))

    def _poll_rule(self, rule: RuleSource) -> int:
        sqs = self.client("sqs")
        invocations = 0
        while True:
            messages = sqs.receive_message(
                QueueUrl=rule.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return invocations
            for message in messages:
                event = json.loads(message["Body"])
                payload = self._rule_input(rule, event)
                detail = event.get("detail") if isinstance(event, dict) else None
                name = detail.get("eventName") if isinstance(detail, dict) else None
                # EventBridge invokes asynchronously: an error is logged, not retried here
                self._invoke(
                    rule.function_id,
                    payload,
                    trigger=f"rule:{rule.rule_name}",
                    summary=str(name or (event.get("detail-type") if isinstance(event, dict) else "")),
                )
                invocations += 1
                sqs.delete_message(QueueUrl=rule.queue_url, ReceiptHandle=message["ReceiptHandle"])

    @staticmethod
    def _rule_input(rule: RuleSource, event: Any) -> Any:
        if rule.input is not None:
            return json.loads(rule.input) if isinstance(rule.input, str) else rule.input
        if rule.input_path:
            value = event
            for part in rule.input_path.removeprefix("$").strip(".").split("."):
                if part:
                    value = value[part]
            return value
        return event

    def put_events(self, entries: list[dict[str, Any]], *, bus: str = "default") -> None:
        """Put events on a bus (moto routes them to the rules' shadow queues); drain() delivers them."""
        for entry in entries:
            entry.setdefault("EventBusName", bus)
            if not isinstance(entry.get("Detail"), str):
                entry["Detail"] = json.dumps(entry.get("Detail", {}))
        response = self.client("events").put_events(Entries=entries)
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"put_events failed: {response['Entries']}")

    # ---------------------------------------------------------------- clock

    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> int:
        """Move the clock forward, firing every schedule due on the way (each followed by a drain).

        The simulated wall clock moves with it, so handlers see each schedule's moment.
        """
        with self.simulated_time():
            return self._advance(timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds))

    def _advance(self, delta: timedelta) -> int:
        until = self.clock.now() + delta
        start = self.clock.now()
        due = sorted(
            ((moment, index) for index, schedule in enumerate(self.schedules) if schedule.enabled
             for moment in schedule.due_between(start, until)),
            key=lambda item: item,
        )  # fmt: skip
        invocations = self.drain()
        for moment, index in due:
            schedule = self.schedules[index]
            self.clock.set(moment)
            self.simulated_time.follow_clock()
            schedule.fired += 1
            self._invoke(
                schedule.function_id,
                schedule.payload(moment),
                trigger=f"schedule:{schedule.name}",
                summary=schedule.expression,
            )
            invocations += 1 + self.drain()
        self.clock.set(until)
        self.simulated_time.follow_clock()
        return invocations
