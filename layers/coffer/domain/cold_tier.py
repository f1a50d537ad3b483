"""Cold storage for object data (S3 recovery points): which blobs go to the archive tier, and when.

Blobs are content-addressed and shared: one blob can belong to many recovery points of many keys, buckets and
rules. A blob may go cold only when every recovery point referencing it is cold, so each blob carries a
`coffer:warm-until` tag: the latest cold date of the recovery points referencing it (NEVER if one of them never
goes cold). Backups raise it (never lower it), with a few days' slack so that a daily plan re-tags an unchanged
object about once a week rather than every day; the slack only delays archiving, it never archives early.

When a recovery point goes cold, each of its blobs whose warm-until has passed is tagged `coffer:tier=cold`, and
the vault bucket's S3 lifecycle rule for that tag transitions it in place to the archive storage class: same
version, same Object Lock retention, no second copy (a CopyObject to a colder class would keep the locked warm
version too, doubling storage until its lock passes). Restoring reads each archived blob back first
(RestoreObject, then the copy once S3 says it is back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

#: blob tags (object tags are not covered by Object Lock: changing them never touches the locked bytes)
WARM_UNTIL_TAG = "coffer:warm-until"
TIER_TAG = "coffer:tier"
COLD = "cold"
#: warm-until of a blob referenced by a recovery point that never goes cold
NEVER = date(9999, 12, 31)
#: raised warm-until dates overshoot by this much, so unchanged objects are re-tagged about once a week
WARM_SLACK = timedelta(days=7)
#: S3's archive storage classes (their objects must be restored before they can be read or copied)
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


def warm_until_needed(cold_at: datetime | None) -> date:
    """The warm-until a recovery point with this cold date asks of its blobs (a whole day, rounded up)."""
    if cold_at is None:
        return NEVER
    day = cold_at.astimezone(UTC).date()
    return day if cold_at.astimezone(UTC).time() == datetime.min.time() else day + timedelta(days=1)


def raised_warm_until(current: date | None, needed: date) -> date | None:
    """The warm-until to write when a recovery point needs `needed`; None when `current` already covers it."""
    if current is not None and current >= needed:
        return None
    return NEVER if needed == NEVER else min(needed + WARM_SLACK, NEVER)


def parse_day(value: str | None) -> date | None:
    """A tag or record value written by `format_day`; None for a missing or foreign value."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def format_day(day: date) -> str:
    return day.isoformat()


def may_go_cold(warm_until: date | None, now: datetime) -> bool:
    """Whether a blob may be archived at `now`: only once its warm-until has passed (untagged: never)."""
    return warm_until is not None and warm_until <= now.astimezone(UTC).date()


def warm_tags(warm_until: date, tier_cold: bool = False) -> dict[str, str]:
    """The blob's full tag set (PutObjectTagging replaces all tags)."""
    tags = {WARM_UNTIL_TAG: format_day(warm_until)}
    if tier_cold:
        tags[TIER_TAG] = COLD
    return tags


class BlobTier(StrEnum):
    """Where a blob's bytes are, as far as reading them is concerned."""

    ACTIVE = "ACTIVE"  # readable now (standard class, or restored from the archive and not yet expired)
    ARCHIVED = "ARCHIVED"  # in the archive tier, no restore asked
    RESTORING = "RESTORING"  # a restore is under way


def blob_tier(storage_class: str | None, restore_header: str | None) -> BlobTier:
    """From HeadObject's StorageClass and Restore (`ongoing-request="true"` / `"false", expiry-date=...`)."""
    if (storage_class or "STANDARD") not in ARCHIVE_CLASSES:
        return BlobTier.ACTIVE
    if not restore_header:
        return BlobTier.ARCHIVED
    return BlobTier.RESTORING if 'ongoing-request="true"' in restore_header else BlobTier.ACTIVE


@dataclass(frozen=True)
class ThawOutcome:
    """What one RestoreObject answered: the blob is readable now, or is on its way back."""

    ready: bool
    reason: str


def thaw_outcome(status_or_code: str) -> ThawOutcome:
    """RestoreObject's answer: 200 (already restored), 202 (started), InvalidObjectState (not archived: readable),
    RestoreAlreadyInProgress (on its way)."""
    if status_or_code in ("200", "InvalidObjectState"):
        return ThawOutcome(True, "readable")
    if status_or_code in ("202", "RestoreAlreadyInProgress"):
        return ThawOutcome(False, "restore from the archive under way")
    raise ValueError(f"unexpected RestoreObject answer {status_or_code!r}")


class ColdPartStep(BaseModel):
    """What the ColdStorage workflow passes to MovePartToCold: one manifest part of one recovery point."""

    model_config = ConfigDict(extra="ignore")

    recovery_point_id: str = Field(min_length=1)
    part_key: str = Field(min_length=1, pattern=r"^vaults/[^/]+/recovery-points/[^/]+/parts/\d+\.json$")


class ColdPartResult(BaseModel):
    """One part's blobs: newly tagged for the archive, already tagged, and kept warm for a newer recovery point."""

    recovery_point_id: str
    part_key: str
    moved: int = 0
    already: int = 0
    kept_warm: int = 0
