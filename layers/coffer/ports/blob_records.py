"""What Coffer recorded about the vault's content-addressed blobs, so that a new object's content is found in the
vault without a HeadObject per object (services/object_batches.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class BlobRecords(Protocol):
    def get_blobs(self, vault: str, shas: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The records of these blobs (those known), batched: sha256 -> {version_id, retain_until, lock_mode,
        warm_until}."""
        ...

    def put_blobs(self, vault: str, records: dict[str, dict[str, Any]]) -> None:
        """Write these blobs' records (batched); a record replaces the one before."""
        ...
