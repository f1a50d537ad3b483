"""Queued backups waiting for their turn: a FIFO per resource or volume, woken by the job that frees it
(adapters/catalog/turns.py: catalog records plus Step Functions task tokens)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from coffer.domain.jobs import Job


class Turns(Protocol):
    def enter(self, key: str, queued_at: datetime, job_id: str, token: str) -> None:
        """Wait in `key`'s queue, in the order jobs were first queued, with the task token that wakes the job."""
        ...

    def leave(self, key: str, queued_at: datetime, job_id: str) -> None: ...

    def ahead(self, key: str, queued_at: datetime, job_id: str) -> int:
        """How many jobs wait before this one in `key`'s queue."""
        ...

    def waiting(self, key: str) -> list[str]:
        """Job ids waiting in `key`'s queue, oldest first."""
        ...

    def wake_next(self, key: str) -> str | None:
        """Wake the oldest job waiting in `key`'s queue (one waker per waiter); its id, or None."""
        ...

    def after_backup_ended(self, job: Job) -> None:
        """A backup job ended: leave its own place and wake the head of each queue it freed. A wake-up that cannot
        be sent is logged, not raised (the waiter asks again on its own)."""
        ...

    def wake(self, token: str) -> bool:
        """Resume a parked WaitForTurn task; False when nobody waits on that token any more."""
        ...
