"""events.parse_document / parse_message_body: every delivery form, encoded keys, bad and hostile input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replimend.errors import MalformedEventError
from replimend.events import (
    MAX_DOCUMENT_CHARS,
    MAX_NESTING_DEPTH,
    event_id_of,
    parse_document,
    parse_message_body,
    split_bucket_arn,
)
from replimend.models import (
    FAILED_REPLICATION,
    MISSED_THRESHOLD,
    NOT_TRACKED,
    REPLICATED_AFTER_THRESHOLD,
    TEST_EVENT,
    ReplicationEvent,
    UnparseableRecord,
)
from tests.conftest import load_event


def s3_record(**overrides: Any) -> dict[str, Any]:
    """A replication failure record shaped like AWS's example, with fields replaced as asked."""
    record: dict[str, Any] = {
        "eventVersion": "2.2",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2024-09-05T21:04:32.527Z",
        "eventName": FAILED_REPLICATION,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": "src-bucket", "arn": "arn:aws:s3:::src-bucket"},
            "object": {"key": "a/b.txt", "size": 10, "eTag": "abc", "versionId": "v1", "sequencer": "0A"},
        },
        "replicationEventData": {
            "replicationRuleId": "rule-1",
            "destinationBucket": "arn:aws:s3:::dst-bucket",
            "s3Operation": "OBJECT_PUT",
            "requestTime": "2024-09-05T21:03:59.168Z",
            "failureReason": "DstBucketUnversioned",
        },
    }
    record.update(overrides)
    return record


def only_events(items: list[ReplicationEvent | UnparseableRecord]) -> list[ReplicationEvent]:
    assert all(isinstance(item, ReplicationEvent) for item in items), items
    return [item for item in items if isinstance(item, ReplicationEvent)]


# ---------------------------------------------------------------- delivery forms


def test_direct_s3_document_gives_every_field_of_the_aws_example() -> None:
    # Given AWS's own example of a FailedReplication event delivered straight to Lambda
    document = load_event("s3-failed-replication.json")

    # When it is parsed
    [event] = only_events(parse_document(document))

    # Then every field is taken over, the destination ARN is kept and its bucket name derived
    assert event.event_type == FAILED_REPLICATION
    assert event.source_bucket == "amzn-s3-demo-bucket1"
    assert event.key == "replication-object-put-test.png"
    assert event.version_id == "abcdeH0Xp66ep__QDjR76LK7Gc9X4wKO"
    assert event.sequencer == "0066DA1CBF104C0D51"
    assert event.size == 520080
    assert event.etag == "e12345ca7e88a38428305d3ff7fcb99f"
    assert event.region == "us-east-1"
    assert event.event_time == datetime(2024, 9, 5, 21, 4, 32, 527000, tzinfo=UTC)
    assert event.destination_bucket_arn == "arn:aws:s3:::amzn-s3-demo-bucket2"
    assert event.destination_bucket == "amzn-s3-demo-bucket2"
    assert event.rule_id == "notification-test-replication-rule"
    assert event.s3_operation == "OBJECT_PUT"
    assert event.request_time == "2024-09-05T21:03:59.168Z"
    assert event.failure_reason == "AssumeRoleNotPermitted"
    assert len(event.event_id) == 32


def test_sqs_event_yields_one_event_per_message_in_order_with_decoded_keys() -> None:
    # Given a Lambda SQS event with three messages, one key form-encoded and one with accents
    document = load_event("sqs-failed-replication.json")

    # When it is parsed
    events = only_events(parse_document(document))

    # Then the keys are decoded the way S3 encoded them, in message order
    assert [event.key for event in events] == [
        "reports/2024/Q1 summary(final).csv",
        "photos/été/café crème.jpg",
        "logs/2024-09-05/app.log.gz",
    ]
    assert [event.failure_reason for event in events] == [
        "DstBucketUnversioned",
        "DstPutObjectNotPermitted",
        "SrcKeyNotFound",
    ]


def test_encoded_key_decodes_plus_as_space_and_percent_escapes() -> None:
    # Given the record key S3 sends for "reports/2024/Q1 summary(final).csv"
    record = s3_record()
    record["s3"]["object"]["key"] = "reports/2024/Q1+summary%28final%29.csv"

    # When it is parsed
    [event] = only_events(parse_document({"Records": [record]}))

    # Then "+" is a space and %XX are decoded; a literal plus would arrive as %2B
    assert event.key == "reports/2024/Q1 summary(final).csv"
    record["s3"]["object"]["key"] = "c%2B%2B/notes+v2.txt"
    [event] = only_events(parse_document({"Records": [record]}))
    assert event.key == "c++/notes v2.txt"


@pytest.mark.parametrize(
    ("name", "expected_key", "expected_reason"),
    [
        ("sqs-sns-envelope.json", "invoices/2024/09/INV-000123.pdf", "DstKmsKeyInvalidState"),
        ("sqs-raw-sns.json", "backups/db/2024-09-05.dump", "SrcGetObjectNotPermitted"),
        ("sns-lambda.json", "media/video/intro 2024.mp4", "DstBucketNotFound"),
        ("s3-unknown-reason.json", "exports/customers.csv", "DstReplicaQuotaExceeded"),
    ],
)
def test_every_sns_and_sqs_delivery_form_reaches_the_s3_record(
    name: str, expected_key: str, expected_reason: str
) -> None:
    # Given an event in one of the SNS/SQS delivery forms
    document = load_event(name)

    # When it is parsed
    [event] = only_events(parse_document(document))

    # Then the S3 record inside is found
    assert event.key == expected_key
    assert event.failure_reason == expected_reason
    assert event.destination_bucket == "amzn-s3-demo-bucket2"


def test_same_record_through_different_forms_has_the_same_event_id() -> None:
    # Given one S3 record delivered directly, through SQS, through SNS→SQS and through SNS→Lambda
    record = s3_record()
    s3_document = {"Records": [record]}
    body = json.dumps(s3_document)
    envelope = {"Type": "Notification", "MessageId": "m-1", "Message": body}
    forms = [
        s3_document,
        json.dumps(s3_document),
        {"Records": [{"messageId": "1", "body": body, "eventSource": "aws:sqs"}]},
        {"Records": [{"messageId": "2", "body": json.dumps(envelope), "eventSource": "aws:sqs"}]},
        {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "m-1", "Message": body}}]},
        envelope,
    ]

    # When each is parsed
    ids = {only_events(parse_document(form))[0].event_id for form in forms}

    # Then the duplicates are recognisable as one record
    assert len(ids) == 1
    assert ids == {event_id_of(record)}


def test_different_records_have_different_event_ids() -> None:
    first = only_events(parse_document({"Records": [s3_record()]}))[0]
    second_record = s3_record()
    second_record["s3"]["object"]["sequencer"] = "0B"
    second = only_events(parse_document({"Records": [second_record]}))[0]
    assert first.event_id != second.event_id


def test_test_event_through_sqs_is_one_event_of_type_s3_test_event() -> None:
    # Given the s3:TestEvent S3 sends when a notification configuration is saved
    document = load_event("sqs-test-event.json")

    # When it is parsed
    [event] = only_events(parse_document(document))

    # Then it is one event naming the bucket, with nothing else to go on
    assert event.event_type == TEST_EVENT
    assert event.source_bucket == "amzn-s3-demo-bucket1"
    assert event.key is None
    assert event.failure_reason is None
    assert event.event_time == datetime(2024, 9, 5, 20, 58, 11, 613000, tzinfo=UTC)


def test_bare_test_event_document_and_body_parse() -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "not a time", "Bucket": "b"}
    [from_document] = only_events(parse_document(test_event))
    [from_body] = parse_message_body(json.dumps(test_event))
    assert from_document.event_type == from_body.event_type == TEST_EVENT
    assert from_document.event_time is None  # an unreadable Time is not worth losing the event over


def test_threshold_and_not_tracked_events_keep_their_fields() -> None:
    # Given the three non-failure replication event types
    document = load_event("s3-threshold-events.json")

    # When they are parsed
    events = only_events(parse_document(document))

    # Then each keeps its type and the RTC fields
    assert [event.event_type for event in events] == [
        MISSED_THRESHOLD,
        REPLICATED_AFTER_THRESHOLD,
        NOT_TRACKED,
    ]
    assert events[0].threshold == "15"
    assert events[1].replication_time == "1062"
    assert all(event.failure_reason is None for event in events)


def test_other_s3_event_is_parsed_with_its_event_name() -> None:
    [event] = only_events(parse_document(load_event("s3-object-created.json")))
    assert event.event_type == "ObjectCreated:Put"
    assert event.key == "uploads/new file.txt"
    assert event.destination_bucket is None


def test_moto_shaped_record_without_version_sequencer_or_identity_parses() -> None:
    # Given a record as moto emits it: eventVersion 2.1, object has only key, size and eTag
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2024-09-05T21:04:32.527Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "b"}, "object": {"key": "x+y", "size": 1, "eTag": "e"}},
    }

    # When it is parsed
    [event] = only_events(parse_document({"Records": [record]}))

    # Then the missing fields are None
    assert (event.key, event.version_id, event.sequencer) == ("x y", None, None)


def test_missing_version_id_is_none() -> None:
    [event] = only_events(parse_document(load_event("s3-missing-version.json")))
    assert event.version_id is None
    assert event.failure_reason == "SrcBucketReplicationConfigMissing"


def test_replication_event_data_fields_are_all_optional_and_nulls_are_none() -> None:
    # Given a FailedReplication record whose replicationEventData is empty or full of nulls
    empty = s3_record(replicationEventData={})
    nulls = s3_record(
        replicationEventData=dict.fromkeys(["replicationRuleId", "destinationBucket", "failureReason"])
    )
    absent = s3_record()
    del absent["replicationEventData"]

    # When they are parsed
    events = only_events(parse_document({"Records": [empty, nulls, absent]}))

    # Then they parse, with None where nothing was said
    for event in events:
        assert event.failure_reason is None
        assert event.destination_bucket is None
        assert event.rule_id is None


def test_unknown_fields_are_tolerated() -> None:
    record = s3_record(glacierEventData={"x": 1}, futureField=[1, 2])
    record["s3"]["object"]["checksum"] = {"algo": "CRC64"}
    record["replicationEventData"]["newField"] = "whatever"
    assert only_events(parse_document({"Records": [record]}))[0].key == "a/b.txt"


@pytest.mark.parametrize(
    ("value", "name", "arn"),
    [
        ("arn:aws:s3:::dst", "dst", "arn:aws:s3:::dst"),
        ("arn:aws-cn:s3:::dst.cn", "dst.cn", "arn:aws-cn:s3:::dst.cn"),
        ("arn:aws-us-gov:s3:::gov-dst", "gov-dst", "arn:aws-us-gov:s3:::gov-dst"),
        ("plain-bucket-name", "plain-bucket-name", None),
    ],
)
def test_destination_bucket_accepts_arns_of_any_partition_and_bare_names(
    value: str, name: str, arn: str | None
) -> None:
    assert split_bucket_arn(value) == (name, arn)
    record = s3_record()
    record["replicationEventData"]["destinationBucket"] = value
    [event] = only_events(parse_document({"Records": [record]}))
    assert (event.destination_bucket, event.destination_bucket_arn) == (name, arn)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "arn:aws:s3:::",
        "arn:aws:sqs:us-east-1:123456789012:queue",
        "arn:aws:s3:us-east-1:1:accesspoint/x",
        "a/b",
    ],
)
def test_destination_bucket_that_is_not_a_bucket_is_an_error(value: str) -> None:
    record = s3_record()
    record["replicationEventData"]["destinationBucket"] = value
    [item] = parse_document({"Records": [record]})
    assert isinstance(item, UnparseableRecord)
    assert item.error.startswith("Records[0]: replicationEventData.destinationBucket")


def test_s3_prefixed_replication_event_name_is_normalised() -> None:
    [event] = only_events(parse_document({"Records": [s3_record(eventName="s3:" + FAILED_REPLICATION)]}))
    assert event.event_type == FAILED_REPLICATION


# ---------------------------------------------------------------- broken records


def test_broken_record_is_reported_with_its_place_and_the_others_still_parse() -> None:
    # Given three records, the middle one without a bucket name
    broken = s3_record()
    del broken["s3"]["bucket"]["name"]
    document = {"Records": [s3_record(), broken, s3_record(eventName=MISSED_THRESHOLD)]}

    # When the document is parsed
    items = parse_document(document)

    # Then the broken record says what and where, and the others are parsed in order
    assert isinstance(items[0], ReplicationEvent)
    assert items[1] == UnparseableRecord(error="Records[1]: s3.bucket.name missing", source="Records[1]")
    assert isinstance(items[2], ReplicationEvent)
    assert items[2].event_type == MISSED_THRESHOLD


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r["s3"]["object"].pop("key"), "Records[0]: s3.object.key missing"),
        (lambda r: r.pop("s3"), "Records[0]: s3 missing"),
        (lambda r: r.pop("eventName"), "Records[0]: eventName missing"),
        (lambda r: r["s3"].update(bucket=None), "Records[0]: s3.bucket: "),
        (
            lambda r: r["s3"]["object"].update(key=123),
            "Records[0]: s3.object.key: Input should be a valid string",
        ),
        (lambda r: r["s3"]["object"].update(size="big"), "Records[0]: s3.object.size: "),
        (lambda r: r["s3"]["object"].update(size=-1), "Records[0]: s3.object.size: "),
        (lambda r: r.update(eventTime="yesterday"), "Records[0]: eventTime: "),
        (
            lambda r: r["replicationEventData"].update(failureReason=7),
            "Records[0]: replicationEventData.failureReason",
        ),
        (lambda r: r.update(replicationEventData="oops"), "Records[0]: replicationEventData: "),
        (lambda r: r["s3"]["bucket"].update(name=""), "Records[0]: s3.bucket.name: "),
    ],
)
def test_wrong_or_missing_fields_name_the_field(mutate: Any, expected: str) -> None:
    record = s3_record()
    mutate(record)
    [item] = parse_document({"Records": [record]})
    assert isinstance(item, UnparseableRecord)
    assert item.error.startswith(expected), item.error


def test_broken_sqs_message_among_good_ones_is_reported_by_message_id() -> None:
    # Given an SQS batch whose middle message holds truncated JSON
    document = load_event("sqs-mixed-with-malformed.json")

    # When it is parsed
    items = parse_document(document)

    # Then both good messages are parsed and the bad one names its messageId
    assert [type(item) for item in items] == [ReplicationEvent, UnparseableRecord, ReplicationEvent]
    bad = items[1]
    assert isinstance(bad, UnparseableRecord)
    assert bad.error.startswith("body is not valid JSON")
    assert bad.source == f"Records[1] messageId={document['Records'][1]['messageId']}"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("not json", "document is not valid JSON"),
        ("", "document is empty"),
        (b"\xff\xfe", "document is not UTF-8 text"),
        ("[1, 2]", "document is not a JSON object (got array)"),
        (None, "document is not a JSON object (got null)"),
        (42, "document is not a JSON object (got number)"),
        ({"Records": "x"}, "Records is not a list (got string)"),
        ({"hello": "world"}, "document: not an S3 event document, SNS notification or s3:TestEvent"),
        ({"Records": [1]}, "Records[0]: record is not a JSON object (got number)"),
        ({"Records": [{"foo": 1}]}, "Records[0]: not an S3, SQS or SNS record"),
        ({"Records": [{"eventSource": "aws:sqs"}]}, "Records[0]: body missing"),
        ({"Records": [{"body": None}]}, "Records[0]: body: Input should be a valid string"),
        ({"Records": [{"body": "[]"}]}, "body is not a JSON object (got array)"),
        ({"Records": [{"body": "{}"}]}, "body: not an S3 event document"),
        ({"Records": [{"Sns": {"Message": 5}}]}, "Records[0]: Sns.Message: Input should be a valid string"),
        ({"Records": [{"Sns": {"Message": "{"}}]}, "Sns.Message is not valid JSON"),
        ({"Type": "Notification", "Message": None}, "document: SNS notification: Message: "),
        ({"Event": "s3:TestEvent", "Bucket": 5}, "document: s3:TestEvent: Bucket: "),
    ],
)
def test_whole_document_problems_are_one_clear_error(document: Any, expected: str) -> None:
    items = parse_document(document)
    assert len(items) == 1
    [item] = items
    assert isinstance(item, UnparseableRecord)
    assert item.error.startswith(expected), item.error


def test_deeply_nested_and_huge_documents_are_rejected_not_crashed() -> None:
    deep_text = "[" * 100_000 + "]" * 100_000
    assert parse_document(deep_text)[0].error.startswith("document is nested")  # type: ignore[union-attr]

    nested: dict[str, Any] = {}
    cursor = nested
    for _ in range(MAX_NESTING_DEPTH + 5):
        cursor["x"] = {}
        cursor = cursor["x"]
    [item] = parse_document({"Records": [s3_record(extra=nested)]})
    assert isinstance(item, UnparseableRecord)
    assert f"more than {MAX_NESTING_DEPTH} levels" in item.error

    [huge] = parse_document(" " * (MAX_DOCUMENT_CHARS + 1))
    assert isinstance(huge, UnparseableRecord)
    assert "too large" in huge.error


def test_cyclic_python_document_is_rejected_not_crashed() -> None:
    record = s3_record()
    record["self"] = record
    [item] = parse_document({"Records": [record]})
    assert isinstance(item, UnparseableRecord)


# ---------------------------------------------------------------- parse_message_body


def test_message_body_forms_all_parse() -> None:
    # Given one record as an S3 document, an SNS envelope and a raw SNS delivery (same as the document)
    s3_document = json.dumps({"Records": [s3_record()]})
    envelope = json.dumps({"Type": "Notification", "MessageId": "x", "Message": s3_document})

    # When each body is parsed
    from_document = parse_message_body(s3_document)
    from_envelope = parse_message_body(envelope)

    # Then both give the same event
    assert from_document == from_envelope
    assert from_document[0].key == "a/b.txt"


def test_message_body_with_a_broken_record_raises_naming_it() -> None:
    broken = s3_record()
    del broken["s3"]["object"]["key"]
    body = json.dumps({"Records": [s3_record(), broken]})
    with pytest.raises(MalformedEventError, match=r"^Records\[1\]: s3\.object\.key missing$"):
        parse_message_body(body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "body is empty"),
        ("{", "body is not valid JSON"),
        ("42", "body is not a JSON object"),
        ('{"some": "thing"}', "body: not an S3 event document"),
        ('{"Type": "Notification", "Message": "nope"}', "body.Message is not valid JSON"),
        ('{"Records": {"a": 1}}', "body: Records is not a list"),
    ],
)
def test_message_body_that_is_not_a_known_form_raises(body: str, expected: str) -> None:
    with pytest.raises(MalformedEventError) as caught:
        parse_message_body(body)
    assert str(caught.value).startswith(expected), str(caught.value)


def test_message_body_of_each_sample_sqs_event_parses() -> None:
    for name in (
        "sqs-failed-replication.json",
        "sqs-sns-envelope.json",
        "sqs-raw-sns.json",
        "sqs-test-event.json",
    ):
        for message in load_event(name)["Records"]:
            assert parse_message_body(message["body"]), name


def test_malformed_sample_body_raises() -> None:
    bodies = [message["body"] for message in load_event("sqs-mixed-with-malformed.json")["Records"]]
    parse_message_body(bodies[0])
    with pytest.raises(MalformedEventError, match="not valid JSON"):
        parse_message_body(bodies[1])


# ---------------------------------------------------------------- properties

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=40,
)
field_names = st.sampled_from(
    [
        "Records",
        "s3",
        "bucket",
        "object",
        "key",
        "name",
        "eventName",
        "body",
        "Sns",
        "Message",
        "Type",
        "Event",
        "replicationEventData",
        "versionId",
        "destinationBucket",
        "eventSource",
    ]
)
s3ish_values = st.recursive(
    st.none()
    | st.integers()
    | st.text(max_size=15)
    | st.sampled_from(["aws:sqs", "Notification", "s3:TestEvent"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(field_names, children, max_size=6),
    max_leaves=50,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, s3ish_values))
def test_parse_document_never_raises_on_arbitrary_json(document: Any) -> None:
    # Given any JSON value, as a Python value and as text
    for form in (document, json.dumps(document)):
        # When parsed
        items = parse_document(form)

        # Then it returns items, never raises, and every failure carries a message
        assert isinstance(items, list)
        assert all(item.error for item in items if isinstance(item, UnparseableRecord))


@settings(max_examples=200)
@given(st.one_of(json_values, s3ish_values))
def test_parse_message_body_raises_only_malformed_event_error(body: Any) -> None:
    try:
        parse_message_body(json.dumps(body))
    except MalformedEventError as exc:
        assert str(exc)


@settings(max_examples=300)
@given(st.text(min_size=1, max_size=200).filter(lambda text: "\x00" not in text))
def test_url_encoded_key_round_trips(key: str) -> None:
    # Given a key encoded the way S3 encodes keys in events
    record = s3_record()
    record["s3"]["object"]["key"] = quote_plus(key)

    # When the record is parsed
    [event] = only_events(parse_document({"Records": [record]}))

    # Then the original key comes back
    assert event.key == key


@settings(max_examples=100)
@given(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=6))
def test_event_id_ignores_key_order(extra: dict[str, str]) -> None:
    record = s3_record(extra=extra)
    reordered = dict(reversed(list(record.items())))
    assert event_id_of(record) == event_id_of(reordered)


# ---------------------------------------------------------------- hostile input that must not escape


def only_error(items: list[ReplicationEvent | UnparseableRecord]) -> UnparseableRecord:
    [item] = items
    assert isinstance(item, UnparseableRecord), item
    return item


def test_integer_longer_than_python_reads_is_a_clear_error_not_a_value_error() -> None:
    # Given a body whose size is an integer of 5,000 digits (json raises ValueError past 4,300)
    text = json.dumps({"Records": [s3_record()]}).replace('"size": 10', '"size": ' + "9" * 5000)

    # When it is parsed as a document, an SQS message among good ones, and a message body
    document_error = only_error(parse_document(text))
    batch = {
        "Records": [
            {"messageId": "ok-1", "body": json.dumps({"Records": [s3_record()]})},
            {"messageId": "bad", "body": text},
        ]
    }
    good, bad = parse_document(batch)

    # Then each names what was wrong, the good message still parses, and the body raises our error
    assert document_error.error.startswith("document is not valid JSON: a number has more than")
    assert isinstance(good, ReplicationEvent)
    assert isinstance(bad, UnparseableRecord)
    assert bad.error.startswith("body is not valid JSON: a number has more than")
    assert bad.source == "Records[1] messageId=bad"
    with pytest.raises(MalformedEventError, match=r"^body is not valid JSON: a number has more than"):
        parse_message_body(text)


def test_huge_integer_in_a_python_document_is_reported_without_crashing() -> None:
    # Given a Lambda event (already a dict) whose size and an unknown key are huge integers
    record = s3_record()
    record["s3"]["object"]["size"] = 10**5000
    weird: dict[Any, Any] = {10**5000: 1}

    # When they are parsed, Then the errors say what was wrong without printing the number
    error = only_error(parse_document({"Records": [record]})).error
    assert error.startswith("Records[0]: s3.object.size: ")
    assert "integer of 5001 digits" in error
    assert "integer of 5001 digits" in only_error(parse_document({"Records": [weird]})).error


@pytest.mark.parametrize(
    "size",
    [
        53_687_091_200_001,  # one byte more than 10,000 parts of 5 GiB
        10**38,  # the most DynamoDB's 38 digits can hold exactly, and more than S3 can send
        10**40,  # would make boto3 raise decimal.Rounded in the ledger
        -1,
        True,  # JSON true, not a number
        1.5,
        "10",
    ],
)
def test_size_that_no_s3_object_can_have_is_rejected_naming_the_field(size: Any) -> None:
    record = s3_record()
    record["s3"]["object"]["size"] = size
    error = only_error(parse_document({"Records": [record]})).error
    assert error.startswith("Records[0]: s3.object.size: "), error
    with pytest.raises(MalformedEventError, match=r"s3\.object\.size"):
        parse_message_body(json.dumps({"Records": [record]}))


@pytest.mark.parametrize("size", [0, 520080, 53_687_091_200_000])
def test_sizes_s3_can_send_are_kept(size: int) -> None:
    record = s3_record()
    record["s3"]["object"]["size"] = size
    [event] = only_events(parse_document({"Records": [record]}))
    assert event.size == size


@pytest.mark.parametrize(
    ("encoded", "why"),
    [
        ("a%ZZb", "not a %XX escape"),
        ("a%2", "not a %XX escape"),
        ("100%", "not a %XX escape"),
        ("euro-%E2%82", "not UTF-8"),  # truncated €
        ("%FF%FE", "not UTF-8"),
        ("%ED%A0%80", "not UTF-8"),  # an encoded UTF-16 surrogate
    ],
)
def test_key_with_a_broken_percent_escape_is_rejected_not_decoded_to_replacement_chars(
    encoded: str, why: str
) -> None:
    record = s3_record()
    record["s3"]["object"]["key"] = encoded
    error = only_error(parse_document({"Records": [record]})).error
    assert error.startswith("Records[0]: s3.object.key: "), error
    assert why in error
    assert "\ufffd" not in error


def test_key_longer_than_s3_allows_is_rejected() -> None:
    # S3 keys are at most 1,024 bytes of UTF-8: 342 three-byte characters are 1,026
    record = s3_record()
    record["s3"]["object"]["key"] = quote_plus("€" * 342)
    assert "1024 bytes" in only_error(parse_document({"Records": [record]})).error
    record["s3"]["object"]["key"] = quote_plus("€" * 341 + "a")
    [event] = only_events(parse_document({"Records": [record]}))
    assert len(event.key.encode()) == 1024  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r["s3"]["object"].update(versionId="v" * 1025), "s3.object.versionId: "),
        (lambda r: r["s3"]["object"].update(sequencer="0" * 257), "s3.object.sequencer: "),
        (lambda r: r["s3"]["object"].update(sequencer="not-hex"), "s3.object.sequencer: "),
        (lambda r: r["s3"]["object"].update(eTag="e" * 1025), "s3.object.eTag: "),
        (lambda r: r["s3"]["bucket"].update(name="b" * 256), "s3.bucket.name: "),
        (lambda r: r["s3"]["bucket"].update(name="a#b"), "s3.bucket.name: "),
        (lambda r: r.update(awsRegion="r" * 65), "awsRegion: "),
        (lambda r: r.update(eventName="E" * 257), "eventName: "),
        (
            lambda r: r["replicationEventData"].update(failureReason="X" * 257),
            "replicationEventData.failureReason: ",
        ),
        (
            lambda r: r["replicationEventData"].update(replicationRuleId="r" * 256),
            "replicationEventData.replicationRuleId: ",
        ),
        (
            lambda r: r["replicationEventData"].update(destinationBucket="arn:aws:s3:::" + "d" * 256),
            "replicationEventData.destinationBucket",
        ),
        (lambda r: r["s3"]["object"].update(key="a\ud800b"), "s3.object.key: "),
        (lambda r: r["s3"]["object"].update(versionId="\udfff"), "s3.object.versionId: "),
        (lambda r: r["s3"]["bucket"].update(name="\ud800"), "s3.bucket.name: "),
        (lambda r: r["replicationEventData"].update(failureReason="\ud800"), "replicationEventData."),
        (lambda r: r.update(eventTime="9999-12-31T23:59:59-23:00"), "eventTime: "),
        (lambda r: r.update(eventTime="0001-01-01T00:00:00+23:00"), "eventTime: "),
        (lambda r: r.update(eventTime="9999-12-31T00:00:00Z"), "eventTime: "),
    ],
)
def test_values_that_would_break_the_ledger_are_rejected_naming_the_field(mutate: Any, expected: str) -> None:
    # Given a record with one value DynamoDB (or the ledger's keys and times) cannot take
    record = s3_record()
    mutate(record)

    # When it is parsed, Then it is one clear error naming the field
    error = only_error(parse_document({"Records": [record]})).error
    assert error.startswith("Records[0]: " + expected), error


def test_empty_optional_strings_become_none_so_no_empty_key_attribute_is_written() -> None:
    record = s3_record(awsRegion="")
    record["s3"]["object"].update(versionId="", sequencer="", eTag="")
    record["replicationEventData"].update(failureReason="", replicationRuleId="", s3Operation="")
    [event] = only_events(parse_document({"Records": [record]}))
    assert (event.version_id, event.sequencer, event.etag, event.region) == (None, None, None, None)
    assert (event.failure_reason, event.rule_id, event.s3_operation) == (None, None, None)


def test_event_time_is_normalised_to_utc() -> None:
    [event] = only_events(parse_document({"Records": [s3_record(eventTime="2024-09-05T23:04:32+02:00")]}))
    assert event.event_time == datetime(2024, 9, 5, 21, 4, 32, tzinfo=UTC)
    assert event.event_time.tzinfo is UTC  # type: ignore[union-attr]


def test_lone_surrogate_in_a_test_event_bucket_is_rejected() -> None:
    [item] = parse_document(
        {"Event": "s3:TestEvent", "Bucket": "\ud800", "Time": "9999-12-31T23:59:59-23:00"}
    )
    assert isinstance(item, UnparseableRecord)
    assert "Bucket" in item.error


def test_out_of_range_test_event_time_is_dropped_like_an_unreadable_one() -> None:
    [event] = only_events(
        parse_document({"Event": "s3:TestEvent", "Bucket": "b", "Time": "9999-12-31T23:59:59-23:00"})
    )
    assert event.event_time is None


def test_long_message_ids_are_clipped_in_the_error_source() -> None:
    [item] = parse_document({"Records": [{"messageId": "m" * 10_000, "body": "{"}]})
    assert isinstance(item, UnparseableRecord)
    assert len(item.source) < 200
