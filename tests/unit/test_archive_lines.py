"""Which history lines a stream record wrote (pure: stream records built by hand)."""

from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from replimend.archive import line_json
from replimend.ledger.stream import StreamRecordError, lines_of_record

SERIALIZER = TypeSerializer()
LINE_1 = '["20240905T210432.527000Z","e","ingest","ev-1","FailedReplication","AssumeRoleNotPermitted"]'
LINE_2 = '["20240905T210532.000000Z","t",1,"ingest","","FAILED"]'
LINE_3 = '["20240905T211532.000000Z","t",2,"remediate","FAILED","IN_JOB","job","job-1"]'


def image(**item: Any) -> dict[str, Any]:
    return {name: SERIALIZER.serialize(value) for name, value in item.items()}


def record(
    name: str, new: dict[str, Any] | None, old: dict[str, Any] | None, seq: str = "100"
) -> dict[str, Any]:
    stream: dict[str, Any] = {"SequenceNumber": seq, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new is not None:
        stream["NewImage"] = image(**new)
    if old is not None:
        stream["OldImage"] = image(**old)
    return {"eventID": "e1", "eventName": name, "dynamodb": stream}


OBJECT = {"pk": "O#src#a/<b>.txt", "sk": "V#v1#dst", "st": "FAILED", "rsn": "AssumeRoleNotPermitted"}


def test_an_insert_archives_every_line_of_the_new_item() -> None:
    lines = lines_of_record(record("INSERT", {**OBJECT, "h": [LINE_1, LINE_2]}, None))
    assert [(x.entry.kind, x.line_id) for x in lines] == [("event", "100:0"), ("transition", "100:1")]
    assert lines[1].entry.failure_reason == "AssumeRoleNotPermitted"  # carried from the event line
    assert line_json(lines[0])["object_key"] == "a/<b>.txt" and line_json(lines[0])["version_id"] == "v1"


def test_a_modify_archives_only_the_lines_the_old_image_lacked() -> None:
    old = {**OBJECT, "h": [LINE_1, LINE_2]}
    new = {**OBJECT, "st": "IN_JOB", "h": [LINE_2, LINE_3]}  # the overflow moved LINE_1 away
    (line,) = lines_of_record(record("MODIFY", new, old, seq="101"))
    assert line.entry.job_id == "job-1" and line.line_id == "101:0"
    assert line_json(line)["failure_reason"] == "AssumeRoleNotPermitted"  # the item's reason


@pytest.mark.parametrize(
    "item",
    [
        {"pk": "O#src#a", "sk": "H#v1#dst#0000000009", "h": [LINE_1]},  # overflow: archived from V# first
        {"pk": "A#src", "sk": "20240905T21#abc", "keys": ["a"]},  # activity page
        {"pk": "INCIDENT#src#dst#R", "sk": "I"},
    ],
)
def test_items_other_than_objects_and_observed_events_write_no_line(item: dict[str, Any]) -> None:
    assert lines_of_record(record("INSERT", item, None)) == []


def test_a_delete_writes_no_line() -> None:
    assert lines_of_record(record("REMOVE", None, {**OBJECT, "h": [LINE_1]})) == []


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (record("MODIFY", {**OBJECT, "h": [LINE_1]}, None), "NEW_AND_OLD_IMAGES"),
        (record("INSERT", None, None), "NEW_AND_OLD_IMAGES"),
        ({"eventName": "INSERT", "dynamodb": {}}, "SequenceNumber"),
        (record("UPSERT", {**OBJECT, "h": [LINE_1]}, None), "eventName"),
        (record("INSERT", {**OBJECT, "h": ["not json"]}, None), "unreadable history line"),
    ],
)
def test_a_record_the_archive_cannot_read_is_an_error_naming_why(
    broken: dict[str, Any], message: str
) -> None:
    with pytest.raises(StreamRecordError, match=message):
        lines_of_record(broken)


def test_the_glue_tables_columns_are_the_archived_json_fields_in_order() -> None:
    from replimend_local.sam_template import load_template

    table = load_template()["Resources"]["AuditHistoryTable"]["Properties"]["TableInput"]
    columns = [column["Name"] for column in table["StorageDescriptor"]["Columns"]]
    (line,) = lines_of_record(record("INSERT", {**OBJECT, "h": [LINE_1]}, None))
    assert columns == list(line_json(line))
    assert [key["Name"] for key in table["PartitionKeys"]] == ["dt", "hour"]
