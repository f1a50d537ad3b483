"""The catalog's jobs, recovery points, resource leases, batch results and S3 object index
(adapters/catalog/dynamodb.py).

Every state change is a conditional write: a second delivery of an event, a retried step or a racing writer is
refused by the store, not by luck.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from coffer.domain.errors import CofferError
from coffer.domain.jobs import Job
from coffer.domain.recovery_points import RecoveryPoint
from coffer.ports.quotas import SlotRelease


class DuplicateRequest(CofferError):
    """The idempotency token already made a job (the same request again); carries that job."""

    def __init__(self, job: Job) -> None:
        self.job = job
        super().__init__(f"request already made job {job.job_id}")


class IndexedObjects(NamedTuple):
    """A listing batch's object-index records, and the keys of records between its first and last key that it did
    not ask for (objects gone from the source since their last backup, when the batch is a listing's page)."""

    records: dict[str, dict[str, Any]]
    others: list[str]


class Catalog(Protocol):
    # ---- jobs and the resource lease ------------------------------------------------------------
    def create_job(self, job: Job, fingerprint: str, take_lease: bool, ttl: int, announce: bool = True) -> Job:
        """Write a new job, its idempotency record and (with `take_lease`) the resource's lease, all or nothing.

        DuplicateRequest when the token was seen with the same `fingerprint`, IdempotencyConflict when it was seen
        with another (or the job id exists), ResourceBusy naming the holder when another job holds the lease.
        `announce=False`: its transitions are written not yet announced, and go out with the job's next write (a
        caller that writes it again at once: one PutEvents for both)."""
        ...

    def get_job(self, job_id: str) -> Job:
        """NotFound if there is none."""
        ...

    def save_job(self, job: Job, release_lease: bool = False, recovery_point: RecoveryPoint | None = None,
                 also: Sequence[SlotRelease] = ()) -> Job:
        """Write the job's next version - only from the version it was read at (else ConcurrentUpdate) - and with it,
        atomically, the recovery point, the lease release (only by its holder) and the slots given back. A backup
        job written in a terminal state wakes the jobs queued behind it (the listener given at construction)."""
        ...

    def announce_again(self, job: Job) -> None:
        """Announce the job's latest transition again (a job event, deduped by its stateVersion): a retried step that
        finds its own ending write done - its answer lost - owes the event that write's announcement may have
        missed."""
        ...

    def take_lease(self, resource_arn: str, job_id: str, stale_holder: str | None = None) -> str | None:
        """Take the resource's lease for `job_id` (its holder again: no-op); None on success, else the holder's id.
        With `stale_holder` it is taken over only from that job."""
        ...

    def lease_holder(self, resource_arn: str) -> str | None: ...

    def list_jobs(self, day: datetime) -> Iterator[Job]:
        """The jobs created on `day` (UTC date), newest first."""
        ...

    # ---- recovery points --------------------------------------------------------------------------
    def put_recovery_point(self, rp: RecoveryPoint) -> None:
        """Create (version 0) or change it from the version read; ConcurrentUpdate otherwise."""
        ...

    def get_recovery_point(self, recovery_point_id: str) -> RecoveryPoint:
        """NotFound if there is none."""
        ...

    def list_recovery_points(self, vault_name: str) -> Iterator[RecoveryPoint]:
        """The vault's recovery points, newest first."""
        ...

    def recovery_points_page(self, vault_name: str, token: str | None,
                             limit: int = 100) -> tuple[list[RecoveryPoint], str | None]:
        """One page of the vault's recovery points, oldest first, and the next page's token (None: done)."""
        ...

    # ---- batch results ----------------------------------------------------------------------------
    def put_part(self, job_id: str, seq: int, doc: dict[str, Any]) -> None:
        """One batch's outcome; a retried batch overwrites its own record with the same facts."""
        ...

    def get_part(self, job_id: str, seq: int) -> dict[str, Any] | None:
        """One batch's outcome record, None if it was never recorded."""
        ...

    def list_parts(self, job_id: str) -> Iterator[dict[str, Any]]:
        """The job's batch results in `seq` order (consistent reads)."""
        ...

    # ---- S3 object index (incremental backups) ----------------------------------------------------
    def get_objects(self, vault: str, bucket: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The last backed-up facts of these keys (those known): key -> record."""
        ...

    def objects_in_range(self, vault: str, bucket: str, keys: Sequence[str]) -> IndexedObjects:
        """The records of these keys (a listing batch: neighbours in key order), read as their range, and the keys of
        the other records found between the first and the last of them."""
        ...

    def put_objects(self, vault: str, bucket: str, records: dict[str, dict[str, Any]]) -> None: ...

    def forget_objects(self, vault: str, bucket: str, keys: Sequence[str]) -> None:
        """Drop these keys' records (objects gone from the source): nothing happens for a key without one."""
        ...
