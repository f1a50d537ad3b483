"""A simulated year of a daily plan (cold after 30 days, delete after 365) under the lifecycle sweeper (issue 7).

moto-direct and small: the daily plan's recovery points are made the way a completed backup leaves them (an EBS
snapshot, or an S3 manifest with its parts Object-Locked in the vault) and catalogued with an injected clock;
the sweeper runs on the checked days. The simulated year lies in the past of the wall clock, so the Object Lock
dates moto enforces (by the wall clock) have passed whenever the injected clock says they have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from coffer.adapters.catalog.restore_leases import RestoreLeases
from coffer.adapters.catalog.sweeps import SweepRecords
from coffer.adapters.catalog.vaults import VaultCatalog
from coffer.adapters.resources.ebs import snapshot_arn
from coffer.domain.clock import FixedClock
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.manifest import Manifest, ManifestPart, PartRef, VaultLayout
from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus, StorageClass
from coffer.domain.resources import ResourceType
from coffer.domain.vaults import KeyOwner, Vault, VaultLock
from coffer.entrypoints.bootstrap import Root, bootstrap
from coffer.services.sweeper import Sweeper
from coffer.settings import Settings

REGION = "us-east-1"
TABLE = "catalog"
START = (datetime.now(UTC) - timedelta(days=800)).replace(hour=0, minute=0, second=0, microsecond=0)
PLAN = Lifecycle(move_to_cold_storage_after_days=30, delete_after_days=365)
KEY = "arn:aws:kms:us-east-1:123456789012:key/stack"
LOCKED = "Locked"  # a vault with a COMPLIANCE vault lock (MinRetentionDays 365)
#: its recovery points' objects are locked to day 400 (extended past DeleteAfterDays): the lock, not the
#: lifecycle, decides when they go
LOCKED_UNTIL_DAYS = 400
HELD_DAYS = {3, 200}  # recovery points of these days are under a legal hold
LEASED_DAY = 1  # a restore holds this one while its delete date comes
S3_DAYS = {0, 10}  # the plan also backs up a bucket on these days (cold through the ColdStorage workflow)
CHECKED = [29, 30, 31, 120, 364, 365, 366, 380, 400]
#: ages at which the snapshot itself is checked too (the catalog is checked for every recovery point)
BOUNDARY = {0, 29, 30, 31, 364, 365, 366}


@dataclass
class World:
    clock: FixedClock
    deps: Root
    sweeper: Sweeper
    leases: RestoreLeases
    records: SweepRecords
    holds: VaultCatalog
    ec2: Any
    volume_id: str


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, create_catalog_table: Callable[[Any, str], None]) -> Iterator[World]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        create_catalog_table(session.client("dynamodb"), TABLE)
        session.client("s3").create_bucket(Bucket="vault", ObjectLockEnabledForBucket=True)
        # the ColdStorage workflow S3 recovery points are handed to (moto records its executions, runs none)
        cold_machine = session.client("stepfunctions").create_state_machine(
            name="coldstorage", definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
            roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
        settings = Settings(catalog_table=TABLE, vault_bucket="vault", work_bucket="work", vault_key_arn=KEY,
                            region=REGION, cold_storage_state_machine_arn=cold_machine)
        clock = FixedClock(START)
        deps = bootstrap(settings, clock, session)
        holds = VaultCatalog(deps.client_for("dynamodb"), TABLE)
        holds.put_vault(Vault(name=LOCKED, key_arn=KEY, key_owner=KeyOwner.STACK, created_at=START,
                              lock=VaultLock(mode=LockMode.COMPLIANCE, min_retention_days=365,
                                             changeable_for_days=3, applied_at=START,
                                             lock_date=START + timedelta(days=3))))
        leases = RestoreLeases(deps.client_for("dynamodb"), TABLE)
        records = SweepRecords(deps.client_for("dynamodb"), TABLE)
        sweeper = deps.sweeper  # its pages: 100 recovery points
        ec2 = deps.client_for("ec2")
        volume_id = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=1)["VolumeId"]
        yield World(clock, deps, sweeper, leases, records, holds, ec2, volume_id)


def _catalogue(w: World, day: int, vault: str, resource_type: ResourceType, **fields: Any) -> RecoveryPoint:
    created = w.clock.now()
    found = w.holds.get_vault(vault)
    until = found.retain_until(PLAN, created, 35) if found else PLAN.retain_until(created, 35)
    if vault == LOCKED:
        until = max(until, created + timedelta(days=LOCKED_UNTIL_DAYS))
    rp = RecoveryPoint(recovery_point_id=f"{vault}-{resource_type.value}-{day:03d}", vault_name=vault,
                       resource_type=resource_type, status=RecoveryPointStatus.COMPLETED, creation_date=created,
                       completion_date=created, lifecycle=PLAN, cold_at=PLAN.cold_at(created),
                       delete_at=PLAN.delete_at(created), retain_until=until, job_id=f"job-{vault}-{day}", **fields)
    w.deps.catalog.put_recovery_point(rp)
    return rp


def _ebs_backup(w: World, day: int, vault: str = "Default") -> RecoveryPoint:
    snap = w.ec2.create_snapshot(VolumeId=w.volume_id)["SnapshotId"]
    return _catalogue(w, day, vault, ResourceType.EBS, resource_arn=f"arn:aws:ec2:{REGION}:123456789012:volume/"
                      f"{w.volume_id}", native_ref=snapshot_arn("aws", REGION, snap))


def _s3_backup(w: World, day: int) -> RecoveryPoint:
    rid = f"Default-S3-{day:03d}"
    until = PLAN.delete_at(w.clock.now())
    assert until is not None
    part_key = VaultLayout.part("Default", rid, 0)
    part = ManifestPart(recovery_point_id=rid, seq=0, entries=())
    sha = w.deps.vault.put_json_locked(part_key, part.model_dump(mode="json"), until)
    rp = _catalogue(w, day, "Default", ResourceType.S3, resource_arn="arn:aws:s3:::photos",
                    manifest_key=VaultLayout.manifest("Default", rid))
    assert rp.manifest_key is not None
    manifest = Manifest(recovery_point=rp, completed_at=w.clock.now(),
                        parts=(PartRef(seq=0, key=part_key, sha256=sha, objects=0, bytes=0),))
    w.deps.vault.put_json_locked(rp.manifest_key, manifest.model_dump(mode="json"), until)
    return rp


def _tiers(w: World, rps: list[RecoveryPoint]) -> dict[str, str]:
    """Storage tier of those of `rps` whose snapshot still exists, by native ref (one call)."""
    ids = [(rp.native_ref or "").rsplit("/", 1)[-1] for rp in rps]
    statuses = w.ec2.describe_snapshot_tier_status(
        Filters=[{"Name": "snapshot-id", "Values": ids}])["SnapshotTierStatuses"]
    return {snapshot_arn("aws", REGION, s["SnapshotId"]): s["StorageTier"] for s in statuses}


def _expected(age: int, held: bool) -> StorageClass:
    if age >= 365 and not held:
        return StorageClass.DELETED
    return StorageClass.COLD if age >= 30 else StorageClass.WARM


def test_a_simulated_year_of_a_daily_plan(world: World) -> None:
    w, catalog = world, world.deps.catalog
    made: dict[int, RecoveryPoint] = {}
    for day in range(max(CHECKED) + 1):
        w.clock.set(START + timedelta(days=day, hours=1))
        if day <= 365:  # the daily plan: one backup a day for a year (and a few in the locked vault)
            made[day] = _ebs_backup(w, day)
            if day in HELD_DAYS:
                w.holds.add_hold_members("hold-litigation", made[day].recovery_point_id, [])
            if day in S3_DAYS:
                _s3_backup(w, day)
            if day in (0, 7):
                _ebs_backup(w, day, LOCKED)
        if day == 360:
            w.leases.begin_restore(made[LEASED_DAY].recovery_point_id, "restore-job-1")
        if day == 370:
            w.leases.end_restore(made[LEASED_DAY].recovery_point_id, "restore-job-1")
        if day not in CHECKED:
            continue
        w.clock.set(START + timedelta(days=day, hours=12))
        run = f"day-{day}"
        reports = w.sweeper.sweep_vault(run, "Default") + w.sweeper.sweep_vault(run, LOCKED)
        assert len(reports) >= 2 + min(day, 365) // 100  # paged: 100 recovery points a Query
        moved = {k for r in reports for k in r.moved}
        expired = {k for r in reports for k in r.expired}
        skipped = {k: v for r in reports for k, v in r.skipped.items()}

        # every daily EBS recovery point is warm, cold or gone as its age says (held ones survive)
        stored = {rp.recovery_point_id: rp for v in ("Default", LOCKED) for rp in catalog.list_recovery_points(v)}
        # the snapshots themselves, for the recovery points at a boundary (and the held and leased ones)
        tiers = _tiers(w, [rp for c, rp in made.items() if day - c in BOUNDARY or c in HELD_DAYS | {LEASED_DAY}])
        for created_day, rp in made.items():
            age = day - created_day
            leased = created_day == LEASED_DAY and age >= 365 and day < 370
            want = StorageClass.COLD if leased else _expected(age, created_day in HELD_DAYS)
            now = stored[rp.recovery_point_id]
            assert now.storage_class is want, (day, created_day, now.storage_class)
            assert now.status is (RecoveryPointStatus.EXPIRED if want is StorageClass.DELETED
                                   else RecoveryPointStatus.COMPLETED)
            if day - created_day in BOUNDARY or created_day in HELD_DAYS | {LEASED_DAY}:
                assert tiers.get(rp.native_ref or "") == {StorageClass.DELETED: None, StorageClass.COLD: "archive",
                                                          StorageClass.WARM: "standard"}[want], (day, created_day)
            if age == 30:
                assert rp.recovery_point_id in moved, (day, created_day)
            if age == 365 and not leased and created_day not in HELD_DAYS:
                assert rp.recovery_point_id in expired
            if age >= 365 and created_day in HELD_DAYS:
                assert "legal hold hold-litigation" in skipped[rp.recovery_point_id]

        if day == 366:  # the restore that holds day 1's recovery point was respected (and said so)
            reason = skipped[made[LEASED_DAY].recovery_point_id]
            assert "a restore holds it" in reason and "restore-job-1" in reason, reason
        # S3 recovery points: cold at 30 days through the ColdStorage workflow (started once, named after the
        # recovery point), manifest gone at 365 days
        started = {e["name"] for e in w.deps.client_for("stepfunctions").list_executions(
            stateMachineArn=w.deps.settings.cold_storage_state_machine_arn)["executions"]}
        for s3_day in S3_DAYS:
            rid = f"Default-S3-{s3_day:03d}"
            rp = stored[rid]
            assert rp.manifest_key is not None
            age = day - s3_day
            gone = age >= 365
            assert rp.storage_class is (StorageClass.DELETED if gone else
                                        StorageClass.COLD if age >= 30 else StorageClass.WARM)
            assert w.deps.vault.lock_of(rp.manifest_key)[0] is not gone
            assert w.deps.vault.lock_of(VaultLayout.part("Default", rid, 0))[0] is not gone
            assert (f"cold-{rid}" in started) is (age >= 30)
            if age == 30:
                assert rid in moved
        # the locked vault's recovery points outlive DeleteAfterDays until their COMPLIANCE lock ends
        for locked_day in (0, 7):
            rid = f"{LOCKED}-EBS-{locked_day:03d}"
            rp = stored[rid]
            age = day - locked_day
            assert (rp.storage_class is StorageClass.DELETED) is (age >= LOCKED_UNTIL_DAYS), (day, locked_day)
            if 365 <= age < LOCKED_UNTIL_DAYS:
                assert "locked in COMPLIANCE mode" in skipped[rid]
        # each run recorded its pages: what it moved, expired and skipped, and why
        pages = list(w.records.pages(run))
        assert len(pages) == len(reports)
        assert {k for p in pages for k in p["moved"]} == moved
        assert {k for p in pages for k in p["expired"]} == expired
        assert {k: v for p in pages for k, v in p["skipped"].items()} == skipped
