"""The vault's content-addressed blobs as Coffer recorded them (ports/blob_records.py), in the catalog's single table.

| record | key                            | attributes |
|--------|--------------------------------|------------|
| blob   | pk=BLOB#<vault>, sk=<sha256>   | doc (JSON: version_id, retain_until, lock_mode, warm_until) |

Read with BatchGetItem (100 keys a call) and written with BatchWriteItem (25 a call) as the object index is
(batches.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from coffer.adapters.catalog.batches import get_docs, put_docs

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

class DynamoBlobRecords:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    def get_blobs(self, vault: str, shas: Sequence[str]) -> dict[str, dict[str, Any]]:
        return get_docs(self._db, self._table, f"BLOB#{vault}", shas)

    def put_blobs(self, vault: str, records: dict[str, dict[str, Any]]) -> None:
        put_docs(self._db, self._table, f"BLOB#{vault}", records)
