"""When a bucket's previous backup took its listing (adapters/catalog/listing_marks.py): an S3 Inventory older than
that never stands in for a listing."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class ListingMarkStore(Protocol):
    def listed_before(self, vault: str, bucket: str) -> datetime | None: ...

    def mark(self, vault: str, bucket: str, as_of: datetime) -> None:
        """Move the mark to `as_of`, only forward."""
        ...
