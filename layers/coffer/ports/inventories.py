"""S3 Inventory read in place, as a backup's listing (adapters/resources/s3_inventory.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from coffer.domain.inventory import InventoryManifest


class Inventories(Protocol):
    def newest_usable(self, bucket: str, now: datetime, max_age: timedelta,
                      listed_before: datetime | None) -> tuple[InventoryManifest | None, str, str]:
        """The newest inventory that may stand in for listing `bucket`: (manifest, its bucket, its key), or
        (None, "", why not)."""
        ...

    def manifest(self, where: str, key: str) -> InventoryManifest: ...

    def read(self, manifest: InventoryManifest, file_index: int, position: int,
             limit: int) -> tuple[list[dict[str, Any]], int, bool]:
        """At most `limit` objects of data file `file_index` from `position`: (items, next position, file done)."""
        ...
