"""The lifecycle sweeper's decision for one recovery point (issue 7): move to cold, expire, or keep - and why.

AWS Backup's rules (domain/lifecycle.py): cold at creation + MoveToColdStorageAfterDays, deleted at creation +
DeleteAfterDays, at least 90 days in cold (the Lifecycle model refuses less). On top of them:

- expiry asks domain/expiry.py `deletion_refusal` (the same check every deletion path calls): never one under a
  legal hold, never one whose objects are still Object-Locked (its retain-until, which is at least the vault
  lock's MinRetentionDays);
- cold storage only for types whose adapter declares Capability.COLD_STORAGE (others stay warm, with the
  adapter's refusal as the reason, as AWS Backup keeps them warm);
- expiry wins over cold: a recovery point whose delete date has come is never moved first;
- only COMPLETED and PARTIAL recovery points are acted on (CREATING is not finished, EXPIRED/DELETING are
  someone else's or already gone); a continuous recovery point has neither date and is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from coffer.domain.expiry import deletion_refusal
from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus, StorageClass

_ACTIVE = (RecoveryPointStatus.COMPLETED, RecoveryPointStatus.PARTIAL)


class SweepAction(StrEnum):
    TRANSITION_TO_COLD = "TRANSITION_TO_COLD"
    EXPIRE = "EXPIRE"
    KEEP = "KEEP"


@dataclass(frozen=True)
class SweepDecision:
    recovery_point_id: str
    action: SweepAction
    reason: str
    #: KEEP only: True when something was due but refused (hold, lock, no cold tier) - the run's "skipped"
    skipped: bool = False


def decide(rp: RecoveryPoint, legal_holds: Sequence[str], object_mode: LockMode, now: datetime,
           cold_refusal: str | None) -> SweepDecision:
    """What the sweeper does with `rp` at `now`.

    `legal_holds`: ids of the holds covering it; `object_mode`: the Object Lock mode its objects were written in
    (its vault's); `cold_refusal`: None when the type's adapter declares COLD_STORAGE, else the adapter's reason.
    """
    rid = rp.recovery_point_id

    def keep(reason: str, skipped: bool = False) -> SweepDecision:
        return SweepDecision(rid, SweepAction.KEEP, reason, skipped)

    if rp.status not in _ACTIVE:
        return keep(f"status {rp.status.value}: nothing to do")
    if rp.delete_at is not None and now >= rp.delete_at:
        # the sweeper never bypasses governance: only the audited operator command does
        refusal = deletion_refusal(rp, legal_holds, object_mode, now, bypass_governance=False)
        if refusal is not None:
            return keep(f"due for deletion since {rp.delete_at.isoformat()} but {refusal}", skipped=True)
        return SweepDecision(rid, SweepAction.EXPIRE, f"DeleteAfterDays reached ({rp.delete_at.isoformat()})")
    if rp.cold_at is not None and now >= rp.cold_at and rp.storage_class is StorageClass.WARM:
        if cold_refusal is not None:
            return keep(f"due for cold storage since {rp.cold_at.isoformat()} but {cold_refusal}", skipped=True)
        return SweepDecision(rid, SweepAction.TRANSITION_TO_COLD,
                             f"MoveToColdStorageAfterDays reached ({rp.cold_at.isoformat()})")
    return keep("not due")

