"""Continuous backups' records: each resource's protection and each S3 bucket's change journal
(adapters/catalog/continuous.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from coffer.domain.continuous import JournalEntry, Protection


class ContinuousStore(Protocol):
    def get_protection(self, resource_arn: str) -> Protection | None: ...

    def save_protection(self, protection: Protection) -> Protection:
        """Create (version 0: one per resource) or change it from the version read; ConcurrentUpdate otherwise."""
        ...

    def protections(self, vault_name: str) -> Iterator[Protection]: ...

    def journal_blobs(self, recovery_point_id: str, page_size: int = 1000) -> Iterator[str]:
        """The SHA-256 of every version the journal keeps in the vault."""
        ...

    def append(self, recovery_point_id: str, entry: JournalEntry) -> bool:
        """Append one change, once: False if this very change (key and sequencer) is there already."""
        ...

    def has_entry(self, recovery_point_id: str, sort_key: str) -> bool: ...

    def journal_page(self, recovery_point_id: str, after: str | None,
                     limit: int) -> tuple[list[tuple[str, JournalEntry]], str | None]:
        """One page in sort key order after `after`: ([(sort key, entry)], the last key or None when done)."""
        ...
