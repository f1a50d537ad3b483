"""Vault notification settings in the catalog's single table.

| record   | key                                          | attributes |
|----------|----------------------------------------------|------------|
| settings | pk=VAULTNOTIFY#<vault>, sk=VAULTNOTIFY       | doc (JSON) |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coffer.domain.notifications import VaultNotifications

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class VaultNotificationRecords:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    @staticmethod
    def _key(vault_name: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": f"VAULTNOTIFY#{vault_name}"}, "sk": {"S": "VAULTNOTIFY"}}

    def get(self, vault_name: str) -> VaultNotifications | None:
        item = self._db.get_item(TableName=self._table, Key=self._key(vault_name), ConsistentRead=True).get("Item")
        return None if item is None else VaultNotifications.model_validate_json(item["doc"]["S"])

    def put(self, settings: VaultNotifications) -> None:
        # The last writer wins, as PutBackupVaultNotifications: the settings are replaced whole, never merged.
        self._db.put_item(TableName=self._table, Item={
            **self._key(settings.backup_vault_name), "doc": {"S": settings.model_dump_json(by_alias=True)}})

    def delete(self, vault_name: str) -> bool:
        answer = self._db.delete_item(TableName=self._table, Key=self._key(vault_name), ReturnValues="ALL_OLD")
        return bool(answer.get("Attributes"))
