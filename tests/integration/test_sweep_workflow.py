"""The daily lifecycle sweep through the real Sweep workflow on the twin, fired by `coffer local tick`'s scheduler.

One twin, an injected clock that starts 300 days before the wall clock (moto enforces Object Lock dates by the
wall clock, so a lock the injected clock says has passed has passed for moto too). An EBS volume is backed up
with cold storage after 1 day and deletion after 91; two small buckets are backed up to be deleted after 1 day,
one of them under a legal hold. Ticking across the days fires SweepSchedule (the template's, daily at 03:00):
the EBS recovery point goes cold on day 1 and is expired on day 91; the unheld bucket's recovery point expires on
day 1 and the blobs only it referenced are collected; the held one and its blobs survive, skipped with the hold
as the reason. `coffer sweep runs|show` report each run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from twins import Twins

from coffer.domain.clock import FixedClock
from coffer.domain.manifest import Manifest, ManifestPart, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus, StorageClass
from coffer_cli.cli import main
from coffer_cli.local.samples import create_sample_volume
from coffer_cli.local.session import LocalCoffer
from coffer_cli.local.ticks import TwinScheduler

ROOT = Path(__file__).resolve().parents[2]
STACK = ["--stack", "coffer-twin"]
START = (datetime.now(UTC) - timedelta(days=300)).replace(hour=2, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def twin(twins: Twins) -> Iterator[tuple[LocalCoffer, FixedClock]]:
    clock = FixedClock(START)
    # these tests count the days to the day: blobs locked exactly to their recovery points' dates (locking ahead,
    # LockSlackDays, is held by tests/integration/test_lock_slack.py)
    with twins.fresh({"LockSlackDays": "0"}, clock=clock) as coffer:
        yield coffer, clock


def backed_up(coffer: LocalCoffer, arn: str, token: str, lifecycle: dict[str, int]) -> RecoveryPoint:
    result = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": token, "Lifecycle": lifecycle})
    assert result["status"] == "SUCCEEDED", result
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    return coffer.deps.catalog.get_recovery_point(job.recovery_point_id)


def bucket(coffer: LocalCoffer, name: str, objects: dict[str, bytes]) -> str:
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket=name)
    for key, body in objects.items():
        s3.put_object(Bucket=name, Key=key, Body=body)
    return f"arn:aws:s3:::{name}"


def blobs_of(coffer: LocalCoffer, rp: RecoveryPoint) -> set[str]:
    vault = coffer.deps.vault
    manifest = Manifest.model_validate_json(vault.get_bytes(rp.manifest_key or ""))
    return {VaultLayout.blob_of(rp.vault_name, entry) for part in manifest.parts
            for entry in ManifestPart.model_validate(vault.get_json(part.key)).entries}


def versions_under(coffer: LocalCoffer, prefix: str) -> set[str]:
    return {key for key, _ in coffer.deps.vault.versions(prefix)}


def sweeps(coffer: LocalCoffer, until: datetime) -> list[dict[str, object]]:
    """Fire every schedule due up to `until` (as `coffer local tick` does); the sweep runs' outputs."""
    fired = TwinScheduler(coffer).tick(until)
    runs = [f for f in fired if f.fire.schedule.endswith("SweepSchedule")]
    assert runs and all(f.execution["status"] == "SUCCEEDED" for f in runs), [f.execution for f in fired]
    return [dict(f.execution["output"]) for f in runs]


def test_ticking_across_days_runs_the_daily_sweep_cold_expiry_and_blob_collection(
        twin: tuple[LocalCoffer, FixedClock], capsys: pytest.CaptureFixture[str]) -> None:
    coffer, clock = twin
    catalog = coffer.deps.catalog
    volume = create_sample_volume(coffer.client("ec2"), "sweep-volume")
    ebs = backed_up(coffer, volume, "sweep-ebs", {"MoveToColdStorageAfterDays": 1, "DeleteAfterDays": 91})
    gone = backed_up(coffer, bucket(coffer, "sweep-gone", {"only-here": b"gone tomorrow", "shared": b"both"}),
                     "sweep-gone", {"DeleteAfterDays": 1})
    held = backed_up(coffer, bucket(coffer, "sweep-held", {"kept": b"held for court", "shared": b"both"}),
                     "sweep-held", {"DeleteAfterDays": 1})
    assert main(["legalhold", "create", "--title", "court", "--recovery-point", held.recovery_point_id, *STACK]) == 0
    only_gone, only_held = blobs_of(coffer, gone) - blobs_of(coffer, held), blobs_of(coffer, held)
    assert len(only_gone) == 1 and len(only_held) == 2

    # Day 0 03:00 (nothing due) and day 1 03:00: EBS cold; the unheld bucket's recovery point and its own blob gone
    day0, day1 = sweeps(coffer, START + timedelta(days=1, hours=2))
    assert (day0["moved"], day0["expired"], day0["blobs_deleted"]) == (0, 0, 0)
    assert (day1["state"], day1["moved"], day1["expired"], day1["skipped"]) == ("COMPLETED", 1, 1, 1), day1
    assert day1["skipped_by"] == {"legal_hold": 1} and day1["blobs_deleted"] == 1, day1
    assert catalog.get_recovery_point(ebs.recovery_point_id).storage_class is StorageClass.COLD
    tier = coffer.client("ec2").describe_snapshot_tier_status()["SnapshotTierStatuses"]
    assert {t["StorageTier"] for t in tier if ebs.native_ref and ebs.native_ref.endswith(t["SnapshotId"])} == \
        {"archive"}
    expired = catalog.get_recovery_point(gone.recovery_point_id)
    assert (expired.status, expired.storage_class) == (RecoveryPointStatus.EXPIRED, StorageClass.DELETED)
    assert not versions_under(coffer, VaultLayout.recovery_point_prefix("Default", gone.recovery_point_id))
    vault_blobs = versions_under(coffer, "vaults/Default/blobs/")
    assert not only_gone & vault_blobs  # collected: no other recovery point referenced it
    assert only_held <= vault_blobs  # the held recovery point's blobs (one shared with the expired one) stay
    kept = catalog.get_recovery_point(held.recovery_point_id)
    assert kept.status is RecoveryPointStatus.COMPLETED and coffer.deps.vault.get_bytes(kept.manifest_key or "")

    # what `coffer sweep runs` and `coffer sweep show` say about day 1's run
    capsys.readouterr()
    assert main(["sweep", "runs", *STACK]) == 0
    assert str(day1["run_id"]) in capsys.readouterr().out
    assert main(["sweep", "show", str(day1["run_id"]), *STACK]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert "MoveToColdStorageAfterDays" in shown["moved"][ebs.recovery_point_id]
    assert "DeleteAfterDays" in shown["expired"][gone.recovery_point_id]
    assert "legal hold" in shown["skipped"][held.recovery_point_id]
    deleted = [version.split("?versionId=")[0] for b in shown["blobs"] for version in b["deleted"]]
    assert deleted == sorted(only_gone)

    # Day 91: the EBS recovery point's delete date has come - expired and its snapshot deleted
    clock.set(START + timedelta(days=91))
    [day91] = sweeps(coffer, START + timedelta(days=91, hours=2))
    assert (day91["expired"], day91["moved"]) == (1, 0), day91
    assert catalog.get_recovery_point(ebs.recovery_point_id).status is RecoveryPointStatus.EXPIRED
    snapshot_id = (ebs.native_ref or "").rsplit("/", 1)[-1]
    assert snapshot_id not in {s["SnapshotId"] for s in
                               coffer.client("ec2").describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert catalog.get_recovery_point(held.recovery_point_id).status is RecoveryPointStatus.COMPLETED
