"""Which objects' tags changed, as S3's tag events said (domain/tag_freshness.py has the rules that use them)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class TagMarks(Protocol):
    def note(self, bucket: str, key: str, at: datetime) -> None:
        """Record that `key`'s tags changed, noted at `at` (Coffer's clock when the event arrived; a later note of
        the same key replaces it). Marks expire by themselves after the refresh period (they are useless then)."""
        ...

    def noted_between(self, bucket: str, first: str, last: str) -> dict[str, datetime]:
        """The marks of keys from `first` to `last` (inclusive, S3's key order): key -> when noted. One Query a
        batch (paged), not one read per key."""
        ...
