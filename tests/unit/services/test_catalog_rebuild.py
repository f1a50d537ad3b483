"""Catalog rebuild's decisions on the in-memory fakes: which manifest version of a recovery point it believes (locked as
it claims, and named by the audit chain), and what it reports and skips instead - each test written as the one who
writes into the vault with s3:PutObject (a new version over a manifest, a made-up recovery point, garbage)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from fakes.world import START, FakeWorld, unused

from coffer.domain.audit import ChainHead
from coffer.domain.manifest import Manifest, VaultLayout
from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.requests import StartBackupJobRequest
from coffer.domain.verify import FindingKind
from coffer.ports.vault import LockFacts
from coffer.services.catalog_rebuild import CatalogRebuild, RebuildReport, _lock_doubts

VOLUME = "arn:aws:ec2:eu-west-1:111122223333:volume/vol-0123456789abcdef0"
OTHER_VOLUME = VOLUME.replace("vol-0123", "vol-9999")
EXECUTION = "arn:aws:states:eu-west-1:111122223333:execution:coffer-backup:"


def backed_up(world: FakeWorld, token: str = "nightly-1", volume: str = VOLUME) -> RecoveryPoint:
    request = StartBackupJobRequest.model_validate({"ResourceArn": volume, "IdempotencyToken": token,
                                                    "Lifecycle": {"DeleteAfterDays": 35}})
    started = world.backup_jobs.start(request, f"event-{token}", None, EXECUTION + token)
    world.clock.advance(timedelta(minutes=5))
    done = world.backup_jobs.complete(started.job_id)
    world.clock.advance(timedelta(minutes=5))
    return world.catalog.get_recovery_point(done.recovery_point_id or "")


def rebuilt(world: FakeWorld) -> tuple[FakeWorld, RebuildReport]:
    """The table is lost: a new catalog over the same vault, rebuilt."""
    fresh = FakeWorld(clock=world.clock)
    fresh.__dict__["buckets"] = world.buckets  # the vault survives the table
    rebuild = CatalogRebuild(fresh.catalog, fresh.vault, fresh.vaults)
    return fresh, rebuild.rebuild_vault("Default")


def attacker_puts(world: FakeWorld, key: str, body: bytes, days: int = 1) -> str:
    """PutObject as someone with s3:PutObject on the vault: the bucket's default retention, a new version."""
    version = world.buckets.put(world.settings.vault_bucket, key, body, mode=LockMode.GOVERNANCE,
                                retain_until=world.clock.now() + timedelta(days=days))
    return version.id


def kinds(report: RebuildReport) -> list[tuple[FindingKind, str | None]]:
    return [(f.kind, f.recovery_point_id) for f in report.findings]


def test_a_recovery_point_is_rebuilt_from_the_manifest_version_the_chain_records() -> None:
    world = FakeWorld()
    rp = backed_up(world)
    fresh, report = rebuilt(world)
    assert report.restored == [rp.recovery_point_id] and report.findings == [] and not report.refused
    again = fresh.catalog.get_recovery_point(rp.recovery_point_id)
    assert again == rp and again.manifest_version_id  # the same point, its manifest pinned


def test_a_new_version_written_over_a_manifest_is_refused_and_the_recorded_one_rebuilt() -> None:
    world = FakeWorld()
    rp = backed_up(world)
    original = Manifest.model_validate_json(world.vault.get_bytes(rp.manifest_key or ""))
    forged = original.model_copy(update={"recovery_point": original.recovery_point.model_copy(update={
        "delete_at": world.clock.now() + timedelta(days=1), "retain_until": world.clock.now() + timedelta(days=1),
        "tags": {"owner": "attacker"}})})
    world.clock.advance(timedelta(hours=1))
    attacker_puts(world, rp.manifest_key or "", forged.model_dump_json().encode(), days=2)
    fresh, report = rebuilt(world)
    assert report.restored == [rp.recovery_point_id]
    assert fresh.catalog.get_recovery_point(rp.recovery_point_id) == rp  # its dates and tags, not the forged ones
    assert kinds(report) == [(FindingKind.TAMPERED, rp.recovery_point_id)] and report.refused


def test_a_made_up_recovery_point_the_chain_never_recorded_is_untrusted_even_if_locked_as_it_claims() -> None:
    world = FakeWorld()
    real = backed_up(world)
    template = Manifest.model_validate_json(world.vault.get_bytes(real.manifest_key or ""))
    planted = template.recovery_point.model_copy(update={"recovery_point_id": "planted", "job_id": "none"})
    key = VaultLayout.manifest("Default", "planted")
    # locked for longer than it claims, in the vault's mode: only the chain can tell
    attacker_puts(world, key, template.model_copy(update={"recovery_point": planted}).model_dump_json().encode(),
                  days=400)
    fresh, report = rebuilt(world)
    assert report.restored == [real.recovery_point_id]
    assert kinds(report) == [(FindingKind.UNTRUSTED, "planted")] and "planted: refused" in report.skipped
    assert [p.recovery_point_id for p in fresh.catalog.list_recovery_points("Default")] == [real.recovery_point_id]


def test_an_unparseable_manifest_is_reported_and_the_rebuild_goes_on() -> None:
    world = FakeWorld()
    rp = backed_up(world)
    attacker_puts(world, VaultLayout.manifest("Default", "garbage"), b"\xff not json {")
    attacker_puts(world, VaultLayout.manifest("Default", "wrong-shape"), json.dumps({"format": 1}).encode())
    _, report = rebuilt(world)
    assert report.restored == [rp.recovery_point_id]
    assert sorted(kinds(report), key=str) == [(FindingKind.UNPARSEABLE, "garbage"),
                                              (FindingKind.UNPARSEABLE, "wrong-shape")]
    assert report.refused


def test_a_recovery_point_whose_recorded_manifest_version_is_gone_is_tampered_not_rebuilt_from_another() -> None:
    world = FakeWorld()
    rp = backed_up(world)
    body = world.vault.get_bytes(rp.manifest_key or "")
    # the operator's governance bypass removed the recorded version; someone put the same claims back, long-locked
    world.vault.delete_version_bypassing_governance(rp.manifest_key or "", rp.manifest_version_id or "")
    attacker_puts(world, rp.manifest_key or "", body, days=400)
    fresh, report = rebuilt(world)
    assert report.restored == [] and kinds(report) == [(FindingKind.TAMPERED, rp.recovery_point_id)]
    assert list(fresh.catalog.list_recovery_points("Default")) == []


def test_a_manifest_not_locked_as_long_as_it_claims_is_refused_without_an_audit_chain() -> None:
    world = FakeWorld()
    template = backed_up(world)
    manifest = Manifest.model_validate_json(world.vault.get_bytes(template.manifest_key or ""))
    for key in [k for k in world.buckets.buckets["vault"] if k.startswith("audit/")]:
        del world.buckets.buckets["vault"][key]  # a vault from before the audit chain: no records at all
    short = manifest.recovery_point.model_copy(update={"recovery_point_id": "short"})
    attacker_puts(world, VaultLayout.manifest("Default", "short"),
                  manifest.model_copy(update={"recovery_point": short}).model_dump_json().encode(), days=1)
    _, report = rebuilt(world)
    assert report.restored == [template.recovery_point_id]  # its own lock covers what it claims
    assert kinds(report) == [(FindingKind.UNTRUSTED, "short")]
    assert "locked until" in report.findings[0].detail


def test_a_manifest_written_before_the_chain_recorded_backups_is_believed_on_its_lock_as_legacy() -> None:
    world = FakeWorld()
    audited = world.backup_jobs._audit
    world.backup_jobs._audit = unused("the audit log (backups were not audited yet)")
    with pytest.raises(AssertionError, match="audit log"):
        backed_up(world, "old")  # as before backups were audited: its manifest written, no record of it
    old_id = Manifest.model_validate_json(world.vault.get_bytes(next(
        k for k in world.buckets.buckets["vault"] if k.endswith("manifest.json")))).recovery_point.recovery_point_id
    world.backup_jobs._audit = audited
    world.clock.advance(timedelta(days=1))
    newer = backed_up(world, "new", OTHER_VOLUME)  # the first backup the chain records
    _, report = rebuilt(world)
    assert sorted(report.restored) == sorted([old_id, newer.recovery_point_id])
    assert kinds(report) == [(FindingKind.LEGACY, old_id)] and not report.refused


def test_a_manifest_planted_in_the_same_second_as_the_chains_first_record_is_not_believed_as_legacy() -> None:
    """S3's LastModified is whole seconds; an audit record's time is not. The attacker plants a made-up recovery
    point's manifest within the second the chain's first creation record was written: its LastModified reads as
    *before* that record, but it is no older - it must not pass as a manifest from before backups were audited."""
    world = FakeWorld()
    world.clock.advance(timedelta(microseconds=700_000))
    rp = backed_up(world)
    first = world.audit.record(1).at
    assert first.microsecond  # the record's time is finer than a second
    world.clock.set(first.replace(microsecond=0))  # what S3 would say of a version written in that second
    manifest = Manifest.model_validate_json(world.vault.get_bytes(rp.manifest_key or ""))
    planted = manifest.model_copy(update={"recovery_point": manifest.recovery_point.model_copy(update={
        "recovery_point_id": "made-up", "job_id": "never-ran"})})
    attacker_puts(world, VaultLayout.manifest("Default", "made-up"), planted.model_dump_json().encode(), days=3653)
    _, report = rebuilt(world)
    assert report.restored == [rp.recovery_point_id]
    assert kinds(report) == [(FindingKind.UNTRUSTED, "made-up")] and report.refused


def test_an_audit_record_written_over_is_reported_and_its_first_version_believed() -> None:
    world = FakeWorld()
    rp = backed_up(world)
    record = world.audit.record(1)
    forged = {"record": record.model_dump(mode="json") | {"details": {}}, "hash": "0" * 64}
    world.clock.advance(timedelta(hours=1))
    attacker_puts(world, "audit/000000000001.json", json.dumps(forged).encode(), days=3653)
    fresh, report = rebuilt(world)
    assert report.restored == [rp.recovery_point_id]
    assert kinds(report) == [(FindingKind.TAMPERED, None)] and report.findings[0].key == "audit/000000000001.json"
    # the head is put back at the first version's hash: the version written over it neither breaks nor extends it
    assert report.audit_head == 1 and fresh.vaults.catalog.audit_head() == ChainHead(1, record.digest())


def test_a_retried_completion_leaves_two_versions_of_one_backup_and_reports_nothing() -> None:
    world = FakeWorld()
    rp = backed_up(world)
    job = world.catalog.get_job(rp.job_id)
    manifest = Manifest.model_validate_json(world.vault.get_bytes(rp.manifest_key or ""))
    # the retry's manifest: the same backup, completed a little later (an unrecorded version beside the recorded)
    retry = manifest.model_copy(update={"recovery_point": manifest.recovery_point.model_copy(update={
        "completion_date": world.clock.now()})})
    world.vault.put_json_locked(rp.manifest_key or "", retry.model_dump(mode="json"), rp.retain_until,
                                world.vaults.seal_for(job))
    fresh, report = rebuilt(world)
    assert report.restored == [rp.recovery_point_id] and report.findings == []
    assert fresh.catalog.get_recovery_point(rp.recovery_point_id).manifest_version_id == rp.manifest_version_id


def test_a_lock_kept_to_the_second_covers_a_claim_made_to_the_microsecond() -> None:
    """S3 (and moto) keep a retain-until date to the second: the lock S3 reports for the manifest Coffer wrote is
    up to a second earlier than the date its recovery point claims, and is not a doubt; a second less is."""
    claimed = START + timedelta(days=35, microseconds=359_292)
    kept = LockFacts(True, claimed.replace(microsecond=0), "GOVERNANCE", version_id="1")
    assert _lock_doubts(kept, LockMode.GOVERNANCE, claimed) == []
    short = LockFacts(True, claimed.replace(microsecond=0) - timedelta(seconds=1), "GOVERNANCE", version_id="1")
    assert _lock_doubts(short, LockMode.GOVERNANCE, claimed) != []
    assert _lock_doubts(kept, LockMode.COMPLIANCE, claimed) == ["it is locked in GOVERNANCE, the vault locks in "
                                                                "COMPLIANCE"]


def test_a_recovery_point_written_governance_is_believed_after_the_vault_turned_compliance() -> None:
    """Its lock is judged by the mode the chain says it was written in: a vault locked COMPLIANCE later keeps its
    older recovery points GOVERNANCE (S3 cannot convert them), and they are still rebuilt; one the chain does not
    name is judged by the vault's mode now."""
    world = FakeWorld()
    rp = backed_up(world)
    fresh = FakeWorld(clock=world.clock, settings=dataclasses.replace(world.settings, vault_lock_mode="COMPLIANCE"))
    fresh.__dict__["buckets"] = world.buckets
    report = CatalogRebuild(fresh.catalog, fresh.vault, fresh.vaults).rebuild_vault("Default")
    assert report.restored == [rp.recovery_point_id] and report.findings == []
    record = world.audit.record(1)
    assert record.details["lock_mode"] == "GOVERNANCE"
