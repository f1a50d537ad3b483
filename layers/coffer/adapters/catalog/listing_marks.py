"""When a bucket's previous backup (into a vault) took its listing, in the catalog's single table: an S3 Inventory
older than that never stands in for the listing (services/inventory_batches.py)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from coffer.adapters.catalog.conditions import condition_held

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ListingMarks:
    """When a bucket's previous backup (into a vault) took its listing: an inventory older than that is not used.

    | record | key                                            | attributes |
    |--------|------------------------------------------------|------------|
    | mark   | pk=LISTED#<vault>#<bucket>, sk=LISTED          | as_of      |
    """

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    @staticmethod
    def _key(vault: str, bucket: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": f"LISTED#{vault}#{bucket}"}, "sk": {"S": "LISTED"}}

    def listed_before(self, vault: str, bucket: str) -> datetime | None:
        item = self._db.get_item(TableName=self._table, Key=self._key(vault, bucket), ConsistentRead=True).get("Item")
        return None if item is None else datetime.fromisoformat(item["as_of"]["S"])

    def mark(self, vault: str, bucket: str, as_of: datetime) -> None:
        # Rule: the mark only moves forward (a late job of an older listing never moves it back).
        condition_held(lambda: self._db.update_item(
            TableName=self._table, Key=self._key(vault, bucket), UpdateExpression="SET as_of = :t",
            ConditionExpression="attribute_not_exists(as_of) OR as_of < :t",
            ExpressionAttributeValues={":t": {"S": as_of.isoformat()}}))
