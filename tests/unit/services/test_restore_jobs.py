"""Restore jobs on the ports' in-memory fakes (tests/fakes): refusals before anything is written, holds on the
recovery point, no AWS."""

from __future__ import annotations

import pytest
from fakes.catalog import RestoreLock
from fakes.world import START, FakeWorld

from coffer.domain.errors import InvalidInput, RecoveryPointDeleting
from coffer.domain.jobs import JobState
from coffer.domain.manifest import Manifest, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.requests import StartRestoreJobRequest
from coffer.domain.resources import ResourceType

VOLUME = "arn:aws:ec2:eu-west-1:111122223333:volume/vol-0123456789abcdef0"
EXECUTION = "arn:aws:states:eu-west-1:111122223333:execution:coffer-restore:one"


def catalogued(world: FakeWorld, status: RecoveryPointStatus) -> RecoveryPoint:
    """A recovery point with its manifest in the vault, as a backup leaves it."""
    rp = RecoveryPoint(recovery_point_id="rp-1", vault_name="Default", resource_arn=VOLUME,
                       resource_type=ResourceType.EBS, status=status, creation_date=START, retain_until=START,
                       job_id="backup-1", native_ref="snapshot-1", manifest_key=VaultLayout.manifest("Default", "rp-1"))
    sha = world.vault.put_json_locked(rp.manifest_key or "", Manifest(recovery_point=rp, completed_at=START,
                                                                      source={}).model_dump(mode="json"), START)
    world.catalog.put_recovery_point(rp.model_copy(update={"manifest_sha256": sha}))
    return world.catalog.get_recovery_point(rp.recovery_point_id)


def restore(token: str = "restore-1") -> StartRestoreJobRequest:
    return StartRestoreJobRequest.model_validate({"RecoveryPointArn": "rp-1", "IdempotencyToken": token})


@pytest.mark.parametrize("status", [RecoveryPointStatus.CREATING, RecoveryPointStatus.DELETING,
                                    RecoveryPointStatus.EXPIRED])
def test_a_restore_of_a_recovery_point_that_is_not_completed_is_refused_before_anything_is_written(
        status: RecoveryPointStatus) -> None:
    world = FakeWorld()
    catalogued(world, status)
    before, vault_writes = world.table.snapshot(), list(world.buckets.writes)
    with pytest.raises(InvalidInput) as refused:
        world.restore_jobs.start(restore(), "event-1", EXECUTION)
    assert refused.value.problems == [f"RecoveryPointArn: recovery point rp-1 is {status}, only COMPLETED or "
                                      "PARTIAL ones can be restored"]
    assert world.table.snapshot() == before and world.buckets.writes == vault_writes
    assert world.ebs.restored == []


def test_a_restore_holds_its_recovery_point_until_it_completes() -> None:
    world = FakeWorld()
    catalogued(world, RecoveryPointStatus.COMPLETED)
    started = world.restore_jobs.start(restore(), "event-1", EXECUTION)
    assert world.ebs.restored == [started.job_id] and world.table.restore_locks["rp-1"].restores == {started.job_id}
    done = world.restore_jobs.complete(started.job_id)
    assert done.state == JobState.COMPLETED.value and world.table.restore_locks["rp-1"].restores == set()


def test_a_restore_that_finds_an_expiry_begun_fails_its_job_and_starts_no_restore() -> None:
    world = FakeWorld()
    rp = catalogued(world, RecoveryPointStatus.COMPLETED)
    # the sweeper began its expiry after the restore read the recovery point, before the restore held it
    world.table.restore_locks[rp.recovery_point_id] = RestoreLock(expiry="sweeper:run-1")
    with pytest.raises(RecoveryPointDeleting):
        world.restore_jobs.start(restore(), "event-1", EXECUTION)
    [job] = world.table.jobs.values()
    assert job.state is JobState.FAILED and world.ebs.restored == []


def test_an_ebs_restore_still_creating_waits_on_its_event_keyed_by_target_and_job_and_its_check_parks_again() -> None:
    """EBS announces a volume's end (domain/native_waits.py): the start looks once and, not done, answers
    native_events with the waiter of that target *and* that job; so does a check that finds it still creating."""
    from coffer.domain.native_waits import restore_waiter_ref, waiter_key

    world = FakeWorld()
    catalogued(world, RecoveryPointStatus.COMPLETED)
    world.ebs.done = False
    started = world.restore_jobs.start(restore(), "event-1", EXECUTION)
    target = f"restored-by-{started.job_id}"
    assert started.next == "native_events"
    assert started.waiter_key == waiter_key(restore_waiter_ref(target, started.job_id))
    assert started.wait_seconds == world.settings.native_safety_net_seconds and started.waiter_ttl
    checked = world.restore_jobs.check(started.job_id)
    assert (checked.done, checked.wait, checked.waiter_key) == (False, "events", started.waiter_key)
    world.ebs.done = True
    assert world.restore_jobs.check(started.job_id).done is True


def test_an_ebs_restore_there_at_the_first_look_goes_straight_to_completion() -> None:
    world = FakeWorld()
    catalogued(world, RecoveryPointStatus.COMPLETED)
    assert world.restore_jobs.start(restore(), "event-1", EXECUTION).next == "native_done"


def test_a_check_of_a_target_that_another_job_made_completes_nothing() -> None:
    """The job's recorded target now carries another restore job's tag (an identifier made again by someone
    else): the check refuses it by name rather than complete this restore with another's database."""
    from coffer.domain.errors import RestoreMismatch

    world = FakeWorld()
    catalogued(world, RecoveryPointStatus.COMPLETED)
    world.ebs.done = False
    started = world.restore_jobs.start(restore(), "event-1", EXECUTION)
    job = world.catalog.get_job(started.job_id)
    world.catalog.save_job(job.with_changes(native_ref="restored-by-another-job"))
    world.ebs.done = True
    with pytest.raises(RestoreMismatch) as refused:
        world.restore_jobs.check(started.job_id)
    assert "restored-by-another-job" in str(refused.value) and started.job_id in str(refused.value)
