"""The Sweep workflow's steps in-process on moto (issue 7): interrupted expiries finished by later runs, blob
garbage collection only of what nothing can reference any more, and a run's totals counted once.

Driven the way statemachines/sweep.asl.json drives them (list until done, one call per batch file, complete),
with an injected clock. The days lie 800 days in the wall clock's past, so every Object Lock date has passed for
moto: what keeps a version here is Coffer's own check (the cutoff, the legal hold, the vault exclusions), which S3
Object Lock backs up in the cloud (tests/contract/test_object_lock_contract.py shows S3's refusals).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from coffer.adapters.catalog.continuous import ContinuousCatalog
from coffer.adapters.catalog.vaults import VaultCatalog
from coffer.domain.clock import FixedClock
from coffer.domain.continuous import Protection, ProtectionState
from coffer.domain.legal_holds import LegalHold, LegalHoldStatus, RecoveryPointSelection
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry, PartRef, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus, StorageClass
from coffer.domain.resources import ResourceType
from coffer.domain.sweep import CompleteSweepStep, ListSweepItemsStep, SweepPhase, SweepRunSummary
from coffer.domain.vaults import KeyOwner, Vault
from coffer.entrypoints.bootstrap import Root, bootstrap
from coffer.services import sweeper as sweeper_module
from coffer.services.sweeper import Sweeper
from coffer.settings import Settings

REGION = "us-east-1"
TABLE = "catalog"
KEY = "arn:aws:kms:us-east-1:123456789012:key/stack"
START = (datetime.now(UTC) - timedelta(days=800)).replace(hour=0, minute=0, second=0, microsecond=0)


def day(n: float) -> datetime:
    return START + timedelta(days=n)


@dataclass
class World:
    clock: FixedClock
    deps: Root
    sweeper: Sweeper
    vaults: VaultCatalog
    s3: Any

    def run(self, run_id: str, at: float) -> SweepRunSummary:
        """One Sweep workflow run, step by step as the ASL calls them."""
        self.clock.set(day(at))
        for phase, child in ((SweepPhase.RECOVERY_POINTS, self.sweeper.sweep_batch),
                             (SweepPhase.RENEWALS, self.deps.lock_renewals.renew_batch),
                             (SweepPhase.BLOBS, self.sweeper.collect_blobs)):
            step = ListSweepItemsStep(run_id=run_id, phase=phase)
            while True:
                listed = self.sweeper.list_items(step)
                if not listed.more:
                    break
                step = step.model_copy(update={"token": listed.token, "next_seq": listed.next_seq})
            if listed.next_seq == 0:
                continue  # the Choice skips the Map
            for item in sorted(o["key"] for o in self.deps.work.listing(listed.items_prefix)):  # the ItemReader
                child(run_id, item)
        return self.sweeper.complete(CompleteSweepStep(run_id=run_id))

    def versions(self, prefix: str) -> set[str]:
        return {key for key, _ in self.deps.vault.versions(prefix)}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, create_catalog_table: Callable[[Any, str], None]) -> Iterator[World]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        create_catalog_table(session.client("dynamodb"), TABLE)
        s3 = session.client("s3")
        s3.create_bucket(Bucket="vault", ObjectLockEnabledForBucket=True)
        s3.create_bucket(Bucket="work")
        settings = Settings(catalog_table=TABLE, vault_bucket="vault", work_bucket="work", vault_key_arn=KEY,
                            region=REGION)
        clock = FixedClock(START)
        deps = bootstrap(settings, clock, session)
        vaults = VaultCatalog(deps.client_for("dynamodb"), TABLE)
        for name in ("Default", "Forever", "Pitr", "Pending"):
            vaults.put_vault(Vault(name=name, key_arn=KEY, key_owner=KeyOwner.STACK, created_at=START))
        yield World(clock, deps, deps.sweeper, vaults, s3)


def s3_point(w: World, rid: str, vault: str = "Default", *, blobs: dict[str, float] | None = None, parts: int = 1,
             delete_day: float | None = 10, locked_day: float = 10, status: RecoveryPointStatus =
             RecoveryPointStatus.COMPLETED, manifest: bool = True) -> RecoveryPoint:
    """An S3 recovery point as a backup leaves it: blobs (sha -> its lock day), parts, manifest, catalogued."""
    vault_store = w.deps.vault
    entries = []
    for sha, until in (blobs or {}).items():
        key = VaultLayout.blob(vault, sha)
        if not vault_store.lock_of(key)[0]:
            vault_store.put_locked(key, sha.encode(), day(until), "application/octet-stream")
        entries.append(ObjectEntry(key=f"obj-{sha}", size=len(sha), etag="e", last_modified=START.isoformat(),
                                   sha256=sha))
    lifecycle = Lifecycle(delete_after_days=delete_day) if delete_day else Lifecycle()
    rp = RecoveryPoint(recovery_point_id=rid, vault_name=vault, resource_type=ResourceType.S3,
                       resource_arn=f"arn:aws:s3:::{rid}", status=status, creation_date=START, completion_date=START,
                       lifecycle=lifecycle, delete_at=lifecycle.delete_at(START), retain_until=day(locked_day),
                       job_id=f"job-{rid}", manifest_key=VaultLayout.manifest(vault, rid) if manifest else None)
    refs = []
    for seq in range(parts):
        part = ManifestPart(recovery_point_id=rid, seq=seq, entries=tuple(entries) if seq == 0 else ())
        key = VaultLayout.part(vault, rid, seq)
        refs.append(PartRef(seq=seq, key=key, sha256=vault_store.put_json_locked(
            key, part.model_dump(mode="json"), day(locked_day)), objects=len(part.entries), bytes=0))
    if manifest:
        vault_store.put_json_locked(rp.manifest_key or "", Manifest(recovery_point=rp, completed_at=START,
                                                                    parts=tuple(refs)).model_dump(mode="json"),
                                    day(locked_day))
    w.deps.catalog.put_recovery_point(rp)
    return w.deps.catalog.get_recovery_point(rid)


def test_recovery_points_left_deleting_are_finished_by_later_runs(world: World) -> None:
    w, catalog = world, world.deps.catalog
    # one part locked longer than the others: the first expiry deletes what is unlocked (parts first, the
    # manifest last), stops at the locked part and leaves the recovery point DELETING
    s3_point(w, "longer-part", parts=2)
    part1 = VaultLayout.part("Default", "longer-part", 1)
    w.s3.put_object_retention(Bucket="vault", Key=part1, Retention={"Mode": "GOVERNANCE",
                                                                     "RetainUntilDate": day(20)})
    # a failed backup's leftovers (FailJob): DELETING, parts only, no manifest, locked to day 5
    s3_point(w, "failed-job", delete_day=None, locked_day=5, status=RecoveryPointStatus.DELETING, manifest=False)
    # an expiry interrupted midway: DELETING, part 0 already deleted, part 1 and the manifest still there
    interrupted = s3_point(w, "interrupted", parts=2)
    w.deps.catalog.put_recovery_point(interrupted.model_copy(update={"status": RecoveryPointStatus.DELETING}))
    [(key, version)] = [kv for kv in w.deps.vault.versions(VaultLayout.part("Default", "interrupted", 0))]
    w.s3.delete_object(Bucket="vault", Key=key, VersionId=version)

    first = w.run("day-3", 3)  # nothing due; both DELETING ones are still locked (kept DELETING, said why)
    assert (first.expired, first.skipped, first.skipped_by) == (0, 2, {"locked": 2}), first
    assert {catalog.get_recovery_point(rid).status for rid in ("failed-job", "interrupted")} == {
        RecoveryPointStatus.DELETING}

    second = w.run("day-12", 12)
    assert (second.state, second.expired, second.skipped) == ("COMPLETED", 2, 1), second
    assert catalog.get_recovery_point("longer-part").status is RecoveryPointStatus.DELETING
    assert w.versions(VaultLayout.recovery_point_prefix("Default", "longer-part")) == {
        part1, VaultLayout.manifest("Default", "longer-part")}
    for rid in ("failed-job", "interrupted"):
        rp = catalog.get_recovery_point(rid)
        assert (rp.status, rp.storage_class) == (RecoveryPointStatus.EXPIRED, StorageClass.DELETED), rid
        assert not w.versions(VaultLayout.recovery_point_prefix("Default", rid)), rid
    shown = {k: v for b in w.sweeper.records.batches("day-12") for k, v in b["skipped"].items()}
    assert "left DELETING" in shown["longer-part"] and "until" in shown["longer-part"]

    third = w.run("day-21", 21)  # its last lock has passed: finished
    assert (third.expired, third.skipped) == (1, 0), third
    assert catalog.get_recovery_point("longer-part").status is RecoveryPointStatus.EXPIRED
    assert not w.versions(VaultLayout.recovery_point_prefix("Default", "longer-part"))
    # a batch delivered again (Step Functions retried its child) returns what was recorded, counts nothing twice
    retried = w.sweeper.sweep_batch("day-21", "sweep/day-21/rps/00000000.json")
    assert (retried.expired, retried.kept) == (1, 0)
    assert w.sweeper.complete(CompleteSweepStep(run_id="day-21")).expired == 1


def test_blob_collection_deletes_only_unheld_versions_nothing_can_still_reference(world: World) -> None:
    w = world
    blob = {name: VaultLayout.blob(vault, name) for name, vault in (
        ("gone", "Default"), ("shared", "Default"), ("alive", "Default"), ("held", "Default"),
        ("forever", "Forever"), ("journal", "Pitr"), ("pending", "Pending"))}
    # Default: an expiring recovery point's own blob and one it shares with a live recovery point (whose backup
    # extended the shared blob's lock to day 50); a due recovery point under an ACTIVE legal hold
    s3_point(w, "expiring", blobs={"gone": 10, "shared": 50})
    s3_point(w, "alive", blobs={"shared": 50, "alive": 50}, delete_day=50, locked_day=50)
    held = s3_point(w, "held", blobs={"held": 10})
    w.vaults.put_hold(LegalHold(legal_hold_id="court", title="court", creation_date=START,
                                status=LegalHoldStatus.ACTIVE,
                                selection=RecoveryPointSelection(recovery_point_ids=("held",)),
                                recovery_point_ids=("held",)))
    held_objects = [(key, version) for key, version in w.deps.vault.versions(
        VaultLayout.recovery_point_prefix("Default", "held"))] + list(w.deps.vault.versions(blob["held"]))
    w.vaults.add_hold_members("court", "held", held_objects)
    for key, version in held_objects:
        w.deps.vault.set_legal_hold(key, version, on=True)
    # Forever: kept indefinitely (no DeleteAfterDays) and already past its default lock (made before lock renewals
    # existed): this run renews it, but its blobs were unlocked when the run started
    s3_point(w, "forever", "Forever", blobs={"forever": 10}, delete_day=None)
    # Pitr: a continuous S3 backup writes here (its restores read journal and base blobs after their lock)
    s3_point(w, "base", "Pitr", blobs={"journal": 5}, delete_day=None, locked_day=5,
             status=RecoveryPointStatus.EXPIRED)
    ContinuousCatalog(w.deps.client_for("dynamodb"), TABLE).save_protection(Protection(
        resource_arn="arn:aws:s3:::pitr", resource_type=ResourceType.S3, vault_name="Pitr", recovery_point_id="base",
        retention_days=7, state=ProtectionState.ACTIVE, enabled_at=START, job_id="job-base"))
    # Pending: a due recovery point whose hold is still being created (membership recorded, S3 holds not yet on)
    s3_point(w, "pending", "Pending", blobs={"pending": 10})
    w.vaults.put_hold(LegalHold(legal_hold_id="creating", title="creating", creation_date=START,
                                selection=RecoveryPointSelection(recovery_point_ids=("pending",)),
                                recovery_point_ids=("pending",)))
    w.vaults.add_hold_members("creating", "pending", [])

    summary = w.run("day-11", 11)
    assert summary.state == "COMPLETED", summary
    assert (summary.expired, summary.skipped_by) == (1, {"legal_hold": 2}), summary  # "held" and "pending" stay
    present = w.versions("vaults/")
    assert blob["gone"] not in present  # only the expired recovery point referenced it, its lock has passed
    assert {blob["shared"], blob["alive"], blob["held"]} <= present  # locked to day 50; under legal hold
    assert {blob["forever"], blob["journal"], blob["pending"]} <= present  # their vaults were left alone
    assert summary.blobs_deleted == 1 and summary.blobs_kept == 3, summary
    assert set(summary.gc_skipped) == {"Forever", "Pitr", "Pending"}, summary.gc_skipped
    assert "past its own lock" in summary.gc_skipped["Forever"] and "past its own lock" in summary.gc_skipped["Pending"]
    assert "continuous S3 backups" in summary.gc_skipped["Pitr"]
    assert held.recovery_point_id not in {k for b in w.sweeper.records.batches("day-11") for k in b["expired"]}
    # the kept-forever one was renewed by that run - a year past it, its blob first, the catalog last - so the next
    # run collects in its vault again, and keeps its blob (locked)
    renewed = w.deps.catalog.get_recovery_point("forever")
    assert renewed.retain_until == day(11) + timedelta(days=365), renewed.retain_until
    assert summary.renewals_completed == 1 and summary.locks_extended == 2, summary  # its blob and part (then manifest)
    assert w.deps.vault.lock_of(blob["forever"])[1] == renewed.retain_until
    following = w.run("day-12", 12)
    assert "Forever" not in following.gc_skipped, following.gc_skipped
    assert blob["forever"] in w.versions("vaults/") and following.renewals_completed == 0, following


def test_a_large_expiry_is_spread_over_runs_by_the_batchs_deletion_budget(world: World,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweeper_module, "VERSION_BUDGET", 3)  # 3 object versions per batch (2,000 in the cloud)
    w = world
    s3_point(w, "large", parts=4)  # 4 parts and a manifest: 5 versions
    first = w.run("day-11", 11)
    assert (first.expired, first.skipped_by) == (0, {"deferred": 1}), first
    assert w.deps.catalog.get_recovery_point("large").status is RecoveryPointStatus.DELETING
    left = w.versions(VaultLayout.recovery_point_prefix("Default", "large"))
    assert left == {VaultLayout.part("Default", "large", 3), VaultLayout.manifest("Default", "large")}
    second = w.run("day-12", 12)
    assert (second.expired, second.skipped) == (1, 0), second
    assert not w.versions(VaultLayout.recovery_point_prefix("Default", "large"))
    assert w.deps.catalog.get_recovery_point("large").status is RecoveryPointStatus.EXPIRED


def test_a_renewal_a_batch_cannot_number_is_deferred_to_the_next_run_not_left_to_lapse(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Renewal items are numbered within their batch's range (batch seq * ITEMS_PER_BATCH + n): one that would not
    fit must not take the next batch's numbers (two items under one name: one renewal silently lost). It is
    deferred, said so, and renewed by the next run - the lead leaves 30 days for that."""
    monkeypatch.setattr(sweeper_module, "ITEMS_PER_BATCH", 1)  # 100,000 in the cloud
    w = world
    s3_point(w, "wide", "Forever", parts=2, delete_day=None, locked_day=40)  # two parts: two items
    first = w.run("day-11", 11)
    assert first.skipped_by == {"deferred": 1} and first.renewals_completed == 0, first
    assert w.deps.catalog.get_recovery_point("wide").retain_until == day(40)
    monkeypatch.setattr(sweeper_module, "ITEMS_PER_BATCH", 100_000)
    second = w.run("day-12", 12)
    assert second.renewals_completed == 1 and not second.skipped_by, second
    renewed = w.deps.catalog.get_recovery_point("wide").retain_until
    assert renewed == day(40) + timedelta(days=365)
    assert all(w.deps.vault.lock_of(k)[1] == renewed for k in w.versions(VaultLayout.recovery_point_prefix(
        "Forever", "wide")))
