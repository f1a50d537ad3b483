"""A legal hold goes on the versions a recovery point pins (DESIGN invariant 6), on the fakes: someone who wrote a new
version over its manifest gets the hold on *their* version no more, and the backed-up version is held."""

from __future__ import annotations

from datetime import timedelta

from fakes.catalog import MemoryVaultRecords
from fakes.world import FakeWorld

from coffer.domain.legal_holds import CreateLegalHoldRequest
from coffer.domain.object_lock import LockMode
from coffer.domain.requests import StartBackupJobRequest
from coffer.services.legal_holds import LegalHolds

VOLUME = "arn:aws:ec2:eu-west-1:111122223333:volume/vol-0123456789abcdef0"


def test_a_legal_hold_is_placed_on_the_pinned_manifest_version_not_on_one_written_over_it() -> None:
    world = FakeWorld()
    started = world.backup_jobs.start(StartBackupJobRequest.model_validate(
        {"ResourceArn": VOLUME, "IdempotencyToken": "held"}), "event-held", None, "arn:execution")
    world.clock.advance(timedelta(minutes=5))
    rp = world.catalog.get_recovery_point(world.backup_jobs.complete(started.job_id).recovery_point_id or "")
    key = rp.manifest_key or ""
    forged = world.buckets.put(world.settings.vault_bucket, key, b'{"forged": true}', mode=LockMode.GOVERNANCE,
                               retain_until=world.clock.now() + timedelta(days=1))
    holds = LegalHolds(MemoryVaultRecords(world.table), world.catalog, world.vault, world.clock, world.audit)
    holds.create(CreateLegalHoldRequest.model_validate({
        "Title": "litigation", "RecoveryPointSelection": {"RecoveryPointIds": [rp.recovery_point_id]}}))
    assert world.vault.lock_of_version(key, rp.manifest_version_id or "").legal_hold is True
    assert world.vault.lock_of_version(key, forged.id).legal_hold is False
