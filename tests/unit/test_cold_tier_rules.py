"""Cold storage rules for shared blobs (domain/cold_tier.py): warm-until only grows, and only a blob whose
warm-until has passed may be archived."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from coffer.domain.cold_tier import (
    NEVER,
    BlobTier,
    blob_tier,
    may_go_cold,
    parse_day,
    raised_warm_until,
    thaw_outcome,
    warm_until_needed,
)


def test_a_recovery_point_needs_its_blobs_warm_until_its_whole_cold_day_or_forever() -> None:
    assert warm_until_needed(datetime(2026, 3, 1, tzinfo=UTC)) == date(2026, 3, 1)
    assert warm_until_needed(datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC)) == date(2026, 3, 2)
    assert warm_until_needed(None) == NEVER


def test_warm_until_is_raised_with_a_weeks_slack_and_never_lowered() -> None:
    assert raised_warm_until(None, date(2026, 3, 1)) == date(2026, 3, 8)
    assert raised_warm_until(date(2026, 3, 8), date(2026, 3, 5)) is None  # covered: no write
    assert raised_warm_until(date(2026, 3, 8), date(2026, 3, 9)) == date(2026, 3, 16)
    assert raised_warm_until(date(2026, 3, 8), NEVER) == NEVER
    assert raised_warm_until(NEVER, date(2026, 3, 9)) is None


def test_only_a_blob_whose_warm_until_has_passed_may_go_cold() -> None:
    now = datetime(2026, 3, 8, 12, tzinfo=UTC)
    assert may_go_cold(date(2026, 3, 8), now)
    assert not may_go_cold(date(2026, 3, 9), now)
    assert not may_go_cold(None, now)  # untagged (written before cold storage existed): kept warm
    assert not may_go_cold(parse_day("not a date"), now)


@pytest.mark.parametrize(("storage_class", "restore", "tier"), [
    (None, None, BlobTier.ACTIVE),
    ("STANDARD", None, BlobTier.ACTIVE),
    ("GLACIER", None, BlobTier.ARCHIVED),
    ("DEEP_ARCHIVE", 'ongoing-request="true"', BlobTier.RESTORING),
    ("GLACIER", 'ongoing-request="false", expiry-date="Fri, 21 Dec 2026 00:00:00 GMT"', BlobTier.ACTIVE),
])
def test_a_blobs_tier_is_read_from_its_class_and_restore_header(storage_class: str | None, restore: str | None,
                                                                 tier: BlobTier) -> None:
    assert blob_tier(storage_class, restore) is tier


def test_restore_object_answers_say_whether_the_blob_is_readable() -> None:
    assert thaw_outcome("200").ready and thaw_outcome("InvalidObjectState").ready
    assert not thaw_outcome("202").ready and not thaw_outcome("RestoreAlreadyInProgress").ready
    with pytest.raises(ValueError, match="unexpected RestoreObject answer"):
        thaw_outcome("500")
