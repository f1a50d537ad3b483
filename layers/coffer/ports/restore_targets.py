"""What ResumeNative reads to confirm that a restore's target has ended (domain/native_waits.py): the volume, DB
instance or DB cluster a restore job made, by its ARN. Implemented by the EBS adapter and the RDS family's
(adapters/resources/ebs.py, rds_snapshots.py); a type without a restore end event has no such reader."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from coffer.ports.resources import OperationStatus


@runtime_checkable
class RestoreTargets(Protocol):
    def target_status(self, native_ref: str) -> OperationStatus:
        """The target's state by its ARN, with one Describe: done when it is available; its details name the
        restore job whose tag it carries (``restore_job_id``, None: not made by a Coffer restore) and, for a target
        that failed, why (``failed``: its state; not done). One that is not there: NotFound."""
        ...
