"""The twin's TransactWriteItems: all of a transaction or none of it, at the cost of the items it names."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from coffer_twin.dynamodb_transactions import transactions_by_item
from coffer_twin.environment import fake_aws_environment

TABLE = "t"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with fake_aws_environment("us-east-1"), mock_aws(), transactions_by_item():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}])
        for n in range(50):
            client.put_item(TableName=TABLE, Item={"pk": {"S": f"other-{n}"}, "sk": {"S": "x"}, "v": {"N": "1"}})
        yield client


def put(pk: str, value: str, condition: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"TableName": TABLE, "Item": {"pk": {"S": pk}, "sk": {"S": "x"}, "v": {"N": value}}}
    if condition:
        request["ConditionExpression"] = condition
    return {"Put": request}


def items(client: Any) -> dict[str, str]:
    return {i["pk"]["S"]: i["v"]["N"] for i in client.scan(TableName=TABLE)["Items"]}


def test_a_cancelled_transaction_changes_nothing(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "sk": {"S": "x"}, "v": {"N": "1"}})
    before = items(dynamodb)
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[
            put("a", "2"), {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "other-1"}, "sk": {"S": "x"}}}},
            put("new", "3"), put("other-2", "9", condition="attribute_not_exists(pk)")])
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert items(dynamodb) == before


def test_a_transaction_that_holds_applies_every_item(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=[
        put("a", "5", condition="attribute_not_exists(pk)"),
        {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "other-3"}, "sk": {"S": "x"}}}}])
    found = items(dynamodb)
    assert found["a"] == "5" and "other-3" not in found and len(found) == 50


def test_the_table_is_not_copied(dynamodb: Any) -> None:
    from moto.dynamodb.models.table import Table

    copied: list[str] = []
    real = copy.deepcopy

    def watching(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            copied.append(value.name)
        return real(value, memo)

    with mock.patch("copy.deepcopy", watching):
        dynamodb.transact_write_items(TransactItems=[put("b", "1")])
    assert copied == []
