"""The DynamoDB meter bills what DynamoDB documents: sizes, writes, index writes, reads, storage."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.common import mocked_aws
from benchmarks.dynamodb_meter import DynamoDBMeter, item_size, number_size

REGION = "us-east-1"
TABLE = "meter-test"


def s(text: str) -> dict[str, str]:
    return {"S": text}


def padded(pk: str, sk: str, total: int, **extra: Any) -> dict[str, Any]:
    """An item of exactly ``total`` bytes: pk, sk, the extras and a ``filler`` string filling the rest."""
    item: dict[str, Any] = {"pk": s(pk), "sk": s(sk), **extra}
    missing = total - item_size(item) - len("filler")
    assert missing >= 0
    return {**item, "filler": s("x" * missing)}


@pytest.fixture
def ddb() -> Iterator[tuple[Any, DynamoDBMeter]]:
    import boto3

    with mocked_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"}
                for name in ("pk", "sk", "due_pk", "due_sk", "g_pk", "g_sk")
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "Due",
                    "KeySchema": [
                        {"AttributeName": "due_pk", "KeyType": "HASH"},
                        {"AttributeName": "due_sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
                {
                    "IndexName": "All",
                    "KeySchema": [
                        {"AttributeName": "g_pk", "KeyType": "HASH"},
                        {"AttributeName": "g_sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
        )
        meter = DynamoDBMeter()
        meter.attach(client.meta.events)
        yield client, meter


def billed(meter: DynamoDBMeter) -> dict[str, Any]:
    """What the requests since the last call consumed; resets the meter."""
    report = meter.report()["total"]
    meter.reset()
    return report


# ---------------------------------------------------------------- sizes


def test_item_size_follows_the_documented_rules_for_every_type() -> None:
    item = {
        "s": s("héllo"),  # 1 + 6 UTF-8 bytes
        "n": {"N": "123.4500"},  # 1 + 12345 → 5 significant digits → 3 + 1
        "z": {"N": "100"},  # 1 + one significant digit → 1 + 1
        "b": {"B": base64.b64encode(b"\x00\x01\x02").decode()},  # 1 + 3 raw bytes
        "t": {"BOOL": True},  # 1 + 1
        "u": {"NULL": True},  # 1 + 1
        "l": {"L": [s("ab"), {"N": "1"}]},  # 1 + 3 + (1 + 2) + (1 + 2)
        "m": {"M": {"k": s("v")}},  # 1 + 3 + (1 + 1 + 1)
        "ss": {"SS": ["a", "bc"]},  # 2 + 3
    }
    assert item_size(item) == 7 + 5 + 3 + 4 + 2 + 2 + 10 + 7 + 5
    assert number_size("0") == 2
    assert number_size("-0.000123") == 3  # 123: 3 significant digits → 2 + 1
    assert item_size({"m": {"M": {}}, "l": {"L": []}}) == 4 + 4


# ---------------------------------------------------------------- writes


def test_writes_bill_the_larger_item_per_kilobyte_with_a_minimum_of_one(ddb: Any) -> None:
    client, meter = ddb
    client.put_item(TableName=TABLE, Item=padded("a", "1", 100))
    assert billed(meter)["wru"] == 1
    client.put_item(TableName=TABLE, Item=padded("a", "1", 1500))  # replaces 100 B with 1,500 B
    assert billed(meter)["wru"] == 2
    client.put_item(TableName=TABLE, Item=padded("a", "1", 500))  # the larger of the two: before
    assert billed(meter)["wru"] == 2
    client.update_item(
        TableName=TABLE,
        Key={"pk": s("a"), "sk": s("1")},
        UpdateExpression="SET filler = :p",
        ExpressionAttributeValues={":p": s("x" * 2100)},  # 500 B → 2,100+ B
    )
    assert billed(meter)["wru"] == 3
    client.delete_item(TableName=TABLE, Key={"pk": s("a"), "sk": s("1")})
    assert billed(meter)["wru"] == 3  # the deleted item's size
    client.delete_item(TableName=TABLE, Key={"pk": s("nothing"), "sk": s("1")})
    assert billed(meter)["wru"] == 1


def test_a_failed_condition_still_consumes_write_units_but_writes_no_index(ddb: Any) -> None:
    client, meter = ddb
    client.put_item(TableName=TABLE, Item=padded("a", "1", 1500, g_pk=s("G"), g_sk=s("1")))
    meter.reset()
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(
            TableName=TABLE,
            Item=padded("a", "1", 100, g_pk=s("G"), g_sk=s("2")),
            ConditionExpression="attribute_not_exists(pk)",
        )
    report = billed(meter)
    assert (report["wru"], report["wru_table"], report["wru_indexes"]) == (2, 2, {})
    assert report["failed_conditions"] == 1
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.update_item(
            TableName=TABLE,
            Key={"pk": s("missing"), "sk": s("1")},
            UpdateExpression="SET filler = :p",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":p": s("x")},
        )
    assert billed(meter)["wru"] == 1  # no item: the minimum


def _update(client: Any, expression: str, **values: str) -> None:
    kwargs: dict[str, Any] = {"TableName": TABLE, "Key": {"pk": s("a"), "sk": s("1")}}
    if values:
        kwargs["ExpressionAttributeValues"] = {f":{name}": s(value) for name, value in values.items()}
    client.update_item(UpdateExpression=expression, **kwargs)


def test_index_writes_enter_leave_change_key_change_projection_or_nothing(ddb: Any) -> None:
    client, meter = ddb
    client.put_item(TableName=TABLE, Item={"pk": s("a"), "sk": s("1"), "st": s("NEW")})
    assert billed(meter)["wru_indexes"] == {}  # in no index: sparse
    _update(client, "SET due_pk = :p, due_sk = :s", p="DUE#0", s="t1")
    assert billed(meter)["wru_indexes"] == {"Due": 1}  # enters the KEYS_ONLY index
    _update(client, "SET st = :v", v="FAILED")
    assert billed(meter)["wru_indexes"] == {}  # a non-key change: KEYS_ONLY projects nothing of it
    _update(client, "SET due_sk = :s", s="t2")
    assert billed(meter)["wru_indexes"] == {"Due": 2}  # index key changed: delete + put
    _update(client, "SET g_pk = :p, g_sk = :s", p="G", s="1")
    assert billed(meter)["wru_indexes"] == {"All": 1}  # enters the ALL index
    _update(client, "SET memo = :n", n="hello")
    assert billed(meter)["wru_indexes"] == {"All": 1}  # projected attribute changed (ALL)
    _update(client, "REMOVE due_pk, due_sk")
    assert billed(meter)["wru_indexes"] == {"All": 1, "Due": 1}  # leaves Due; the ALL entry changes
    client.put_item(
        TableName=TABLE,
        Item={
            "pk": s("a"),
            "sk": s("1"),
            "st": s("FAILED"),
            "g_pk": s("G"),
            "g_sk": s("1"),
            "memo": s("hello"),
        },
    )
    assert billed(meter)["wru_indexes"] == {}  # the same item again: no index write
    client.put_item(TableName=TABLE, Item=padded("b", "1", 1800, g_pk=s("G"), g_sk=s("2")))
    report = billed(meter)
    assert (report["wru_table"], report["wru_indexes"]) == (2, {"All": 2})  # index entries per KB too


def test_batch_writes_bill_each_item_and_transactions_twice(ddb: Any) -> None:
    client, meter = ddb
    client.batch_write_item(
        RequestItems={
            TABLE: [
                {"PutRequest": {"Item": padded("a", "1", 100)}},
                {"PutRequest": {"Item": padded("a", "2", 1500)}},
                {"PutRequest": {"Item": {"pk": s("a"), "sk": s("3"), "due_pk": s("D"), "due_sk": s("1")}}},
            ]
        }
    )
    report = billed(meter)
    assert (report["requests"], report["wru_table"], report["wru_indexes"]) == (1, 4, {"Due": 1})
    client.transact_write_items(
        TransactItems=[{"Put": {"TableName": TABLE, "Item": {"pk": s("t"), "sk": s("1")}}}]
    )
    assert billed(meter)["wru"] == 2


# ---------------------------------------------------------------- reads


def test_reads_bill_per_four_kilobytes_strong_or_eventual(ddb: Any) -> None:
    client, meter = ddb
    client.put_item(TableName=TABLE, Item=padded("a", "1", 1000))
    client.put_item(TableName=TABLE, Item=padded("a", "2", 5000))
    client.put_item(TableName=TABLE, Item=padded("a", "3", 3000, due_pk=s("D"), due_sk=s("1")))
    meter.reset()
    client.get_item(TableName=TABLE, Key={"pk": s("a"), "sk": s("1")}, ConsistentRead=True)
    assert billed(meter)["rru"] == 1
    client.get_item(TableName=TABLE, Key={"pk": s("a"), "sk": s("2")})
    assert billed(meter)["rru"] == 1  # 5,000 B → 2 units, eventually consistent: half
    client.get_item(TableName=TABLE, Key={"pk": s("missing"), "sk": s("1")})
    assert billed(meter)["rru"] == 0.5
    client.batch_get_item(
        RequestItems={
            TABLE: {
                "Keys": [{"pk": s("a"), "sk": s("1")}, {"pk": s("a"), "sk": s("2")}],
                "ConsistentRead": True,
            }
        }
    )
    assert billed(meter)["rru"] == 1 + 2  # each item rounded on its own
    client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("a")},
        ConsistentRead=True,
    )
    assert billed(meter)["rru"] == 3  # 9,000 B read together → 12 KB
    client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        FilterExpression="filler = :nothing",
        ProjectionExpression="pk",
        ExpressionAttributeValues={":p": s("a"), ":nothing": s("no")},
    )
    report = billed(meter)
    assert report["rru"] == 1.5  # read before the filter, projection or not: 12 KB, eventual
    client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("a")},
        Limit=1,
        ConsistentRead=True,
    )
    assert billed(meter)["rru"] == 1  # Limit bounds what is read
    client.query(
        TableName=TABLE,
        IndexName="Due",
        KeyConditionExpression="due_pk = :p",
        ExpressionAttributeValues={":p": s("D")},
    )
    assert billed(meter)["rru"] == 0.5  # the KEYS_ONLY entry, not the 3,000 B item
    client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("nobody")},
    )
    assert billed(meter)["rru"] == 0.5  # reading nothing costs the minimum


def test_storage_counts_items_and_index_entries_with_their_overhead(ddb: Any) -> None:
    client, meter = ddb
    client.put_item(TableName=TABLE, Item=padded("a", "1", 300))
    due = {"pk": s("a"), "sk": s("2"), "due_pk": s("D"), "due_sk": s("1"), "memo": s("n" * 50)}
    client.put_item(TableName=TABLE, Item=due)
    storage = meter.storage(TABLE, REGION)
    due_size = item_size(due)  # 4+5+6+5+54 = 74... computed, then the entry drops "memo"
    assert storage["items"] == 2
    assert storage["table_bytes"] == 300 + 100 + due_size + 100
    assert storage["index_bytes"] == {"Due": due_size - len("memo") - 50 + 100, "All": 0}
    assert storage["total_bytes"] == storage["table_bytes"] + due_size - 54 + 100


def test_the_meter_reports_by_request_type_phase_and_index(ddb: Any) -> None:
    client, meter = ddb
    with meter.phase("load"):
        client.put_item(
            TableName=TABLE, Item={"pk": s("a"), "sk": s("1"), "due_pk": s("D"), "due_sk": s("1")}
        )
    with meter.phase("read"):
        client.get_item(TableName=TABLE, Key={"pk": s("a"), "sk": s("1")})
    client.describe_table(TableName=TABLE)
    with pytest.raises(client.exceptions.ResourceNotFoundException):  # the meter stays out of the way
        client.put_item(TableName="no-such-table", Item={"pk": s("a"), "sk": s("1")})
    report = meter.report()
    assert report["by_index_wru"] == {"table": 1, "Due": 1}
    assert report["by_request_type"]["PutItem"]["wru"] == 2
    assert report["by_request_type"]["GetItem"]["rru"] == 0.5
    assert set(report["by_phase"]) == {"load", "read"}
    assert report["unbilled_calls"] == {"DescribeTable": 1, "PutItem (error)": 1}
    assert report["total"] == {
        "requests": 2,
        "wru": 2,
        "wru_table": 1,
        "wru_indexes": {"Due": 1},
        "rru": 0.5,
        "failed_conditions": 0,
    }
