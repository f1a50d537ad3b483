"""Continuous backup's pure rules: what may be protected, the restorable window, and the bucket at time T.

`resolve` is checked against a small model of S3 versioning driven by random day-long histories (seeded), so
the journal replay is tested on far more interleavings than the twin can afford.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from coffer.domain.clock import FixedClock
from coffer.domain.continuous import (
    ChangeKind,
    JournalEntry,
    Protection,
    ProtectionState,
    S3ObjectEvent,
    continuous_lifecycle,
    journal_sort_key,
    normalise_sequencer,
    resolve,
    restore_time,
)
from coffer.domain.errors import InvalidInput
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.manifest import ObjectEntry
from coffer.domain.requests import StartBackupJobRequest
from coffer.domain.resources import ResourceType

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def protection(**changes: object) -> Protection:
    base = Protection(resource_arn="arn:aws:s3:::b", resource_type=ResourceType.S3, vault_name="Default",
                      recovery_point_id="rp-1", retention_days=7, state=ProtectionState.ACTIVE, enabled_at=T0,
                      active_since=T0 + timedelta(minutes=5), job_id="job-1")
    return base.model_copy(update=changes)


# ---- what may be protected ------------------------------------------------------------------------
@pytest.mark.parametrize(("resource_type", "lifecycle", "problem"), [
    (ResourceType.EBS, {}, "EnableContinuousBackup: EBS cannot be backed up continuously: EBS has no point-in-time"),
    (ResourceType.EC2, {}, "EnableContinuousBackup: EC2 cannot be backed up continuously"),
    (ResourceType.DOCUMENTDB, {}, "DocumentDB cannot be backed up continuously: AWS Backup offers no continuous"),
    (ResourceType.NEPTUNE, {}, "Neptune cannot be backed up continuously: AWS Backup offers no continuous"),
    (ResourceType.S3, {"DeleteAfterDays": 36}, "Lifecycle.DeleteAfterDays: 36; continuous backups are kept 1 to 35"),
    (ResourceType.RDS, {"MoveToColdStorageAfterDays": 1, "DeleteAfterDays": 120},
     "Lifecycle.MoveToColdStorageAfterDays: continuous backups do not go to cold storage"),
])
def test_a_continuous_backup_is_refused_naming_the_field(resource_type: ResourceType, lifecycle: dict[str, int],
                                                        problem: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        continuous_lifecycle(resource_type, Lifecycle.model_validate(lifecycle))
    assert problem in str(refused.value)


def test_continuous_retention_is_35_days_unless_given() -> None:
    assert continuous_lifecycle(ResourceType.DYNAMODB, Lifecycle()).delete_after_days == 35
    assert continuous_lifecycle(ResourceType.AURORA, Lifecycle()).delete_after_days == 35  # Aurora PITR: admitted
    assert continuous_lifecycle(ResourceType.S3, Lifecycle(DeleteAfterDays=1)).delete_after_days == 1


def test_the_continuous_flag_keeps_other_requests_fingerprints() -> None:
    plain = {"ResourceArn": "arn:aws:s3:::bucket", "IdempotencyToken": "t"}
    before = StartBackupJobRequest.model_validate(plain).fingerprint()
    assert StartBackupJobRequest.model_validate({**plain, "EnableContinuousBackup": False}).fingerprint() == before
    assert StartBackupJobRequest.model_validate({**plain, "EnableContinuousBackup": True}).fingerprint() != before


# ---- the restorable window ------------------------------------------------------------------------
def test_the_window_starts_when_protection_became_active_and_slides_with_the_retention() -> None:
    clock = FixedClock(T0 + timedelta(hours=1))
    assert protection().window(clock.now()) == (T0 + timedelta(minutes=5), clock.now())
    clock.advance(timedelta(days=30))
    assert protection().window(clock.now()) == (clock.now() - timedelta(days=7), clock.now())
    assert protection(state=ProtectionState.ENABLING, active_since=None).window(clock.now()) is None


def test_a_restore_time_inside_the_window_is_taken_and_latest_means_now() -> None:
    now = T0 + timedelta(hours=3)
    inside = (T0 + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert restore_time({"RestoreTime": inside}, protection(), "rp-1", now) == T0 + timedelta(hours=1)
    assert restore_time({"UseLatestRestorableTime": "true"}, protection(), "rp-1", now) == now
    assert restore_time({"RestoreTime": "2026-11-25T10:00:00+01:00"}, protection(), "rp-1", now) == \
        T0 + timedelta(hours=1)


@pytest.mark.parametrize(("metadata", "problem"), [
    ({"RestoreTime": "2026-11-25T08:04:59Z"}, "Metadata.RestoreTime: 2026-11-25T08:04:59Z is outside the restorable "
                                              "window 2026-11-25T08:05:00Z .. 2026-11-25T11:00:00Z"),
    ({"RestoreTime": "2026-11-25T11:00:01Z"}, "Metadata.RestoreTime: 2026-11-25T11:00:01Z is outside"),
    ({}, "Metadata.RestoreTime: required to restore continuous recovery point rp-1"),
    ({"RestoreTime": "2026-11-25T09:00:00Z", "UseLatestRestorableTime": "true"}, "not both"),
    ({"RestoreTime": "yesterday"}, "Metadata.RestoreTime: 'yesterday' is not an ISO 8601 time"),
    ({"RestoreTime": "2026-11-25T09:00:00"}, "has no time zone"),
    ({"UseLatestRestorableTime": "yes"}, "Metadata.UseLatestRestorableTime: 'yes' is not true or false"),
])
def test_a_restore_time_is_refused_naming_the_field(metadata: dict[str, str], problem: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        restore_time(metadata, protection(), "rp-1", T0 + timedelta(hours=3))
    assert problem in str(refused.value)


def test_nothing_is_restorable_before_the_base_backup_completed() -> None:
    with pytest.raises(InvalidInput, match="RecoveryPointArn: continuous recovery point rp-1 is not restorable yet"):
        restore_time({"UseLatestRestorableTime": "true"}, protection(state=ProtectionState.ENABLING), "rp-1", T0)


# ---- S3's events and the journal's order ------------------------------------------------------------
def test_s3_events_parse_as_eventbridge_delivers_them() -> None:
    event = S3ObjectEvent.model_validate({
        "version": "0", "id": "e1", "detail-type": "Object Deleted", "source": "aws.s3", "account": "1",
        "time": "2026-11-25T10:00:05Z", "region": "us-east-1", "resources": ["arn:aws:s3:::b"],
        "detail": {"version": "0", "bucket": {"name": "bkt"},
                   "object": {"key": "a/b.txt", "version-id": "v9", "sequencer": "617f0837b476e463"},
                   "reason": "DeleteObject", "deletion-type": "Delete Marker Created"}})
    assert (event.kind, event.version_id, event.resource_arn) == (ChangeKind.DELETE_MARKER, "v9", "arn:aws:s3:::bkt")
    permanently = event.model_copy(update={"detail": event.detail.model_copy(
        update={"deletion_type": "Permanently Deleted"})})
    assert permanently.kind is ChangeKind.VERSION_DELETED


def test_journal_keys_keep_s3s_key_order_and_s3s_sequencer_rule() -> None:
    # S3: left-pad the shorter sequencer with zeros, then compare; keys stay grouped in S3's (UTF-8) order.
    assert normalise_sequencer("FF") > normalise_sequencer("0E1")
    keys = ["a", "a/b", "a.txt", "é", "b", "a b"]
    ordered = sorted(journal_sort_key(k, s) for k in keys for s in ("1", "A", "10"))
    assert [k.split("\x00")[0] for k in ordered][::3] == sorted(keys)
    with pytest.raises(InvalidInput, match=re.escape("detail.object.key: keys over 991 bytes")):
        journal_sort_key("k" * 992, "1")


# ---- the bucket at time T: resolve() against a model of S3 versioning --------------------------------
def entry(key: str, version: str, body: str = "") -> ObjectEntry:
    return ObjectEntry(key=key, size=len(body), etag=body, last_modified="", version_id=version,
                       sha256=body or version)


def change(key: str, seq: int, at: datetime, kind: ChangeKind, version: str, body: str = "") -> JournalEntry:
    return JournalEntry(key=key, sequencer=format(seq, "X"), time=at, kind=kind, version_id=version,
                        object=entry(key, version, body) if kind is ChangeKind.CREATED else None)


def test_a_key_at_time_t_overwritten_deleted_recreated_and_a_version_deleted_for_good() -> None:
    base = entry("k", "v0", "zero")
    events = [change("k", 1, T0 + timedelta(hours=1), ChangeKind.CREATED, "v1", "one"),
              change("k", 2, T0 + timedelta(hours=2), ChangeKind.DELETE_MARKER, "m1"),
              change("k", 3, T0 + timedelta(hours=3), ChangeKind.CREATED, "v2", "two"),
              change("k", 4, T0 + timedelta(hours=4), ChangeKind.VERSION_DELETED, "v2"),
              change("k", 5, T0 + timedelta(hours=5), ChangeKind.VERSION_DELETED, "m1")]
    at = [T0 + timedelta(hours=h, minutes=30) for h in range(6)]
    assert [(r.entry.etag if r.entry else None) for r in (resolve(base, events, t) for t in at)] == \
        ["zero", "one", None, "two", None, "one"]
    # A change at exactly T is part of the bucket at T (EventBridge times are whole seconds).
    assert resolve(base, events, T0 + timedelta(hours=1)).entry == events[0].object


def test_a_version_journaled_and_in_the_base_is_not_counted_twice() -> None:
    base = entry("k", "v1", "one")  # the base copied the version the journal recorded just before it
    events = [change("k", 1, T0, ChangeKind.CREATED, "v1", "one"),
              change("k", 2, T0 + timedelta(hours=1), ChangeKind.VERSION_DELETED, "v1")]
    assert resolve(base, events, T0 + timedelta(minutes=1)).entry == base
    assert resolve(base, events, T0 + timedelta(hours=2)) == resolve(None, [], T0)


def test_a_version_coffer_could_not_copy_makes_its_key_fail_rather_than_restore_wrong_bytes() -> None:
    lost = JournalEntry(key="k", sequencer="1", time=T0, kind=ChangeKind.LOST, version_id="v1", reason="gone")
    outcome = resolve(entry("k", "v0", "zero"), [lost], T0)
    assert outcome.entry is None and outcome.failed == "version v1 was not kept: gone"


@dataclass
class _Bucket:
    """S3 versioning, as much as the journal replays: versions, delete markers, permanent deletions."""

    versions: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)  # key -> [(version, body)]

    def current(self, key: str) -> str | None:
        stack = self.versions.get(key, [])
        return stack[-1][1] if stack else None


@pytest.mark.parametrize("seed", range(12))
def test_resolve_matches_s3_versioning_over_a_random_day(seed: int) -> None:
    rng = random.Random(seed)
    keys = [f"k{n}" for n in range(6)]
    bucket, journal, history = _Bucket(), [], []
    n = 0

    def act(at: datetime, journaled: bool, new_keys_only_deletes: set[str]) -> None:
        nonlocal n
        n += 1
        key = rng.choice(keys)
        stack = bucket.versions.setdefault(key, [])
        roll = rng.random()
        if roll < 0.5 or not stack:
            version, body = f"v{n}", f"{key}-{n}"
            stack.append((version, body))
            kind = ChangeKind.CREATED
        elif roll < 0.75:
            version, body, kind = f"m{n}", None, ChangeKind.DELETE_MARKER
            stack.append((version, None))
        elif key in new_keys_only_deletes:
            version, body = rng.choice(stack)
            stack.remove((version, body))
            kind = ChangeKind.VERSION_DELETED
        else:
            return
        if journaled:
            journal.append(change(key, n, at, kind, version, body or ""))

    for minute in range(20):  # before protection: not journaled, no permanent deletions
        act(T0 + timedelta(minutes=minute), False, set())
    enabled = T0 + timedelta(hours=1)
    fresh = {k for k in keys if k not in bucket.versions}
    for second in range(8):  # between enabling and the base backup's copy: journaled
        act(enabled + timedelta(seconds=second), True, fresh)
    base = {k: entry(k, v, b) for k, s in bucket.versions.items() if s and (v := s[-1][0]) and (b := s[-1][1])}
    for minute in range(1, 200):  # after the base, all day long: every change journaled
        at = enabled + timedelta(minutes=5 * minute)
        act(at, True, fresh)
        history.append((at, {k: bucket.current(k) for k in keys}))
    for at, truth in history[::7]:
        for key in keys:
            outcome = resolve(base.get(key), [e for e in journal if e.key == key], at)
            assert (outcome.entry.etag if outcome.entry else None) == truth[key], (seed, key, at)
