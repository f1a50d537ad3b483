"""S3 tag-change marks in the catalog's single table (ports/tag_marks.py; domain/tag_freshness.py uses them).

| record | key                              | attributes                  |
|--------|----------------------------------|-----------------------------|
| mark   | pk=TAGMARK#<bucket>, sk=<key>    | noted_at (ISO 8601), ttl    |

One PutItem per tag event; a backup batch reads its key range with one Query (paged). A mark older than the
refresh period is useless (the rolling refresh has read the key since), so DynamoDB's TTL removes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoTagMarks:
    def __init__(self, client: DynamoDBClient, table: str, keep: timedelta) -> None:
        self._db = client
        self._table = table
        self._keep = keep

    def note(self, bucket: str, key: str, at: datetime) -> None:
        # A PutItem is its own retry: the same key noted twice keeps the later time (events may come twice).
        self._db.put_item(TableName=self._table, Item={
            "pk": {"S": f"TAGMARK#{bucket}"}, "sk": {"S": key}, "noted_at": {"S": at.isoformat()},
            "ttl": {"N": str(int((at + self._keep).timestamp()))}})

    def noted_between(self, bucket: str, first: str, last: str) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(
                TableName=self._table, KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                ExpressionAttributeValues={":p": {"S": f"TAGMARK#{bucket}"}, ":a": {"S": first}, ":b": {"S": last}},
                ProjectionExpression="sk, noted_at", ConsistentRead=True):
            for item in page["Items"]:
                found[item["sk"]["S"]] = datetime.fromisoformat(item["noted_at"]["S"])
        return found
