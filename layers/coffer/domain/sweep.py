"""The lifecycle sweeper's decision for one recovery point: move to cold, expire, or keep - and why.

AWS Backup's rules (domain/lifecycle.py): cold at creation + MoveToColdStorageAfterDays, deleted at creation +
DeleteAfterDays, at least 90 days in cold (the Lifecycle model refuses less). On top of them:

- expiry asks domain/expiry.py `deletion_refusal` (the same check every deletion path calls): never one under a
  legal hold, never one whose objects are still Object-Locked (its retain-until, which is at least the vault
  lock's MinRetentionDays);
- cold storage only for types whose adapter declares Capability.COLD_STORAGE (others stay warm, with the
  adapter's refusal as the reason, as AWS Backup keeps them warm);
- expiry wins over cold: a recovery point whose delete date has come is never moved first;
- only COMPLETED and PARTIAL recovery points are acted on (CREATING is not finished, EXPIRED is gone); a
  continuous recovery point has neither date and is kept;
- a DELETING recovery point (an expiry interrupted midway, one left DELETING because a part was still locked,
  or a failed backup's leftovers recorded by FailJob) is expired again - finished - as soon as nothing refuses it.

Blob garbage collection (`blob_verdict`, `gc_blocker`): blobs are content-addressed and shared; every backup
extends a blob's Object Lock to its own recovery point's retain-until before the recovery point completes, so a
blob version whose retain-until has passed is referenced by no recovery point whose retain-until is still ahead.
Those whose retain-until has passed too and that are still restorable (kept forever past their default lock,
due but held by a restore or refused, continuous ones) *block* collection in their vault for the run - except a
due recovery point whose legal holds are all ACTIVE (S3 legal holds are ON on its blob versions, and S3 refuses
deleting them). The workflow passes `cutoff` = the run's start: only versions locked until no later than it
are collected, and every recovery point with retain-until <= cutoff was seen by the sweep stage first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from coffer.domain.expiry import deletion_refusal
from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus, StorageClass

_ACTIVE = (RecoveryPointStatus.COMPLETED, RecoveryPointStatus.PARTIAL)

#: Recovery point ids per batch file, i.e. per SweepBatch invocation (each costs a few catalog calls; an expiring
#: S3 recovery point also one HeadObject and one DeleteObject per version under its prefix: parts, manifest).
SWEEP_BATCH = 100
#: Blob versions per batch file, i.e. per CollectBlobs invocation (one HeadObject each, a DeleteObject per collected).
GC_BATCH = 1000
#: Object versions one SweepBatch invocation deletes at most (HeadObject + DeleteObject each) when it expires S3
#: recovery points: a recovery point of a million objects has about 1,000 parts; what is left waits, DELETING,
#: for the next run (a recovery point left DELETING is finished by a later run).
VERSION_BUDGET = 2000


# ---- skip reasons, counted per category in a run's totals -----------------------------------------------
class SkipCategory(StrEnum):
    LEGAL_HOLD = "legal_hold"
    LOCKED = "locked"
    RESTORE = "restore"
    NO_COLD_TIER = "no_cold_tier"
    #: an S3 expiry that reached its batch's deletion budget: left DELETING, the next run goes on
    DEFERRED = "deferred"
    ERROR = "error"


def refusal_category(legal_holds: Sequence[str]) -> SkipCategory:
    """deletion_refusal refuses for a legal hold first, else for the Object Lock."""
    return SkipCategory.LEGAL_HOLD if legal_holds else SkipCategory.LOCKED


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
    category: SkipCategory | None = None


def decide(rp: RecoveryPoint, legal_holds: Sequence[str], object_mode: LockMode, now: datetime,
           cold_refusal: str | None) -> SweepDecision:
    """What the sweeper does with `rp` at `now`.

    `legal_holds`: ids of the holds covering it; `object_mode`: the Object Lock mode its objects were written in
    (its vault's); `cold_refusal`: None when the type's adapter declares COLD_STORAGE, else the adapter's reason.
    """
    rid = rp.recovery_point_id

    def keep(reason: str, category: SkipCategory | None = None) -> SweepDecision:
        return SweepDecision(rid, SweepAction.KEEP, reason, category is not None, category)

    if rp.status is RecoveryPointStatus.DELETING:
        # an expiry that did not finish (interrupted, or a part still locked) or a failed backup's leftovers
        refusal = deletion_refusal(rp, legal_holds, object_mode, now, bypass_governance=False)
        if refusal is not None:
            return keep(f"left DELETING: {refusal}", refusal_category(legal_holds))
        return SweepDecision(rid, SweepAction.EXPIRE, "finishing the expiry of a recovery point left DELETING")
    if rp.status not in _ACTIVE:
        return keep(f"status {rp.status.value}: nothing to do")
    if rp.delete_at is not None and now >= rp.delete_at:
        # the sweeper never bypasses governance: only the audited operator command does
        refusal = deletion_refusal(rp, legal_holds, object_mode, now, bypass_governance=False)
        if refusal is not None:
            return keep(f"due for deletion since {rp.delete_at.isoformat()} but {refusal}",
                        refusal_category(legal_holds))
        return SweepDecision(rid, SweepAction.EXPIRE, f"DeleteAfterDays reached ({rp.delete_at.isoformat()})")
    if rp.cold_at is not None and now >= rp.cold_at and rp.storage_class is StorageClass.WARM:
        if cold_refusal is not None:
            return keep(f"due for cold storage since {rp.cold_at.isoformat()} but {cold_refusal}",
                        SkipCategory.NO_COLD_TIER)
        return SweepDecision(rid, SweepAction.TRANSITION_TO_COLD,
                             f"MoveToColdStorageAfterDays reached ({rp.cold_at.isoformat()})")
    return keep("not due")



# ---- blob garbage collection ------------------------------------------------------------------------
class BlobVerdict(StrEnum):
    COLLECT = "COLLECT"
    HELD = "HELD"
    LOCKED = "LOCKED"
    UNLOCKED = "UNLOCKED"  # no retention at all: nothing says it is unreferenced, kept and reported


def blob_verdict(retain_until: datetime | None, legal_hold: bool, cutoff: datetime) -> BlobVerdict:
    """What GC does with one blob version: collect it only when no legal hold is on it and its retain-until
    is no later than `cutoff` (the run's start; see the module docstring)."""
    if legal_hold:
        return BlobVerdict.HELD
    if retain_until is None:
        return BlobVerdict.UNLOCKED
    return BlobVerdict.COLLECT if retain_until <= cutoff else BlobVerdict.LOCKED


def gc_blocker(rp: RecoveryPoint, references_blobs: bool, now: datetime, cutoff: datetime,
               holds_all_active: bool) -> str | None:
    """Why `rp` (as the sweep stage left it) keeps blob GC out of its vault in this run, or None.

    A restorable recovery point that references blobs and whose retain-until is no later than `cutoff` may
    reference blob versions whose lock has passed. Exempt: one due for deletion whose legal holds are all
    ACTIVE (every blob version it had when held carries an S3 legal hold that S3 itself enforces).
    """
    if not references_blobs or rp.status not in _ACTIVE or rp.retain_until > cutoff:
        return None
    due = rp.delete_at is not None and now >= rp.delete_at
    if due and holds_all_active:
        return None
    if rp.delete_at is None:
        why = "kept past its lock (no DeleteAfterDays: its lock lapsed before it was renewed)"
    elif due:
        why = "due for deletion but still restorable"
    else:
        why = "locked for less long than it is kept"
    return f"recovery point {rp.recovery_point_id} retained until {rp.retain_until.isoformat()}, {why}"


# ---- the Sweep workflow's payloads ----------------------------------------------------------------------
class _Step(BaseModel):
    # Step Functions adds fields (errors, map results) to the state; a step reads only what it needs.
    model_config = ConfigDict(extra="ignore")


class SweepPhase(StrEnum):
    RECOVERY_POINTS = "recovery_points"
    #: the lock renewals of kept-forever recovery points the sweep stage found due (domain/lock_renewal.py)
    RENEWALS = "renewals"
    BLOBS = "blobs"


class ListSweepItemsStep(_Step):
    run_id: str = Field(min_length=1)
    phase: SweepPhase = SweepPhase.RECOVERY_POINTS
    token: str | None = None
    next_seq: int = Field(default=0, ge=0)


class ListSweepItemsResult(BaseModel):
    run_id: str
    phase: SweepPhase
    token: str | None
    next_seq: int
    more: bool
    items_prefix: str


class SweepBatchStep(_Step):
    run_id: str = Field(min_length=1)
    batch_key: str = Field(min_length=1)


class SweepBatchResult(BaseModel):
    run_id: str
    seq: int
    moved: int
    expired: int
    skipped: int
    kept: int


class CollectBlobsResult(BaseModel):
    run_id: str
    seq: int
    versions: int
    deleted: int
    bytes_freed: int
    kept: int


class CompleteSweepStep(_Step):
    run_id: str = Field(min_length=1)
    error: dict[str, str] | None = None


class SweepRunSummary(BaseModel):
    run_id: str
    state: str
    started_at: str
    completed_at: str | None = None
    batches: int = 0
    batches_expected: int | None = None
    moved: int = 0
    expired: int = 0
    skipped: int = 0
    kept: int = 0
    skipped_by: dict[str, int] = Field(default_factory=dict)
    blob_batches: int = 0
    blob_batches_expected: int | None = None
    blobs_deleted: int = 0
    blobs_kept: int = 0
    bytes_freed: int = 0
    gc_skipped: dict[str, str] = Field(default_factory=dict)
    #: lock renewal items recorded / written by the sweep stage; locks extended; recovery points renewed
    renewal_items: int = 0
    renewal_items_expected: int = 0
    locks_extended: int = 0
    renewals_completed: int = 0
    error: str | None = None
