"""A blob's rolling lock extension is one PutObjectRetention on its pinned version, trusting the catalog's record of
the lock instead of a HeadObject (services/object_batches.py `_secured`). Tried as what could make that record
wrong: a lock someone made longer, a pinned version deleted under a GOVERNANCE vault with the bypass, a newer
version planted over the blob. S3 (the twin rules PutObjectRetention as S3 does: coffer_twin/s3_retention.py) is
the check: a lock is never shortened, a refusal makes Coffer look, and a recovery point never pins what is gone
or what someone planted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from s3_backups import backup, entries
from twins import Twins

from coffer.domain.clock import FixedClock
from coffer.domain.manifest import ObjectEntry, VaultLayout, sha256_hex
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.tag_freshness import is_refresh_day
from coffer_cli.local.session import LocalCoffer
from coffer_twin.calls import CallRecorder

ROOT = Path(__file__).resolve().parents[2]
START = (datetime.now(UTC) - timedelta(days=300)).replace(hour=1, minute=0, second=0, microsecond=0)
SLACK = 14
BODY = b"ledger,2026\n1,100\n"


@pytest.fixture(scope="module")
def twin(twins: Twins) -> Iterator[tuple[LocalCoffer, FixedClock]]:
    clock = FixedClock(START)
    with twins.fresh({"LockSlackDays": str(SLACK)}, clock=clock) as coffer:
        yield coffer, clock


def entry_of(coffer: LocalCoffer, rp: RecoveryPoint, key: str) -> ObjectEntry:
    return entries(coffer, rp)[key]


def backed_up(coffer: LocalCoffer, clock: FixedClock, bucket: str, body: bytes, day: int) -> tuple[str, ObjectEntry]:
    """A bucket holding ledger.csv (`body`), backed up on `day`: the blob its entry names, and the entry."""
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="ledger.csv", Body=body)
    at(clock, day)
    first, _ = backup(coffer, bucket, f"{bucket}-0")
    pinned = entry_of(coffer, first, "ledger.csv")
    return VaultLayout.blob_of(first.vault_name, pinned), pinned


def rolling_day(blob: str, after: int) -> int:
    """The first day after day `after` (from START) that is the blob's own extension day."""
    return next(d for d in range(after + 1, after + SLACK + 1)
                if is_refresh_day(blob, (START + timedelta(days=d)).date(), SLACK))


def at(clock: FixedClock, day: int) -> date:
    clock.set(START + timedelta(days=day))
    return (START + timedelta(days=day)).date()


def vault_calls(calls: CallRecorder, operation: str, bucket: str, blob: str) -> int:
    return sum(1 for c in calls.select(service="s3", operation=operation) if c.bucket_and_key == (bucket, blob))


def test_an_extension_is_one_call_and_a_lock_made_longer_than_recorded_is_never_shortened(
        twin: tuple[LocalCoffer, FixedClock]) -> None:
    coffer, clock = twin
    s3, vault_bucket = coffer.client("s3"), coffer.deps.vault.bucket
    blob, pinned = backed_up(coffer, clock, "longer-source", BODY, 0)

    day = rolling_day(blob, 0)
    at(clock, day)
    rp, calls = backup(coffer, "longer-source", "longer-1")
    assert vault_calls(calls, "PutObjectRetention", vault_bucket, blob) == 1
    assert vault_calls(calls, "HeadObject", vault_bucket, blob) == 0  # the record stood in for the look
    head = s3.head_object(Bucket=vault_bucket, Key=blob, VersionId=pinned.blob_version_id)
    assert head["ObjectLockRetainUntilDate"] >= (rp.delete_at or START) + timedelta(days=SLACK - 1)

    # someone (another writer, an operator) makes the pinned version's lock longer than the catalog knows
    far = (START + timedelta(days=900)).replace(microsecond=0)
    s3.put_object_retention(Bucket=vault_bucket, Key=blob, VersionId=pinned.blob_version_id,
                            Retention={"Mode": head["ObjectLockMode"], "RetainUntilDate": far})
    day = rolling_day(blob, day)
    at(clock, day)
    rp, calls = backup(coffer, "longer-source", "longer-2")
    # Coffer's one call asked for a shorter date; S3 refused it, Coffer looked, and learned the longer lock
    assert vault_calls(calls, "PutObjectRetention", vault_bucket, blob) == 1
    assert vault_calls(calls, "HeadObject", vault_bucket, blob) == 1
    head = s3.head_object(Bucket=vault_bucket, Key=blob, VersionId=pinned.blob_version_id)
    assert head["ObjectLockRetainUntilDate"] == far  # never shortened
    assert entry_of(coffer, rp, "ledger.csv").blob_version_id == pinned.blob_version_id
    record = coffer.deps.catalog.get_objects(rp.vault_name, "longer-source", ["ledger.csv"])["ledger.csv"]
    assert datetime.fromisoformat(record["retain_until"]) == far

    # on its next day the record is right again: one call, no look (and no PutObjectRetention: long enough)
    day = rolling_day(blob, day)
    at(clock, day)
    _, calls = backup(coffer, "longer-source", "longer-3")
    assert vault_calls(calls, "PutObjectRetention", vault_bucket, blob) == 0
    assert vault_calls(calls, "HeadObject", vault_bucket, blob) == 0


def test_a_pinned_version_deleted_with_the_governance_bypass_is_stored_again_on_the_blobs_day(
        twin: tuple[LocalCoffer, FixedClock]) -> None:
    coffer, clock = twin
    s3, vault_bucket = coffer.client("s3"), coffer.deps.vault.bucket
    blob, pinned = backed_up(coffer, clock, "gone-source", BODY + b"gone\n", 30)
    # the break-glass role deletes the pinned (GOVERNANCE) version, bypassing its lock: the blob is gone
    s3.delete_object(Bucket=vault_bucket, Key=blob, VersionId=pinned.blob_version_id, BypassGovernanceRetention=True)

    at(clock, rolling_day(blob, 30))
    rp, calls = backup(coffer, "gone-source", "gone-1")
    again = entry_of(coffer, rp, "ledger.csv")
    assert again.blob_version_id and again.blob_version_id != pinned.blob_version_id
    assert vault_calls(calls, "CopyObject", vault_bucket, blob) == 1  # stored again from the source
    stored = s3.get_object(Bucket=vault_bucket, Key=blob, VersionId=again.blob_version_id)
    assert sha256_hex(stored["Body"].read()) == pinned.sha256
    assert stored["ObjectLockRetainUntilDate"] >= (rp.delete_at or START) - timedelta(seconds=1)
    # and the catalog's blob record names the new version: a new object of this content does not pin the old one
    record = coffer.deps.blob_records.get_blobs(rp.vault_name, [pinned.sha256])[pinned.sha256]
    assert record["version_id"] == again.blob_version_id
    restored = coffer.start_restore({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": "gone-restore",
                                     "Metadata": {"DestinationBucketName": "gone-restored", "NewBucket": "true"}})
    assert restored["status"] == "SUCCEEDED", restored
    assert s3.get_object(Bucket="gone-restored", Key="ledger.csv")["Body"].read() == BODY + b"gone\n"


def test_a_version_planted_over_a_blob_is_neither_extended_nor_pinned_and_the_backup_goes_on(
        twin: tuple[LocalCoffer, FixedClock]) -> None:
    coffer, clock = twin
    s3, vault_bucket = coffer.client("s3"), coffer.deps.vault.bucket
    blob, pinned = backed_up(coffer, clock, "planted-source", BODY + b"planted\n", 60)
    planted = s3.put_object(Bucket=vault_bucket, Key=blob, Body=b"id,amount\n1,1000000\n",
                            ChecksumAlgorithm="SHA256")["VersionId"]
    planted_lock = s3.head_object(Bucket=vault_bucket, Key=blob, VersionId=planted).get("ObjectLockRetainUntilDate")

    at(clock, rolling_day(blob, 60))
    rp, _ = backup(coffer, "planted-source", "planted-1")
    assert coffer.deps.catalog.get_job(rp.job_id).state.value == "COMPLETED"
    entry = entry_of(coffer, rp, "ledger.csv")
    assert entry.blob_version_id == pinned.blob_version_id  # the original, not the planted version
    original = s3.head_object(Bucket=vault_bucket, Key=blob, VersionId=pinned.blob_version_id)
    assert original["ObjectLockRetainUntilDate"] >= (rp.delete_at or START) + timedelta(days=SLACK - 1)
    assert s3.head_object(Bucket=vault_bucket, Key=blob, VersionId=planted).get("ObjectLockRetainUntilDate") \
        == planted_lock  # the planted version gained no lock from Coffer
    restored = coffer.start_restore({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": "planted-restore",
                                     "Metadata": {"DestinationBucketName": "planted-restored", "NewBucket": "true"}})
    assert restored["status"] == "SUCCEEDED", restored
    assert s3.get_object(Bucket="planted-restored", Key="ledger.csv")["Body"].read() == BODY + b"planted\n"


def test_a_refused_extension_looks_at_the_pinned_version_never_at_one_planted_over_it(
        twin: tuple[LocalCoffer, FixedClock]) -> None:
    """The record wrong (someone made the pinned lock longer) and a version planted over the blob: the refusal's look
    is of the pinned version, so the planted one gains no lock and is never pinned, and the object does not fail."""
    coffer, clock = twin
    s3, vault_bucket = coffer.client("s3"), coffer.deps.vault.bucket
    blob, pinned = backed_up(coffer, clock, "both-source", BODY + b"both\n", 90)
    head = s3.head_object(Bucket=vault_bucket, Key=blob, VersionId=pinned.blob_version_id)
    far = (START + timedelta(days=900)).replace(microsecond=0)
    s3.put_object_retention(Bucket=vault_bucket, Key=blob, VersionId=pinned.blob_version_id,
                            Retention={"Mode": head["ObjectLockMode"], "RetainUntilDate": far})
    planted = s3.put_object(Bucket=vault_bucket, Key=blob, Body=b"id,amount\n1,1000000\n",
                            ChecksumAlgorithm="SHA256")["VersionId"]
    planted_lock = s3.head_object(Bucket=vault_bucket, Key=blob, VersionId=planted).get("ObjectLockRetainUntilDate")

    at(clock, rolling_day(blob, 90))
    rp, calls = backup(coffer, "both-source", "both-1")
    job = coffer.deps.catalog.get_job(rp.job_id)
    assert job.state.value == "COMPLETED" and job.progress.failed_keys == []
    assert entry_of(coffer, rp, "ledger.csv").blob_version_id == pinned.blob_version_id
    looks = [c.url for c in calls.select(service="s3", operation="HeadObject")
             if c.bucket_and_key == (vault_bucket, blob)]
    assert len(looks) == 1 and f"versionId={pinned.blob_version_id}" in looks[0]  # the pinned version, by its id
    assert s3.head_object(Bucket=vault_bucket, Key=blob, VersionId=pinned.blob_version_id)[
        "ObjectLockRetainUntilDate"] == far
    assert s3.head_object(Bucket=vault_bucket, Key=blob, VersionId=planted).get("ObjectLockRetainUntilDate") \
        == planted_lock
