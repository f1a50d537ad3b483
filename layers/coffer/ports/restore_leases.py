"""Restores and expiry of one recovery point never overlap (adapters/catalog/restore_leases.py)."""

from __future__ import annotations

from typing import Protocol

from coffer.domain.recovery_points import RecoveryPoint


class RestoreLeaseStore(Protocol):
    def begin_restore(self, recovery_point_id: str, job_id: str) -> None:
        """Hold the recovery point for a restore (or copy) job - again: no-op. RecoveryPointDeleting when it is not
        COMPLETED or PARTIAL, or an expiry has begun."""
        ...

    def end_restore(self, recovery_point_id: str, job_id: str) -> None:
        """Release the job's hold (a second call, or one for a job that held nothing, changes nothing)."""
        ...

    def restores(self, recovery_point_id: str) -> list[str]:
        """The jobs holding the recovery point now, sorted."""
        ...

    def begin_expiry(self, recovery_point: RecoveryPoint, by: str) -> RecoveryPoint:
        """Mark it DELETING for `by` unless a restore holds it (RecoveryPointInUse naming them); ConcurrentUpdate when
        it changed since it was read. Returns the recovery point as stored."""
        ...
