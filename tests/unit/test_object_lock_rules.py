"""S3 Object Lock's rules for one version (domain/object_lock.py), with time injected.

These are the rules Coffer's vault code checks before every retention change, and the rules of the strict
stand-in for S3 in tests/contract (which also runs the same cases against moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from coffer.domain.object_lock import LockMode, VersionLock, deletion_refusal, retention_change_refusal

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
UNTIL = NOW + timedelta(days=30)
C, G = LockMode.COMPLIANCE, LockMode.GOVERNANCE

RETENTION_CASES = [
    # current lock,                 new mode, new date,             bypass, refused?
    (VersionLock(C, UNTIL), C, UNTIL + timedelta(days=1), False, None),
    (VersionLock(C, UNTIL), C, UNTIL - timedelta(days=1), False, "cannot be shortened"),
    (VersionLock(C, UNTIL), C, UNTIL - timedelta(days=1), True, "cannot be shortened"),
    (VersionLock(C, UNTIL), G, UNTIL + timedelta(days=1), True, "cannot be changed to another mode"),
    (VersionLock(C, UNTIL), None, None, True, "cannot be removed"),
    (VersionLock(G, UNTIL), G, UNTIL + timedelta(days=1), False, None),
    (VersionLock(G, UNTIL), G, UNTIL - timedelta(days=1), False, "needs s3:BypassGovernanceRetention"),
    (VersionLock(G, UNTIL), G, UNTIL - timedelta(days=1), True, None),
    (VersionLock(G, UNTIL), C, UNTIL + timedelta(days=1), False, "changing the mode"),
    (VersionLock(G, UNTIL), None, None, False, "needs s3:BypassGovernanceRetention"),
    (VersionLock(G, UNTIL), None, None, True, None),
    (VersionLock(C, NOW - timedelta(seconds=1)), G, NOW + timedelta(days=1), False, None),  # expired: anything
    (VersionLock(), G, UNTIL, False, None),
]


@pytest.mark.parametrize(("current", "mode", "until", "bypass", "refused"), RETENTION_CASES)
def test_retention_changes(current: VersionLock, mode: LockMode | None, until: datetime | None, bypass: bool,
                           refused: str | None) -> None:
    result = retention_change_refusal(current, mode, until, NOW, bypass)
    assert (result is None) == (refused is None), result
    if refused:
        assert refused in (result or "")


DELETION_CASES = [
    (VersionLock(C, UNTIL), False, "COMPLIANCE"),
    (VersionLock(C, UNTIL), True, "COMPLIANCE"),
    (VersionLock(G, UNTIL), False, "bypass needed"),
    (VersionLock(G, UNTIL), True, None),
    (VersionLock(G, UNTIL, legal_hold=True), True, "legal hold"),
    (VersionLock(None, None, legal_hold=True), True, "legal hold"),
    (VersionLock(C, NOW - timedelta(seconds=1)), False, None),
    (VersionLock(), False, None),
]


@pytest.mark.parametrize(("current", "bypass", "refused"), DELETION_CASES)
def test_deleting_a_version(current: VersionLock, bypass: bool, refused: str | None) -> None:
    result = deletion_refusal(current, NOW, bypass)
    assert (result is None) == (refused is None), result
    if refused:
        assert refused in (result or "")
