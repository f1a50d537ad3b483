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
from twins import Twins

from coffer.domain.clock import FixedClock
from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry, VaultLayout, sha256_hex
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


def backup(coffer: LocalCoffer, bucket: str, token: str) -> tuple[RecoveryPoint, CallRecorder]:
    with CallRecorder() as calls:
        result = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{bucket}", "IdempotencyToken": token,
                                      "Lifecycle": {"DeleteAfterDays": 35}})
    assert result["status"] == "SUCCEEDED", result
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    return coffer.deps.catalog.get_recovery_point(job.recovery_point_id), calls


def entry_of(coffer: LocalCoffer, rp: RecoveryPoint, key: str) -> ObjectEntry:
    vault = coffer.deps.vault
    manifest = Manifest.model_validate_json(vault.get_bytes(rp.manifest_key or ""))
    return next(e for part in manifest.parts for e in ManifestPart.model_validate(vault.get_json(part.key)).entries
                if e.key == key)


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
    s3.create_bucket(Bucket="longer-source")
    s3.put_object(Bucket="longer-source", Key="ledger.csv", Body=BODY)
    at(clock, 0)
    first, _ = backup(coffer, "longer-source", "longer-0")
    pinned = entry_of(coffer, first, "ledger.csv")
    blob = VaultLayout.blob_of(first.vault_name, pinned)

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
    s3.create_bucket(Bucket="gone-source")
    s3.put_object(Bucket="gone-source", Key="ledger.csv", Body=BODY + b"gone\n")
    at(clock, 30)
    first, _ = backup(coffer, "gone-source", "gone-0")
    pinned = entry_of(coffer, first, "ledger.csv")
    blob = VaultLayout.blob_of(first.vault_name, pinned)
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
    s3.create_bucket(Bucket="planted-source")
    s3.put_object(Bucket="planted-source", Key="ledger.csv", Body=BODY + b"planted\n")
    at(clock, 60)
    first, _ = backup(coffer, "planted-source", "planted-0")
    pinned = entry_of(coffer, first, "ledger.csv")
    blob = VaultLayout.blob_of(first.vault_name, pinned)
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
