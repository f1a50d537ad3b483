"""Locking ahead (LockSlackDays, domain/vaults.py Seal.ahead): daily backups of unchanged objects extend each blob once
per LockSlackDays days, on the blob's own day (rolling: a few a day, never all on one day), write no index record on
the other days, and an object's blob is never locked less than its recovery points need.

Counted on the twin at botocore's send (coffer_twin.calls.CallRecorder), as bench/ counts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from s3_backups import backup
from twins import Twins

from coffer.domain.clock import FixedClock
from coffer.domain.manifest import Manifest, ManifestPart, VaultLayout, sha256_hex
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.tag_freshness import is_refresh_day
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
START = (datetime.now(UTC) - timedelta(days=200)).replace(hour=1, minute=0, second=0, microsecond=0)
SLACK = 14
OBJECTS = 12


@pytest.fixture(scope="module")
def twin(twins: Twins) -> Iterator[tuple[LocalCoffer, FixedClock]]:
    clock = FixedClock(START)
    with twins.fresh({"LockSlackDays": str(SLACK)}, clock=clock) as coffer:
        yield coffer, clock


def blob_locks(coffer: LocalCoffer, rp: RecoveryPoint) -> dict[str, datetime]:
    vault = coffer.deps.vault
    manifest = Manifest.model_validate_json(vault.get_bytes(rp.manifest_key or ""))
    blobs = {VaultLayout.blob_of(rp.vault_name, entry) for part in manifest.parts
             for entry in ManifestPart.model_validate(vault.get_json(part.key)).entries}
    locks = {blob: vault.lock_of(blob)[1] for blob in blobs}
    assert all(until is not None for until in locks.values())
    return {blob: until for blob, until in locks.items() if until is not None}


def test_unchanged_objects_are_extended_once_per_slack_and_never_locked_short(
        twin: tuple[LocalCoffer, FixedClock]) -> None:
    coffer, clock = twin
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket="slack-source")
    for n in range(OBJECTS):
        s3.put_object(Bucket="slack-source", Key=f"k{n:02d}", Body=f"object {n}".encode())

    first, _ = backup(coffer, "slack-source", "slack-day-0")
    assert first.delete_at is not None
    for until in blob_locks(coffer, first).values():
        assert until >= first.delete_at + timedelta(days=SLACK) - timedelta(seconds=1)

    blobs = sorted(blob_locks(coffer, first))
    extended_on: dict[int, list[str]] = {}
    index_writes: dict[int, int] = {}
    for day in range(1, 2 * SLACK + 1):
        clock.set(START + timedelta(days=day))
        rp, calls = backup(coffer, "slack-source", f"slack-day-{day}")
        extended_on[day] = sorted(str(c.bucket_and_key[1]) for c in calls.select(
            service="s3", operation="PutObjectRetention"))
        index_writes[day] = calls.count(service="dynamodb", operation="BatchWriteItem")
        # an extension is one PutObjectRetention on the pinned version: no HeadObject of the vault first
        assert [c for c in calls.select(service="s3", operation="HeadObject")
                if c.bucket_and_key[0] == coffer.deps.vault.bucket] == [], day
        assert rp.delete_at is not None
        # the lock is never shorter than the newest recovery point needs
        assert all(until >= rp.delete_at - timedelta(seconds=1) for until in blob_locks(coffer, rp).values())

    # each blob is extended on its own day in every SLACK days (a hash of its address) and on no other: blobs
    # locked together on day 0 are extended a few a day, never all on one day
    for day, extended in extended_on.items():
        assert extended == [b for b in blobs if is_refresh_day(b, (START + timedelta(days=day)).date(), SLACK)], day
        assert index_writes[day] == (1 if extended else 0), (day, index_writes)
    assert sorted(b for d in range(1, SLACK + 1) for b in extended_on[d]) == blobs  # once per SLACK days each
    assert max(len(e) for e in extended_on.values()) < OBJECTS

    # an hourly plan: on a blob's own day the first backup extends it, the day's later ones find it extended
    day = next(d for d in range(2 * SLACK + 1, 3 * SLACK + 1)
               if any(is_refresh_day(b, (START + timedelta(days=d)).date(), SLACK) for b in blobs))
    due = [b for b in blobs if is_refresh_day(b, (START + timedelta(days=day)).date(), SLACK)]
    for hour, expected in ((0, due), (1, []), (5, [])):
        clock.set(START + timedelta(days=day, hours=hour))
        rp, calls = backup(coffer, "slack-source", f"slack-day-{day}-hour-{hour}")
        assert sorted(str(c.bucket_and_key[1]) for c in calls.select(
            service="s3", operation="PutObjectRetention")) == expected, hour
        assert all(until >= (rp.delete_at or START) - timedelta(seconds=1) for until in blob_locks(coffer, rp).values())


def test_a_changed_object_is_copied_and_locked_ahead_and_the_index_writes_only_its_record(
        twin: tuple[LocalCoffer, FixedClock]) -> None:
    coffer, clock = twin
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket="slack-changes")
    for n in range(OBJECTS):
        s3.put_object(Bucket="slack-changes", Key=f"k{n:02d}", Body=f"object {n}".encode())
    clock.set(START + timedelta(days=40))
    backup(coffer, "slack-changes", "changes-day-0")
    s3.put_object(Bucket="slack-changes", Key="k03", Body=b"changed")
    clock.set(START + timedelta(days=41))
    rp, calls = backup(coffer, "slack-changes", "changes-day-1")
    assert calls.count(service="s3", operation="PutObjectRetention") == 0
    written = [c for c in calls.select(service="dynamodb", operation="BatchWriteItem") if b"OBJIDX#" in c.body]
    assert len(written) == 1 and written[0].body.count(b"PutRequest") == 1  # k03's record only
    assert rp.delete_at is not None
    changed = VaultLayout.blob(rp.vault_name, sha256_hex(b"changed"))
    assert blob_locks(coffer, rp)[changed] >= rp.delete_at + timedelta(days=SLACK) - timedelta(seconds=1)
