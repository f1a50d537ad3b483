"""Where a parked native backup leaves its task token for the event that ends its snapshot (domain/native_waits.py;
adapters/catalog/native_waiters.py)."""

from __future__ import annotations

from typing import Protocol


class NativeWaiters(Protocol):
    def mark_done(self, native_ref: str, done_at: str, ttl: int) -> tuple[str | None, str | None]:
        """Record that the artefact's operation has ended (confirmed by its owner's Describe) and read back, in the
        same write, who waits on it: (job id, task token), each None when no workflow has parked on it yet (it
        then finds the mark when it tries to park, and checks again instead)."""
        ...
