"""The twin's DynamoDB Query (twin/dynamodb_items.py) answers exactly as moto's own, reading only the partition."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws

from coffer_twin.dynamodb_items import fast_table_listing

QUERIES: list[dict[str, Any]] = [
    {"TableName": "ranged", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "b"}}},
    {"TableName": "ranged", "KeyConditionExpression": "pk = :p AND sk < :s", "ScanIndexForward": False,
     "ExpressionAttributeValues": {":p": {"S": "b"}, ":s": {"S": "k07"}}},
    {"TableName": "ranged", "KeyConditionExpression": "pk = :p", "Limit": 3,
     "ExclusiveStartKey": {"pk": {"S": "c"}, "sk": {"S": "k02"}}, "ExpressionAttributeValues": {":p": {"S": "c"}}},
    {"TableName": "ranged", "KeyConditionExpression": "pk = :p", "Select": "COUNT",
     "FilterExpression": "n > :n", "ExpressionAttributeValues": {":p": {"S": "a"}, ":n": {"N": "4"}}},
    {"TableName": "ranged", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "none"}}},
    {"TableName": "ranged", "IndexName": "by-n", "KeyConditionExpression": "g = :g",
     "ExpressionAttributeValues": {":g": {"S": "even"}}},
    {"TableName": "plain", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "b"}}},
    {"TableName": "plain", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "zz"}}},
]


def _answers() -> list[Any]:
    db = boto3.client("dynamodb", region_name="us-east-1")
    db.create_table(TableName="ranged", BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[{"AttributeName": n, "AttributeType": t}
                                          for n, t in (("pk", "S"), ("sk", "S"), ("g", "S"), ("n", "N"))],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                    GlobalSecondaryIndexes=[{"IndexName": "by-n", "Projection": {"ProjectionType": "ALL"},
                                             "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                           {"AttributeName": "n", "KeyType": "RANGE"}]}])
    db.create_table(TableName="plain", BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    for pk in "cab":
        db.put_item(TableName="plain", Item={"pk": {"S": pk}, "v": {"N": str(ord(pk))}})
        for n in (9, 2, 7, 0, 5, 11):  # written out of order
            db.put_item(TableName="ranged", Item={"pk": {"S": pk}, "sk": {"S": f"k{n:02d}"}, "n": {"N": str(n)},
                                                  "g": {"S": "even" if n % 2 == 0 else "odd"}})
    answers: list[Any] = []
    for query in QUERIES:
        answer = db.query(**query)
        answers.append({k: v for k, v in answer.items() if k != "ResponseMetadata"})
    answers.append(db.scan(TableName="ranged")["Count"])  # a Query of a missing partition added nothing
    answers.append(db.scan(TableName="plain")["Items"])
    return answers


def test_a_query_answers_as_motos_own_for_partitions_ranges_pages_filters_indexes_and_missing_keys() -> None:
    with mock_aws():
        expected = _answers()
    with mock_aws(), fast_table_listing():
        assert _answers() == expected
    assert expected[0]["Count"] == 6 and expected[-2] == 18  # the scenario has something to compare
