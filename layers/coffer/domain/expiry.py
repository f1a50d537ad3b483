"""May a recovery point be expired or deleted now? The check every deletion path calls first.

The lifecycle sweeper expires recovery points whose delete date has come; the operator may
delete one early with `coffer vault bypass-governance`. Both ask `deletion_refusal` first. S3 refuses
the same deletions underneath (legal hold, COMPLIANCE retention, GOVERNANCE without bypass): this check
keeps Coffer from trying, and says why in words instead of an AccessDenied.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import RecoveryPoint


def deletion_refusal(rp: RecoveryPoint, legal_holds: Sequence[str], object_mode: LockMode, now: datetime,
                     bypass_governance: bool = False) -> str | None:
    """Why the recovery point may not be deleted now, or None. `object_mode` is the S3 Object Lock mode its
    objects were written in (its vault's: domain/vaults.py Vault.object_lock_mode)."""
    if legal_holds:
        return f"recovery point {rp.recovery_point_id} is under legal hold {', '.join(sorted(legal_holds))}"
    if now < rp.retain_until:
        until = rp.retain_until.isoformat()
        if object_mode is LockMode.COMPLIANCE:
            return f"recovery point {rp.recovery_point_id} is locked in COMPLIANCE mode until {until}"
        if not bypass_governance:
            return (f"recovery point {rp.recovery_point_id} is locked in GOVERNANCE mode until {until} "
                    "(only the audited operator command may bypass it)")
    return None


def due_for_expiry(rp: RecoveryPoint, legal_holds: Sequence[str], object_mode: LockMode, now: datetime) -> bool:
    """The sweeper's question: is the delete date here, and may it be deleted (no hold, lock over)?"""
    return rp.delete_at is not None and now >= rp.delete_at and \
        deletion_refusal(rp, legal_holds, object_mode, now) is None
