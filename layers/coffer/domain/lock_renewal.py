"""Kept forever, locked forever: when the Object Lock of a recovery point without DeleteAfterDays is renewed.

A recovery point with no DeleteAfterDays is kept indefinitely, but S3 Object Lock has no "forever": at backup its
objects (manifest, parts, the blobs its entries name, amendments, a copy's export files) are locked for the
vault's default period (domain/lifecycle.py `retain_until`). The lifecycle sweep renews that lock before it runs
out, so the vault never holds a kept-forever recovery point whose data S3 would let anyone delete.

Amortised: a renewal extends the lock by RENEWAL_HORIZON (a year) and starts RENEWAL_LEAD (30 days) before the
lock would run out, so a daily sweep sends one PutObjectRetention per object about once a year, and none on the
364 other days (the catalog's retain_until says when, no S3 call needed to know). The target is a function of
the recorded retain-until (not of today), so a renewal that takes several runs (a batch failed for good) aims
at the same date every time and re-sends nothing already extended.

The work is spread by the sweep's Distributed Map (services/lock_renewal.py): the SweepBatch that finds a
recovery point due writes one item per manifest part (the part and its blobs, at most BatchSize of them) and one
per RENEW_KEYS other objects; each RenewLocks child renews one item; the child that finishes the recovery
point's last item renews its manifest and only then records the new retain-until in the catalog. The catalog
never claims a lock longer than every object's (blob GC and expiry trust it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus

#: how far a renewal extends a kept-forever recovery point's lock (from its current retain-until)
RENEWAL_HORIZON = timedelta(days=365)
#: how long before its lock runs out a kept-forever recovery point is renewed: room for runs that fail
RENEWAL_LEAD = timedelta(days=30)
#: objects other than parts (amendments, a copy's export files) per renewal item
RENEW_KEYS = 1000
#: renewal items one SweepBatch may write per recovery point index (item seq = batch seq * this + n)
ITEMS_PER_BATCH = 100_000

_KEPT = (RecoveryPointStatus.COMPLETED, RecoveryPointStatus.PARTIAL)


def kept_forever(rp: RecoveryPoint) -> bool:
    """A restorable recovery point without a delete date (no DeleteAfterDays)."""
    return rp.status in _KEPT and rp.delete_at is None and rp.lifecycle.delete_after_days is None


def renewal_target(rp: RecoveryPoint, now: datetime) -> datetime | None:
    """The date a kept-forever recovery point's objects are to be locked until, if its renewal is due at `now`
    (its lock runs out within RENEWAL_LEAD), else None. One horizon past the recorded retain-until - or past
    now, for one whose lock has lapsed already (made before renewals existed)."""
    if not kept_forever(rp) or now < rp.retain_until - RENEWAL_LEAD:
        return None
    return max(rp.retain_until, now) + RENEWAL_HORIZON


class RenewBatchResult(BaseModel):
    run_id: str
    seq: int
    recovery_point_id: str
    #: objects whose lock this item made longer (one PutObjectRetention each)
    extended: int
    #: objects already locked long enough (read, not written)
    already: int
    #: True when this item was the recovery point's last: its manifest renewed and the catalog updated
    completed: bool
