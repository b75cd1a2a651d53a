"""moto_patches.query_one_partition: a Query on the table's key reads only the queried partition and
answers exactly what moto's own Query answers (conditions, filters, order, paging)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.dynamodb.models.table import Table

from replimend_local.embedded import EmbeddedAws

QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "b"}}},
    {
        "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
        "ExpressionAttributeValues": {":p": {"S": "b"}, ":s": {"S": "h#"}},
        "ScanIndexForward": False,
    },
    {
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :lo AND :hi",
        "FilterExpression": "n > :n",
        "ExpressionAttributeValues": {
            ":p": {"S": "c"},
            ":lo": {"S": "h#03"},
            ":hi": {"S": "h#08"},
            ":n": {"N": "4"},
        },
    },
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "absent"}}},
    {
        "KeyConditionExpression": "g = :g",
        "IndexName": "by-g",
        "ExpressionAttributeValues": {":g": {"S": "odd"}},
    },
]


@pytest.fixture(scope="module")
def table() -> Iterator[Any]:
    with EmbeddedAws(emulators=False) as _aws:
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="q",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for pk in "abcd":
            for n in range(10):
                dynamodb.put_item(
                    TableName="q",
                    Item={
                        "pk": {"S": pk},
                        "sk": {"S": f"h#{n:02d}"},
                        "n": {"N": str(n)},
                        "g": {"S": "odd" if n % 2 else "even"},
                    },
                )
        yield dynamodb


def _pages(dynamodb: Any, query: dict[str, Any], limit: int | None) -> list[list[dict[str, Any]]]:
    pages, start = [], None
    while True:
        page = dynamodb.query(
            TableName="q",
            **query,
            **({"Limit": limit} if limit else {}),
            **({"ExclusiveStartKey": start} if start else {}),
        )
        pages.append(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("limit", [None, 3])
def test_answers_are_moto_s_own(
    table: Any, query: dict[str, Any], limit: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    patched = _pages(table, query, limit)
    # the same query with moto's own Query and its whole-table item list
    monkeypatch.setattr(Table, "query", Table.query.original)  # type: ignore[attr-defined]
    monkeypatch.setattr(Table, "all_items", Table.all_items.original)  # type: ignore[attr-defined]
    assert _pages(table, query, limit) == patched


def test_a_query_on_the_key_never_lists_the_whole_table(table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    listed: list[int] = []
    patched_all_items = Table.all_items

    def counting(self: Any) -> Any:
        items = patched_all_items(self)
        listed.append(len(items))
        return items

    monkeypatch.setattr(Table, "all_items", counting)
    table.query(TableName="q", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}})
    assert listed and max(listed) == 10  # one partition, not the table's 40 items
