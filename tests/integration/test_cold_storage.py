"""Cold storage of S3 recovery points on the twin: blobs tagged by the ColdStorage workflow move to the archive
class in place (the vault's lifecycle rule), a blob a warmer recovery point still needs stays warm, and a restore
of the cold recovery point reads its blobs back from the archive first (the restore workflow waits for them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from twins import Twins

from coffer.domain.clock import FixedClock
from coffer.domain.cold_tier import TIER_TAG, WARM_UNTIL_TAG
from coffer.domain.copies import StartCopyJobRequest
from coffer.domain.errors import InvalidInput
from coffer.domain.manifest import Manifest, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint, StorageClass
from coffer.services.object_tiering import execution_name
from coffer_cli.local.samples import bucket_snapshot
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "cold-source"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
LIFECYCLE = {"MoveToColdStorageAfterDays": 1, "DeleteAfterDays": 120}


@pytest.fixture
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh(clock=FixedClock(T0)) as deployed:
        yield deployed


def _backup(coffer: LocalCoffer, token: str) -> RecoveryPoint:
    result = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{BUCKET}", "IdempotencyToken": token,
                                  "Lifecycle": LIFECYCLE})
    assert result["status"] == "SUCCEEDED", result
    return coffer.deps.catalog.get_recovery_point(coffer.deps.catalog.get_job(result["output"]["job_id"])
                                                  .recovery_point_id)


def _blobs(coffer: LocalCoffer, rp: RecoveryPoint) -> dict[str, str]:
    """key -> blob of the recovery point, from its manifest."""
    vault = coffer.deps.vault
    manifest = Manifest.model_validate_json(vault.get_bytes(rp.manifest_key or ""))
    blobs = {}
    for ref in manifest.parts:
        part = vault.get_json(ref.key)
        for entry in part["entries"]:
            blobs[entry["key"]] = VaultLayout.blob(rp.vault_name, entry["sha256"])
    return blobs


def _head(coffer: LocalCoffer, key: str) -> dict[str, object]:
    return coffer.client("s3").head_object(Bucket=coffer.settings.vault_bucket, Key=key)


def test_a_cold_recovery_point_archives_only_unshared_blobs_in_place_and_restores_through_the_archive(
        coffer: LocalCoffer) -> None:
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="a.txt", Body=b"unchanged all along")
    s3.put_object(Bucket=BUCKET, Key="b.txt", Body=b"first version of b")
    first = _backup(coffer, "day-0")
    expected = bucket_snapshot(s3, BUCKET)
    first_blobs = _blobs(coffer, first)
    assert s3.get_object_tagging(Bucket=coffer.settings.vault_bucket, Key=first_blobs["a.txt"])["TagSet"] == [
        {"Key": WARM_UNTIL_TAG, "Value": "2026-01-13"}]  # cold date (day 1) + a week of slack

    coffer.clock.set(T0 + timedelta(days=20))  # type: ignore[attr-defined]
    s3.put_object(Bucket=BUCKET, Key="b.txt", Body=b"second version of b")
    second = _backup(coffer, "day-20")
    assert _blobs(coffer, second)["a.txt"] == first_blobs["a.txt"]  # shared, and now needed warm to day 21+7

    # the first one's cold date has come, the second one's (day 21) not: the sweeper moves the first only
    coffer.clock.set(T0 + timedelta(days=20, hours=12))  # type: ignore[attr-defined]
    lock_before = {key: _head(coffer, blob)["ObjectLockRetainUntilDate"] for key, blob in first_blobs.items()}
    versions_before = {key: _head(coffer, blob)["VersionId"] for key, blob in first_blobs.items()}
    report = coffer.deps.sweeper.sweep_ids("run-1", "Default", 0,
                                                       [first.recovery_point_id, second.recovery_point_id])
    assert set(report.moved) == {first.recovery_point_id} and report.kept == 1
    assert coffer.deps.catalog.get_recovery_point(first.recovery_point_id).storage_class is StorageClass.COLD
    machine = coffer.twin.outputs["ColdStorageStateMachineArn"]
    execution = f"{machine.replace(':stateMachine:', ':execution:')}:{execution_name(first.recovery_point_id)}"
    assert coffer.twin.wait(execution)["status"] == "SUCCEEDED"
    coffer.twin.run_s3_lifecycle(coffer.clock.now())

    tags = {key: {t["Key"]: t["Value"] for t in s3.get_object_tagging(
        Bucket=coffer.settings.vault_bucket, Key=blob)["TagSet"]} for key, blob in first_blobs.items()}
    assert tags["b.txt"].get(TIER_TAG) == "cold" and TIER_TAG not in tags["a.txt"]
    assert _head(coffer, first_blobs["b.txt"])["StorageClass"] == "GLACIER"
    assert "StorageClass" not in _head(coffer, first_blobs["a.txt"])  # STANDARD: the warm one still needs it
    # in place: the same version, the same Object Lock date - nothing copied, nothing unlocked
    assert {key: _head(coffer, blob)["VersionId"] for key, blob in first_blobs.items()} == versions_before
    assert {key: _head(coffer, blob)["ObjectLockRetainUntilDate"] for key, blob in first_blobs.items()} == lock_before

    with pytest.raises(InvalidInput, match=r"RecoveryPointArn: .* is in cold storage"):
        coffer.deps.copy_jobs.start(StartCopyJobRequest.model_validate({
            "RecoveryPointArn": first.recovery_point_id,
            "DestinationBackupVaultArn": "arn:aws:backup:us-west-2:123456789012:backup-vault:Default"}),
            "e-cold", "arn:x")

    restored = coffer.start_restore({"RecoveryPointArn": first.recovery_point_id, "IdempotencyToken": "r-cold",
                                     "Metadata": {"DestinationBucketName": "thawed", "NewBucket": "true"}})
    assert restored["status"] == "SUCCEEDED", restored
    assert bucket_snapshot(s3, "thawed") == expected
    # one part, run twice: the first asked S3 for the archived blob and waited, the second copied; then the
    # part-range fan-out's find (nothing deferred)
    assert coffer.twin.invocations["RestoreBatchFunction"] == 2 + 1
    assert "Restore" in _head(coffer, first_blobs["b.txt"])  # read back from the archive for a few days


def test_a_restore_thaws_the_pinned_version_of_an_archived_blob_not_a_newer_one_written_over_it(
        coffer: LocalCoffer) -> None:
    """A newer version over a cold blob's key (never Coffer's write: the vault's policy refuses others, this is the
    layer behind it) is not what the recovery point pinned; thawing it instead would leave the pinned version in the
    archive and the restore failing on it."""
    s3 = coffer.client("s3")
    vault = coffer.settings.vault_bucket
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="b.txt", Body=b"what was backed up")
    first = _backup(coffer, "day-0")
    expected = bucket_snapshot(s3, BUCKET)
    blob = _blobs(coffer, first)["b.txt"]
    pinned = str(_head(coffer, blob)["VersionId"])

    coffer.clock.set(T0 + timedelta(days=10))  # type: ignore[attr-defined]  # past its warm-until (cold date + a week)
    report = coffer.deps.sweeper.sweep_ids("run-1", "Default", 0, [first.recovery_point_id])
    assert set(report.moved) == {first.recovery_point_id}
    machine = coffer.twin.outputs["ColdStorageStateMachineArn"]
    execution = f"{machine.replace(':stateMachine:', ':execution:')}:{execution_name(first.recovery_point_id)}"
    assert coffer.twin.wait(execution)["status"] == "SUCCEEDED"
    coffer.twin.run_s3_lifecycle(coffer.clock.now())
    assert _head(coffer, blob)["StorageClass"] == "GLACIER"

    s3.put_object(Bucket=vault, Key=blob, Body=b"planted over the blob, in the warm class")
    restored = coffer.start_restore({"RecoveryPointArn": first.recovery_point_id, "IdempotencyToken": "r-pinned",
                                     "Metadata": {"DestinationBucketName": "thawed", "NewBucket": "true"}})

    assert restored["status"] == "SUCCEEDED", restored
    assert bucket_snapshot(s3, "thawed") == expected
    assert "Restore" in s3.head_object(Bucket=vault, Key=blob, VersionId=pinned)  # the pinned version came back
