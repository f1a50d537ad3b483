"""The catalog's continuous backup records: each resource's protection and each S3 bucket's change journal.

Same single table as dynamodb.py, every access pattern a GetItem, a conditional Put or a Query:

| access pattern                                 | key                                              | call          |
|------------------------------------------------|--------------------------------------------------|---------------|
| continuous protection of a resource            | pk=CONTINUOUS#<resource arn>, sk=CONTINUOUS      | GetItem / Put |
| continuous protections into a vault            | gsi1pk=CONTINUOUS#<vault>, gsi1sk=<resource arn> | Query gsi1    |
| change journal of a continuous recovery point, | pk=JOURNAL#<recovery point id>,                  | Put (once),   |
| in S3's key order, each key's changes in order | sk=<object key>\\x00<sequencer, 32 hex digits>   | Query pages   |

A journal entry is written once (attribute_not_exists): S3 gives every change of a key its own sequencer, so
a repeated event names the same item and is refused by DynamoDB, never appended twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from coffer.adapters.catalog.conditions import condition_held
from coffer.domain.continuous import JournalEntry, Protection
from coffer.domain.errors import ConcurrentUpdate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class ContinuousCatalog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    # ---- protection ------------------------------------------------------------------------------
    def get_protection(self, resource_arn: str) -> Protection | None:
        item = self._db.get_item(TableName=self._table, ConsistentRead=True, Key={
            "pk": _s(f"CONTINUOUS#{resource_arn}"), "sk": _s("CONTINUOUS")}).get("Item")
        return None if item is None else Protection.model_validate_json(item["doc"]["S"])

    def save_protection(self, protection: Protection) -> Protection:
        """Create (version 0) or change the protection; ConcurrentUpdate if someone else wrote it first."""
        saved = protection.model_copy(update={"version": protection.version + 1})
        put: dict[str, Any] = {"TableName": self._table, "Item": {
            "pk": _s(f"CONTINUOUS#{protection.resource_arn}"), "sk": _s("CONTINUOUS"),
            "gsi1pk": _s(f"CONTINUOUS#{protection.vault_name}"), "gsi1sk": _s(protection.resource_arn),
            "version": {"N": str(saved.version)}, "doc": _s(saved.model_dump_json())}}
        if protection.version == 0:
            # Rule: one continuous protection per resource (AWS Backup: one continuous backup per resource).
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            # Rule: a protection changes only from the version the writer read.
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": {"N": str(protection.version)}}
        if not condition_held(lambda: self._db.put_item(**put)):
            raise ConcurrentUpdate(f"continuous protection of {protection.resource_arn} changed")
        return saved

    def protections(self, vault_name: str) -> Iterator[Protection]:
        """Every continuous protection into a vault (e.g. for verify: the blobs its journals reference)."""
        for page in self._db.get_paginator("query").paginate(
                TableName=self._table, IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
                ExpressionAttributeValues={":p": _s(f"CONTINUOUS#{vault_name}")}):
            for item in page["Items"]:
                yield Protection.model_validate_json(item["doc"]["S"])

    def journal_blobs(self, recovery_point_id: str, page_size: int = 1000) -> Iterator[str]:
        """The SHA-256 of every version a continuous recovery point's journal keeps in the vault."""
        after: str | None = None
        while True:
            entries, after = self.journal_page(recovery_point_id, after, page_size)
            yield from (entry.object.sha256 for _, entry in entries if entry.object is not None)
            if after is None:
                return

    # ---- the journal -----------------------------------------------------------------------------
    def append(self, recovery_point_id: str, entry: JournalEntry) -> bool:
        """Append one change; False if this very change (key and sequencer) is already there."""
        # Rule: every change is journaled once, however often its event is delivered.
        return condition_held(lambda: self._db.put_item(
            TableName=self._table,
            Item={"pk": _s(f"JOURNAL#{recovery_point_id}"), "sk": _s(entry.sort_key),
                  "doc": _s(entry.model_dump_json())},
            ConditionExpression="attribute_not_exists(pk)"))

    def has_entry(self, recovery_point_id: str, sort_key: str) -> bool:
        item = self._db.get_item(TableName=self._table, ConsistentRead=True, ProjectionExpression="pk", Key={
            "pk": _s(f"JOURNAL#{recovery_point_id}"), "sk": _s(sort_key)}).get("Item")
        return item is not None

    def journal_page(self, recovery_point_id: str, after: str | None,
                     limit: int) -> tuple[list[tuple[str, JournalEntry]], str | None]:
        """One page of the journal in sort key order after `after`: ([(sort key, entry)], last key or None)."""
        params: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "pk = :p", "Limit": limit, "ConsistentRead": True,
            "ExpressionAttributeValues": {":p": _s(f"JOURNAL#{recovery_point_id}")}}
        if after is not None:
            params["ExclusiveStartKey"] = {"pk": _s(f"JOURNAL#{recovery_point_id}"), "sk": _s(after)}
        page = self._db.query(**params)
        entries = [(item["sk"]["S"], JournalEntry.model_validate_json(item["doc"]["S"])) for item in page["Items"]]
        last = page.get("LastEvaluatedKey")
        return entries, None if last is None else str(last["sk"]["S"])
