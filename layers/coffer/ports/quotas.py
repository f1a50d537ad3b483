"""Counting semaphores in the catalog: AWS's limits on copies and snapshots in progress
(adapters/catalog/copy_quota.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from coffer.domain.jobs import Job


@dataclass(frozen=True)
class SlotRelease:
    """A slot `job_id` holds of semaphore `key`, given back in the same write that ends the job (Catalog.save_job)."""

    key: str
    job_id: str


class SlotQuotas(Protocol):
    def acquire(self, key: str, job_id: str, limit: int, now: datetime,
                ended: Callable[[str], bool] | None = None) -> list[str] | None:
        """Take a slot of `key` for `job_id`: None when it holds one (taking it again counts once), else the jobs
        holding all `limit` slots. `ended(job_id)` says whether a holder's job is over: its slot is taken back
        before giving up. Concurrent acquires never exceed `limit`."""
        ...

    def holders(self, key: str) -> dict[str, str]:
        """job id -> when it took its slot."""
        ...

    def release_for(self, job: Job) -> list[SlotRelease]:
        """What gives `job`'s slots back when it ends: a copy job's copy slot, a backup job's snapshot slots."""
        ...

    def release_now(self, key: str, job_id: str) -> None:
        """Give a slot back outside a job's ending (harmless when not held)."""
        ...
