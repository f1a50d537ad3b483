"""The vault's content-addressed blobs as Coffer recorded them (ports/blob_records.py), in the catalog's single table.

| record | key                            | attributes |
|--------|--------------------------------|------------|
| blob   | pk=BLOB#<vault>, sk=<sha256>   | doc (JSON: version_id, retain_until, lock_mode, warm_until) |

Read with BatchGetItem (100 keys a call) and written with BatchWriteItem (25 a call), unprocessed items retried,
as the object index is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_GET_BATCH = 100
_WRITE_BATCH = 25


class DynamoBlobRecords:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    def get_blobs(self, vault: str, shas: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        pk = {"S": f"BLOB#{vault}"}
        unique = list(dict.fromkeys(shas))
        for start in range(0, len(unique), _GET_BATCH):
            request: dict[str, Any] = {self._table: {
                "Keys": [{"pk": pk, "sk": {"S": sha}} for sha in unique[start:start + _GET_BATCH]],
                "ConsistentRead": True}}
            while request:
                response = self._db.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table, []):
                    found[item["sk"]["S"]] = json.loads(item["doc"]["S"])
                request = response.get("UnprocessedKeys") or {}
        return found

    def put_blobs(self, vault: str, records: dict[str, dict[str, Any]]) -> None:
        pk = {"S": f"BLOB#{vault}"}
        puts = [{"PutRequest": {"Item": {"pk": pk, "sk": {"S": sha}, "doc": {"S": json.dumps(doc)}}}}
                for sha, doc in records.items()]
        for start in range(0, len(puts), _WRITE_BATCH):
            request: dict[str, Any] = {self._table: puts[start:start + _WRITE_BATCH]}
            while request:
                response = self._db.batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}
