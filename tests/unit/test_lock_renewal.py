"""The renewal rule of kept-forever recovery points (domain/lock_renewal.py), walked day by day for ten years.

Pure: the rule alone, as the daily sweep applies it (a renewal done the day it is due, or - the attacker's
chance - left undone for days because runs failed). The workflow itself is walked on moto in
tests/integration/test_kept_forever_locks.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coffer.domain.lifecycle import Lifecycle
from coffer.domain.lock_renewal import RENEWAL_HORIZON, RENEWAL_LEAD, kept_forever, renewal_target
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.resources import ResourceType

START = datetime(2026, 1, 1, 1, tzinfo=UTC)
FOREVER = Lifecycle()


def _rp(lifecycle: Lifecycle = FOREVER, status: RecoveryPointStatus = RecoveryPointStatus.COMPLETED,
        retain_days: int = 35) -> RecoveryPoint:
    return RecoveryPoint(recovery_point_id="rp", vault_name="Default", resource_arn="arn:aws:s3:::b",
                         resource_type=ResourceType.S3, status=status, creation_date=START, lifecycle=lifecycle,
                         delete_at=lifecycle.delete_at(START), retain_until=START + timedelta(days=retain_days),
                         job_id="job")


def test_a_daily_sweep_renews_a_kept_forever_lock_once_a_year_and_it_never_lapses() -> None:
    rp, renewals = _rp(), []
    for day in range(1, 10 * 365 + 1):
        now = START + timedelta(days=day, hours=11)
        until = renewal_target(rp, now)
        if until is not None:
            assert until > rp.retain_until  # only ever extends
            rp = rp.model_copy(update={"retain_until": until})
            renewals.append(day)
        assert rp.retain_until > now + RENEWAL_LEAD - timedelta(days=1), day  # never within a day of the lead
    assert renewals == [5 + k * 365 for k in range(10)]  # once a year: ten PutObjectRetention per object in ten


def test_a_renewal_left_undone_for_weeks_aims_at_the_same_date_and_the_lock_still_holds() -> None:
    rp = _rp()
    due = START + timedelta(days=5, hours=11)
    targets = {renewal_target(rp, due + timedelta(days=d)) for d in range(RENEWAL_LEAD.days - 1)}
    assert targets == {rp.retain_until + RENEWAL_HORIZON}  # a retried renewal re-sends nothing already extended
    assert rp.retain_until > due + timedelta(days=RENEWAL_LEAD.days - 2)  # still locked while runs fail


def test_a_lapsed_lock_is_renewed_from_now_not_from_the_past() -> None:
    rp = _rp(retain_days=35)
    later = START + timedelta(days=400)
    assert renewal_target(rp, later) == later + RENEWAL_HORIZON


def test_only_kept_forever_restorable_recovery_points_are_renewed() -> None:
    now = START + timedelta(days=30)
    assert renewal_target(_rp(Lifecycle(delete_after_days=100), retain_days=35), now) is None  # deleted on a date
    for status in (RecoveryPointStatus.DELETING, RecoveryPointStatus.EXPIRED, RecoveryPointStatus.CREATING):
        assert renewal_target(_rp(status=status), now) is None, status  # an expiry must not be kept alive
    assert kept_forever(_rp(Lifecycle(move_to_cold_storage_after_days=10)))
    assert renewal_target(_rp(), START + timedelta(days=4)) is None  # not yet within the lead
