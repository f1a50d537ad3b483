"""The lifecycle sweeper's decision for one recovery point (domain/sweep.py), with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from coffer.domain.clock import FixedClock
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus, StorageClass
from coffer.domain.resources import ResourceType
from coffer.domain.sweep import BlobVerdict, SkipCategory, SweepAction, blob_verdict, decide, gc_blocker

CREATED = datetime(2025, 1, 1, tzinfo=UTC)
LIFECYCLE = Lifecycle(move_to_cold_storage_after_days=30, delete_after_days=365)
NO_COLD = "EBS has no cold tier here"


def point(**changes: object) -> RecoveryPoint:
    rp = RecoveryPoint(recovery_point_id="rp-1", vault_name="Default", resource_arn="arn:aws:ec2:::volume/vol-1",
                       resource_type=ResourceType.EBS, status=RecoveryPointStatus.COMPLETED, creation_date=CREATED,
                       lifecycle=LIFECYCLE, cold_at=LIFECYCLE.cold_at(CREATED), delete_at=LIFECYCLE.delete_at(CREATED),
                       retain_until=LIFECYCLE.retain_until(CREATED, 35), job_id="job-1")
    return rp.model_copy(update=changes)


def on_day(day: int, rp: RecoveryPoint | None = None, holds: tuple[str, ...] = (),
           mode: LockMode = LockMode.GOVERNANCE, cold_refusal: str | None = None) -> tuple[SweepAction, str, bool]:
    clock = FixedClock(CREATED + timedelta(days=day))
    decision = decide(rp or point(), holds, mode, clock.now(), cold_refusal)
    return decision.action, decision.reason, decision.skipped


def test_warm_until_cold_at_then_cold_then_expired_at_delete_at() -> None:
    assert on_day(29)[:2] == (SweepAction.KEEP, "not due")
    assert on_day(30)[0] is SweepAction.TRANSITION_TO_COLD
    assert "MoveToColdStorageAfterDays" in on_day(30)[1]
    cold = point(storage_class=StorageClass.COLD)
    assert on_day(200, cold)[:2] == (SweepAction.KEEP, "not due")
    assert on_day(364, cold)[0] is SweepAction.KEEP
    assert on_day(365, cold)[0] is SweepAction.EXPIRE
    assert "DeleteAfterDays" in on_day(365, cold)[1]


def test_expiry_wins_over_a_cold_move_that_never_happened() -> None:
    assert on_day(400)[0] is SweepAction.EXPIRE


def test_a_type_without_cold_storage_stays_warm_and_is_reported_skipped_with_the_adapters_reason() -> None:
    action, reason, skipped = on_day(31, cold_refusal=NO_COLD)
    assert (action, skipped) == (SweepAction.KEEP, True)
    assert NO_COLD in reason
    assert on_day(365, cold_refusal=NO_COLD)[0] is SweepAction.EXPIRE


def test_a_legal_hold_keeps_it_past_its_delete_date() -> None:
    action, reason, skipped = on_day(365, holds=("hold-b", "hold-a"))
    assert (action, skipped) == (SweepAction.KEEP, True)
    assert "legal hold hold-a, hold-b" in reason


@pytest.mark.parametrize("mode", [LockMode.GOVERNANCE, LockMode.COMPLIANCE])
def test_inside_the_vault_locks_minimum_retention_it_is_kept_never_bypassed(mode: LockMode) -> None:
    locked = point(retain_until=CREATED + timedelta(days=500))  # a vault lock's MinRetentionDays 500
    action, reason, skipped = on_day(365, locked, mode=mode)
    assert (action, skipped) == (SweepAction.KEEP, True)
    assert f"locked in {mode.value} mode" in reason
    assert on_day(500, locked, mode=mode)[0] is SweepAction.EXPIRE


@pytest.mark.parametrize("status", [RecoveryPointStatus.CREATING, RecoveryPointStatus.EXPIRED])
def test_only_completed_or_partial_recovery_points_are_acted_on(status: RecoveryPointStatus) -> None:
    action, _, skipped = on_day(400, point(status=status))
    assert (action, skipped) == (SweepAction.KEEP, False)
    assert on_day(400, point(status=RecoveryPointStatus.PARTIAL))[0] is SweepAction.EXPIRE


def test_kept_indefinitely_without_dates() -> None:
    forever = point(lifecycle=Lifecycle(), cold_at=None, delete_at=None)
    assert on_day(10_000, forever)[:2] == (SweepAction.KEEP, "not due")


def test_a_recovery_point_left_deleting_is_finished_once_nothing_refuses_it() -> None:
    # an expiry interrupted midway, or a failed backup's leftovers (FailJob): finished even before its delete date
    deleting = point(status=RecoveryPointStatus.DELETING)
    assert on_day(400, deleting)[0] is SweepAction.EXPIRE
    assert "left DELETING" in on_day(400, deleting)[1]
    early = point(status=RecoveryPointStatus.DELETING, retain_until=CREATED + timedelta(days=35))
    assert on_day(40, early)[0] is SweepAction.EXPIRE  # its lock has passed, before its delete date
    # still locked: kept DELETING, skipped with the lock as the reason, picked up again by a later run
    action, reason, skipped = on_day(10, early, mode=LockMode.COMPLIANCE)
    assert (action, skipped) == (SweepAction.KEEP, True)
    assert "left DELETING" in reason and "locked in COMPLIANCE mode" in reason
    decision = decide(early, (), LockMode.GOVERNANCE, CREATED + timedelta(days=10), None)
    assert decision.category is SkipCategory.LOCKED


def test_skips_are_counted_by_category() -> None:
    def category(day: int) -> SkipCategory | None:
        return decide(point(), (), LockMode.GOVERNANCE, CREATED + timedelta(days=day), NO_COLD).category

    assert decide(point(), ("h",), LockMode.GOVERNANCE, CREATED + timedelta(days=365), None).category \
        is SkipCategory.LEGAL_HOLD
    assert category(31) is SkipCategory.NO_COLD_TIER
    assert category(100) is SkipCategory.NO_COLD_TIER
    assert category(10) is None  # not due: kept, not skipped


CUTOFF = CREATED + timedelta(days=400)


def test_a_blob_version_is_collected_only_unheld_and_locked_no_later_than_the_cutoff() -> None:
    assert blob_verdict(CUTOFF, False, CUTOFF) is BlobVerdict.COLLECT
    assert blob_verdict(CUTOFF - timedelta(days=1), False, CUTOFF) is BlobVerdict.COLLECT
    assert blob_verdict(CUTOFF + timedelta(seconds=1), False, CUTOFF) is BlobVerdict.LOCKED
    assert blob_verdict(CUTOFF - timedelta(days=1), True, CUTOFF) is BlobVerdict.HELD
    assert blob_verdict(None, False, CUTOFF) is BlobVerdict.UNLOCKED


def test_restorable_blob_readers_past_their_lock_block_blob_collection_in_their_vault() -> None:
    now = CUTOFF + timedelta(hours=1)
    expired = point(status=RecoveryPointStatus.EXPIRED)
    assert gc_blocker(expired, True, now, CUTOFF, False) is None
    assert gc_blocker(point(status=RecoveryPointStatus.DELETING), True, now, CUTOFF, False) is None
    assert gc_blocker(point(), False, now, CUTOFF, False) is None  # native: no blobs
    future = point(retain_until=CUTOFF + timedelta(seconds=1))
    assert gc_blocker(future, True, now, CUTOFF, False) is None  # its blobs are locked past the cutoff
    # due but still restorable (a restore held it, or its expiry failed): blocks unless every hold is ACTIVE
    assert "due for deletion but still restorable" in (gc_blocker(point(), True, now, CUTOFF, False) or "")
    assert gc_blocker(point(), True, now, CUTOFF, True) is None
    # kept forever past its default lock: blocks, held or not (nothing extends its blobs' locks yet)
    forever = point(lifecycle=Lifecycle(), cold_at=None, delete_at=None)
    assert "kept past its lock" in (gc_blocker(forever, True, now, CUTOFF, True) or "")
    assert gc_blocker(point(status=RecoveryPointStatus.PARTIAL), True, now, CUTOFF, False) is not None
