"""The waiter records of native backups parked on AWS's completion events (domain/native_waits.py).

The workflow writes its record itself (WaitForSnapshot: ``aws-sdk:dynamodb:updateItem.waitForTaskToken`` with
``attribute_not_exists(done_at)``); this side only sets ``done_at`` and reads the token back, in one UpdateItem,
so that whichever of the two comes second sees the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coffer.domain.native_waits import WAITER_SORT_KEY, waiter_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoNativeWaiters:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    def mark_done(self, native_ref: str, done_at: str, ttl: int) -> tuple[str | None, str | None]:
        item = self._db.update_item(
            TableName=self._table, Key={"pk": {"S": waiter_key(native_ref)}, "sk": {"S": WAITER_SORT_KEY}},
            # the first end recorded is kept (a duplicate event changes nothing but the ttl)
            UpdateExpression="SET done_at = if_not_exists(done_at, :done), #ttl = :ttl",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":done": {"S": done_at}, ":ttl": {"N": str(ttl)}},
            ReturnValues="ALL_NEW")["Attributes"]
        job_id, token = item.get("job_id", {}).get("S"), item.get("task_token", {}).get("S")
        return job_id, token
