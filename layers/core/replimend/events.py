"""Parse S3 replication events from every way they can be delivered.

S3 event records reach replimend directly (S3 → Lambda), through SQS (the body is the S3 document,
an SNS notification envelope, or a raw SNS delivery), through SNS → Lambda (``Records[].Sns.Message``),
or as S3's ``s3:TestEvent``. Whatever the form, each S3 record becomes one ``ReplicationEvent``; a record
that cannot be parsed becomes an ``UnparseableRecord`` saying what was wrong and where, and never
stops the records around it.

The edge is validated with pydantic v2 models that ignore unknown fields: S3 adds fields over time, and
moto's records carry fewer fields than AWS's. (They are what Powertools Parser's ``parse`` validates
with; calling pydantic directly spares the ingest function that utility's import.)
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from replimend.errors import MalformedEventError
from replimend.models import TEST_EVENT, ReplicationEvent, UnparseableRecord

#: Larger strings are rejected before decoding (a Lambda payload is at most 6 MB, an SQS body 1 MiB).
MAX_DOCUMENT_CHARS = 16 * 1024 * 1024
#: A real delivery nests about six levels deep; anything far deeper is hostile or broken.
MAX_NESTING_DEPTH = 32
_MAX_ERRORS_PER_RECORD = 3
_MAX_VALUE_CHARS = 60

# What S3 can send, so that nothing DynamoDB (or the ledger's keys and times) cannot take gets past the
# edge. A value outside these bounds is not an S3 event: the record is rejected with the field named.
#: The largest S3 object: "objects can range in size from zero to 50 TB"; the real ceiling is the
#: multipart one, 10,000 parts of at most 5 GiB (48.8 TiB). Far below DynamoDB's 38 digits.
#: https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingObjects.html
MAX_OBJECT_SIZE = 10_000 * 5 * 1024**3
#: "The object key name is a sequence of Unicode characters with UTF-8 encoding of up to 1,024 bytes".
#: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
MAX_KEY_BYTES = 1024
#: Version IDs are "Unicode, UTF-8 encoded, URL-ready, opaque strings that are no more than 1,024
#: bytes long". https://docs.aws.amazon.com/AmazonS3/latest/userguide/versioning-workflows.html
MAX_VERSION_ID_BYTES = 1024
#: Legacy us-east-1 bucket names may have up to 255 characters, upper case and underscores (today's
#: rules are stricter). https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
MAX_BUCKET_NAME_CHARS = 255
#: A replication rule's ID "cannot be longer than 255 characters" (PutBucketReplication, ReplicationRule.ID).
MAX_RULE_ID_CHARS = 255
#: The sequencer is "a string representation of a hexadecimal value" (notification-content-structure);
#: its length is undocumented (AWS's examples have 18 digits): 256 is our own generous bound.
MAX_SEQUENCER_CHARS = 256
#: Our own bounds for the other strings (codes, names, times, ETags): far above anything S3 sends,
#: far below what would bloat a ledger item or an index key.
MAX_CODE_CHARS = 256
MAX_REGION_CHARS = 64
MAX_ETAG_CHARS = 1024
#: Event times outside these years are not S3's, and would overflow the ledger's UTC and TTL arithmetic.
EARLIEST_EVENT_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_EVENT_TIME = datetime(3000, 1, 1, tzinfo=UTC)

_BUCKET_NAME = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_BUCKET_NAME_CHARS}}}")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


# --------------------------------------------------------------------------- edge models


class _EdgeModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _unicode_text(cls, value: Any) -> Any:
        # JSON's "\ud800" escapes give lone surrogates, which no UTF-8 encoder (boto3's) accepts.
        if isinstance(value, str):
            _check_unicode(value)
        return value


class S3BucketModel(_EdgeModel):
    name: str = Field(min_length=1)
    arn: str | None = None

    @field_validator("name")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        check_bucket_name(value)
        return value


class S3ObjectModel(_EdgeModel):
    key: str = Field(min_length=1)  # form-URL-encoded as S3 sends it; decoded by the validator
    size: StrictInt | None = None
    eTag: str | None = Field(default=None, max_length=MAX_ETAG_CHARS)
    versionId: str | None = None
    sequencer: str | None = None

    @field_validator("key")
    @classmethod
    def _decoded_key(cls, value: str) -> str:
        return decode_event_key(value)

    @field_validator("size")
    @classmethod
    def _object_size(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= MAX_OBJECT_SIZE:
            shown = _show_number(value)
            if value < 0:
                raise ValueError(f"{shown} is negative")
            raise ValueError(f"{shown} is larger than the largest S3 object ({MAX_OBJECT_SIZE} bytes)")
        return value

    @field_validator("versionId")
    @classmethod
    def _version_id(cls, value: str | None) -> str | None:
        if value and len(value.encode("utf-8")) > MAX_VERSION_ID_BYTES:
            raise ValueError(f"is longer than S3's {MAX_VERSION_ID_BYTES} bytes")
        return value

    @field_validator("sequencer")
    @classmethod
    def _sequencer(cls, value: str | None) -> str | None:
        if value:
            if len(value) > MAX_SEQUENCER_CHARS:
                raise ValueError(f"is longer than {MAX_SEQUENCER_CHARS} characters")
            if not _HEX.fullmatch(value):
                raise ValueError(f"{_clip(value)!r} is not a hexadecimal value")
        return value


class S3EntityModel(_EdgeModel):
    bucket: S3BucketModel
    object_: S3ObjectModel = Field(alias="object")


class ReplicationEventDataModel(_EdgeModel):
    """The seven string fields the AWS SDK parsers define; S3 documents each as optional."""

    replicationRuleId: str | None = Field(default=None, max_length=MAX_RULE_ID_CHARS)
    destinationBucket: str | None = None
    s3Operation: str | None = Field(default=None, max_length=MAX_CODE_CHARS)
    requestTime: str | None = Field(default=None, max_length=MAX_CODE_CHARS)
    failureReason: str | None = Field(default=None, max_length=MAX_CODE_CHARS)
    threshold: str | None = Field(default=None, max_length=MAX_CODE_CHARS)
    replicationTime: str | None = Field(default=None, max_length=MAX_CODE_CHARS)

    @field_validator("destinationBucket")
    @classmethod
    def _bucket_arn_or_name(cls, value: str | None) -> str | None:
        if value is not None:
            split_bucket_arn(value)  # raises ValueError with the reason
        return value


class S3EventRecordModel(_EdgeModel):
    """One record of an S3 event notification (replication or any other S3 event)."""

    eventVersion: str | None = None
    eventSource: str | None = None
    awsRegion: str | None = Field(default=None, max_length=MAX_REGION_CHARS)
    eventTime: datetime | None = None
    eventName: str = Field(min_length=1, max_length=MAX_CODE_CHARS)
    s3: S3EntityModel
    replicationEventData: ReplicationEventDataModel | None = None

    @field_validator("eventTime")
    @classmethod
    def _utc_event_time(cls, value: datetime | None) -> datetime | None:
        return None if value is None else to_utc_event_time(value)


class S3TestEventModel(_EdgeModel):
    """What S3 sends to SQS/SNS destinations when a notification configuration is saved."""

    Service: str | None = None
    Event: Literal["s3:TestEvent"]
    Time: str | None = None
    Bucket: str | None = None
    RequestId: str | None = None
    HostId: str | None = None


class SqsMessageModel(_EdgeModel):
    """The fields of a Lambda SQS event record that replimend reads."""

    messageId: str | None = None
    body: str


class SnsNotificationModel(_EdgeModel):
    """An SNS notification as SQS receives it (RawMessageDelivery=false)."""

    Type: Literal["Notification"]
    MessageId: str | None = None
    TopicArn: str | None = None
    Message: str


class SnsLambdaMessageModel(_EdgeModel):
    MessageId: str | None = None
    Message: str


class SnsLambdaRecordModel(_EdgeModel):
    """One record of an SNS → Lambda event (``Records[].Sns``)."""

    Sns: SnsLambdaMessageModel


# --------------------------------------------------------------------------- public API


def parse_document(document: Any) -> list[ReplicationEvent | UnparseableRecord]:
    """Every S3 record in ``document``, in input order, whatever the delivery form.

    ``document`` is a dict (a Lambda event) or a JSON string/bytes. Never raises on bad input: what
    cannot be parsed comes back as ``UnparseableRecord`` items, one per broken record or message.
    """
    try:
        loaded = _load_json(document, "document")
    except MalformedEventError as exc:
        return [UnparseableRecord(error=str(exc), source="document")]
    if not isinstance(loaded, dict):
        return [
            UnparseableRecord(
                error=f"document is not a JSON object (got {_type_name(loaded)})", source="document"
            )
        ]
    if "Records" not in loaded:
        return _parse_payload(loaded, where="document")
    records = loaded["Records"]
    if not isinstance(records, list):
        return [
            UnparseableRecord(error=f"Records is not a list (got {_type_name(records)})", source="document")
        ]
    results: list[ReplicationEvent | UnparseableRecord] = []
    for index, record in enumerate(records):
        results.extend(_parse_delivery_record(record, index))
    return results


def parse_message_body(body: str) -> list[ReplicationEvent]:
    """The S3 records in one SQS message body (S3 document, SNS envelope, raw SNS, or test event).

    Raises ``MalformedEventError`` saying what was wrong when the body, or any record in it, cannot be
    parsed: the message then goes back to the queue (and on to the DLQ), so nothing is lost.
    """
    loaded = _load_json(body, "body")
    if not isinstance(loaded, dict):
        raise MalformedEventError(f"body is not a JSON object (got {_type_name(loaded)})")
    results = _parse_payload(loaded, where="body")
    broken = [item for item in results if isinstance(item, UnparseableRecord)]
    if broken:
        raise MalformedEventError("; ".join(_describe(item) for item in broken))
    return [item for item in results if isinstance(item, ReplicationEvent)]


def split_bucket_arn(value: str) -> tuple[str, str | None]:
    """``(bucket name, ARN or None)`` from an S3 bucket ARN (any partition) or a bare bucket name."""
    if not value:
        raise ValueError("empty bucket")
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        if len(parts) != 6 or parts[2] != "s3" or parts[3] or parts[4]:
            raise ValueError(f"not an S3 bucket ARN: {_clip(value)!r}")
        name = parts[5]
        arn: str | None = value
    else:
        name, arn = value, None
    if not _BUCKET_NAME.fullmatch(name):
        raise ValueError(f"not an S3 bucket ARN or bucket name: {_clip(value)!r}")
    return name, arn


def check_bucket_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` could be an S3 bucket name (legacy names included)."""
    if not _BUCKET_NAME.fullmatch(name):
        raise ValueError(
            f"{_clip(name)!r} is not an S3 bucket name "
            f"(1 to {MAX_BUCKET_NAME_CHARS} letters, digits, '.', '-' or '_')"
        )


def decode_event_key(encoded: str) -> str:
    """An event's object key, decoded strictly: S3 form-URL-encodes keys (a space is ``+``, ``%`` is ``%25``).

    Raises ``ValueError`` for a ``%`` that starts no ``%XX`` escape, escapes that are not UTF-8, and a key
    longer than S3 allows, rather than guessing (``unquote_plus`` alone turns them into U+FFFD).
    """
    bad = _BAD_PERCENT.search(encoded)
    if bad:
        found = encoded[bad.start() : bad.start() + 3]
        raise ValueError(
            f"{_clip(found)!r} at character {bad.start()} is not a %XX escape (S3 sends a literal % as %25)"
        )
    try:
        key = unquote_plus(encoded, errors="strict")
    except UnicodeDecodeError as exc:
        raise ValueError(f"its %XX escapes are not UTF-8 ({exc.reason})") from None
    _check_unicode(key)
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise ValueError(f"decodes to {size} bytes; S3 keys are at most {MAX_KEY_BYTES} bytes")
    return key


def to_utc_event_time(value: datetime) -> datetime:
    """``value`` in UTC (naive is taken as UTC); ``ValueError`` outside the years S3 events can have."""
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range") from None
    if not EARLIEST_EVENT_TIME <= utc < LATEST_EVENT_TIME:
        raise ValueError(
            f"{value.isoformat()} is not an S3 event time "
            f"(years {EARLIEST_EVENT_TIME.year} to {LATEST_EVENT_TIME.year - 1})"
        )
    return utc


def event_id_of(record: Any) -> str:
    """Stable identity of one record: the same record delivered twice gets the same id."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# --------------------------------------------------------------------------- delivery forms


def _parse_delivery_record(record: Any, index: int) -> list[ReplicationEvent | UnparseableRecord]:
    """One item of a top-level ``Records`` list: an SQS message, an SNS→Lambda record or an S3 record."""
    where = f"Records[{index}]"
    if not isinstance(record, dict):
        return [
            UnparseableRecord(
                error=f"{where}: record is not a JSON object (got {_type_name(record)})", source=where
            )
        ]
    if "body" in record or record.get("eventSource") == "aws:sqs":
        return _parse_sqs_record(record, where)
    if "Sns" in record or record.get("EventSource") == "aws:sns":
        return _parse_sns_lambda_record(record, where)
    if "s3" in record or "eventName" in record:
        return [_parse_s3_record(record, where, source=where)]
    return [
        UnparseableRecord(
            error=f"{where}: not an S3, SQS or SNS record (keys: {_keys(record)})", source=where
        )
    ]


def _parse_sqs_record(record: dict[str, Any], where: str) -> list[ReplicationEvent | UnparseableRecord]:
    try:
        message = SqsMessageModel.model_validate(record)
    except ValidationError as exc:
        return [UnparseableRecord(error=f"{where}: {_validation_message(exc)}", source=where)]
    source = f"{where} messageId={_clip(message.messageId)}" if message.messageId else where
    try:
        loaded = _load_json(message.body, "body")
    except MalformedEventError as exc:
        return [UnparseableRecord(error=str(exc), source=source)]
    if not isinstance(loaded, dict):
        return [
            UnparseableRecord(error=f"body is not a JSON object (got {_type_name(loaded)})", source=source)
        ]
    return _parse_payload(loaded, where="body", source=source)


def _parse_sns_lambda_record(
    record: dict[str, Any], where: str
) -> list[ReplicationEvent | UnparseableRecord]:
    try:
        sns_record = SnsLambdaRecordModel.model_validate(record)
    except ValidationError as exc:
        return [UnparseableRecord(error=f"{where}: {_validation_message(exc)}", source=where)]
    message_id = sns_record.Sns.MessageId
    source = f"{where} MessageId={_clip(message_id)}" if message_id else where
    return _parse_s3_message(sns_record.Sns.Message, where="Sns.Message", source=source)


def _parse_payload(
    payload: dict[str, Any], *, where: str, source: str | None = None
) -> list[ReplicationEvent | UnparseableRecord]:
    """A message payload: an S3 document, an SNS notification envelope or a test event."""
    source = source or where
    if payload.get("Type") == "Notification" and "Message" in payload:
        try:
            envelope = SnsNotificationModel.model_validate(payload)
        except ValidationError as exc:
            return [
                UnparseableRecord(
                    error=f"{where}: SNS notification: {_validation_message(exc)}", source=source
                )
            ]
        if envelope.MessageId and source == where:
            source = f"{where} MessageId={_clip(envelope.MessageId)}"
        return _parse_s3_message(envelope.Message, where=f"{where}.Message", source=source)
    return _parse_s3_payload(payload, where=where, source=source)


def _parse_s3_message(message: str, *, where: str, source: str) -> list[ReplicationEvent | UnparseableRecord]:
    """The S3 JSON carried as a string by SNS (``Message``)."""
    try:
        loaded = _load_json(message, where)
    except MalformedEventError as exc:
        return [UnparseableRecord(error=str(exc), source=source)]
    if not isinstance(loaded, dict):
        return [
            UnparseableRecord(error=f"{where} is not a JSON object (got {_type_name(loaded)})", source=source)
        ]
    return _parse_s3_payload(loaded, where=where, source=source)


def _parse_s3_payload(
    payload: dict[str, Any], *, where: str, source: str
) -> list[ReplicationEvent | UnparseableRecord]:
    """An S3 event document ``{"Records": [...]}`` or an ``s3:TestEvent``: S3's own payloads."""
    if payload.get("Event") == TEST_EVENT:
        return [_parse_test_event(payload, where, source)]
    if "Records" not in payload:
        return [
            UnparseableRecord(
                error=f"{where}: not an S3 event document, SNS notification or s3:TestEvent "
                f"(keys: {_keys(payload)})",
                source=source,
            )
        ]
    records = payload["Records"]
    if not isinstance(records, list):
        return [
            UnparseableRecord(
                error=f"{where}: Records is not a list (got {_type_name(records)})", source=source
            )
        ]
    results: list[ReplicationEvent | UnparseableRecord] = []
    for index, record in enumerate(records):
        record_where = f"Records[{index}]" if where in {"document", "body"} else f"{where} Records[{index}]"
        if not isinstance(record, dict):
            results.append(
                UnparseableRecord(
                    error=f"{record_where}: record is not a JSON object (got {_type_name(record)})",
                    source=source,
                )
            )
            continue
        results.append(_parse_s3_record(record, record_where, source=source))
    return results


def _parse_s3_record(
    record: dict[str, Any], where: str, *, source: str
) -> ReplicationEvent | UnparseableRecord:
    try:
        model = S3EventRecordModel.model_validate(record)
        event_id = event_id_of(record)
    except ValidationError as exc:
        return UnparseableRecord(error=f"{where}: {_validation_message(exc)}", source=source)
    except (ValueError, TypeError, RecursionError) as exc:
        return UnparseableRecord(error=f"{where}: record cannot be serialised ({exc})", source=source)
    data = model.replicationEventData or ReplicationEventDataModel()
    destination_name: str | None = None
    destination_arn: str | None = None
    if data.destinationBucket is not None:
        destination_name, destination_arn = split_bucket_arn(data.destinationBucket)
    s3_object = model.s3.object_
    return ReplicationEvent(
        event_type=_normalise_event_name(model.eventName),
        event_id=event_id,
        source_bucket=model.s3.bucket.name,
        key=s3_object.key,
        version_id=s3_object.versionId or None,
        sequencer=s3_object.sequencer or None,
        size=s3_object.size,
        etag=s3_object.eTag or None,
        region=model.awsRegion or None,
        event_time=model.eventTime,
        destination_bucket_arn=destination_arn,
        destination_bucket=destination_name,
        rule_id=data.replicationRuleId or None,
        failure_reason=data.failureReason or None,
        s3_operation=data.s3Operation or None,
        request_time=data.requestTime or None,
        threshold=data.threshold or None,
        replication_time=data.replicationTime or None,
    )


def _parse_test_event(
    payload: dict[str, Any], where: str, source: str
) -> ReplicationEvent | UnparseableRecord:
    try:
        model = S3TestEventModel.model_validate(payload)
        event_id = event_id_of(payload)
    except ValidationError as exc:
        return UnparseableRecord(error=f"{where}: s3:TestEvent: {_validation_message(exc)}", source=source)
    except (ValueError, TypeError, RecursionError) as exc:
        return UnparseableRecord(error=f"{where}: s3:TestEvent cannot be serialised ({exc})", source=source)
    return ReplicationEvent(
        event_type=TEST_EVENT,
        event_id=event_id,
        source_bucket=model.Bucket or None,
        event_time=_parse_time(model.Time),
    )


# --------------------------------------------------------------------------- helpers


def _load_json(value: Any, where: str) -> Any:
    """JSON text → Python value; dicts and lists pass through. Rejects huge and deeply nested input."""
    if isinstance(value, bytes | bytearray):
        if len(value) > MAX_DOCUMENT_CHARS:
            raise MalformedEventError(
                f"{where} is too large ({len(value)} bytes, limit {MAX_DOCUMENT_CHARS})"
            )
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedEventError(
                f"{where} is not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
    if isinstance(value, str):
        if len(value) > MAX_DOCUMENT_CHARS:
            raise MalformedEventError(
                f"{where} is too large ({len(value)} characters, limit {MAX_DOCUMENT_CHARS})"
            )
        if not value.strip():
            raise MalformedEventError(f"{where} is empty")
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise MalformedEventError(
                f"{where} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        except RecursionError:
            raise MalformedEventError(f"{where} is nested too deeply") from None
        except ValueError:
            # json turns an integer of more digits than int() may read into a plain ValueError.
            raise MalformedEventError(
                f"{where} is not valid JSON: a number has more than {sys.get_int_max_str_digits()} digits"
            ) from None
    if _nesting_exceeds(value, MAX_NESTING_DEPTH):
        raise MalformedEventError(f"{where} is nested more than {MAX_NESTING_DEPTH} levels deep")
    return value


def _nesting_exceeds(value: Any, limit: int) -> bool:
    """True when containers nest deeper than ``limit``. Iterative, and visits each container once."""
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if not isinstance(current, dict | list) or id(current) in seen:
            continue
        if depth > limit:
            return True
        seen.add(id(current))
        children: Iterable[Any] = current.values() if isinstance(current, dict) else current
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _normalise_event_name(name: str) -> str:
    # S3 sends replication event names without the "s3:" that notification configurations use.
    if name.startswith("s3:Replication:"):
        return name.removeprefix("s3:")
    return name


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return to_utc_event_time(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _validation_message(exc: ValidationError) -> str:
    """Pydantic errors as ``s3.bucket.name missing``: the path S3 uses, then what is wrong."""
    parts: list[str] = []
    errors = exc.errors(include_url=False)
    for error in errors[:_MAX_ERRORS_PER_RECORD]:
        path = _format_loc(error.get("loc", ()))
        if error.get("type") == "missing":
            parts.append(f"{path} missing")
            continue
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "value_error":
            pass  # our validators already name the offending value
        elif "input" in error and not isinstance(error["input"], dict | list):
            message += f" (got {_clip(_show(error['input']))})"
        elif "input" in error:
            message += f" (got {_type_name(error['input'])})"
        parts.append(f"{path}: {message}" if path else message)
    if len(errors) > _MAX_ERRORS_PER_RECORD:
        parts.append(f"and {len(errors) - _MAX_ERRORS_PER_RECORD} more")
    return "; ".join(parts)


def _format_loc(loc: Iterable[int | str]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _describe(item: UnparseableRecord) -> str:
    return item.error if item.source in {"", "body", "document"} else f"{item.error} ({item.source})"


def _keys(mapping: dict[str, Any]) -> str:
    keys = [_clip(key if isinstance(key, str) else _show(key)) for key in list(mapping)[:8]]
    return ", ".join(keys) + (", ..." if len(mapping) > 8 else "") if keys else "none"


def _type_name(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return {**names, type(None): "null"}.get(type(value), type(value).__name__)


def _check_unicode(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"is not Unicode text (a lone surrogate at character {exc.start})") from None


def _show(value: Any) -> str:
    """``repr(value)``, except that an integer too long to print is described instead."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _show_number(value)
    try:
        return repr(value)
    except ValueError:  # a container holding such an integer
        return f"<{type(value).__name__}>"


def _show_number(value: int) -> str:
    magnitude = abs(value)
    if magnitude < 10**_MAX_VALUE_CHARS:
        return str(value)
    # Digits without str(), which refuses more than sys.get_int_max_str_digits() of them.
    digits = int((magnitude.bit_length() - 1) * math.log10(2)) + 1
    if magnitude >= 10**digits:
        digits += 1
    return f"{'a negative ' if value < 0 else 'an '}integer of {digits} digits"


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."
