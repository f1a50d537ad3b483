"""Aurora point-in-time restore on the ports' in-memory fakes: the moment is Coffer's to check against the window
(refused before anything is written), and "the latest" reaches the adapter as a request for RDS's latest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes.world import START, FakeWorld

from coffer.domain.continuous import Protection, ProtectionState
from coffer.domain.errors import InvalidInput
from coffer.domain.manifest import Manifest, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.requests import StartRestoreJobRequest
from coffer.domain.resources import ResourceType

CLUSTER = "arn:aws:rds:eu-west-1:111122223333:cluster:ledger"
EXECUTION = "arn:aws:states:eu-west-1:111122223333:execution:coffer-restore:one"


def protected(world: FakeWorld) -> RecoveryPoint:
    """An Aurora cluster under continuous protection since START + 1h (3 days kept), its recovery point catalogued."""
    rp = RecoveryPoint(recovery_point_id="rp-pitr", vault_name="Default", resource_arn=CLUSTER,
                       resource_type=ResourceType.AURORA, status=RecoveryPointStatus.COMPLETED, creation_date=START,
                       retain_until=START + timedelta(days=3), job_id="backup-1",
                       manifest_key=VaultLayout.manifest("Default", "rp-pitr"))
    world.vault.put_json_locked(rp.manifest_key or "", Manifest(recovery_point=rp, completed_at=START, source={
        "db_cluster_identifier": "ledger", "engine": "aurora-postgresql"}).model_dump(mode="json"), START)
    world.catalog.put_recovery_point(rp)
    world.continuous.records.save_protection(Protection(
        resource_arn=CLUSTER, resource_type=ResourceType.AURORA, vault_name="Default", recovery_point_id="rp-pitr",
        retention_days=3, state=ProtectionState.ACTIVE, enabled_at=START, active_since=START + timedelta(hours=1),
        job_id="backup-1"))
    world.clock.advance(timedelta(hours=5))
    return world.catalog.get_recovery_point("rp-pitr")


def request(token: str, **metadata: str) -> StartRestoreJobRequest:
    return StartRestoreJobRequest.model_validate({"RecoveryPointArn": "rp-pitr", "IdempotencyToken": token,
                                                  "Metadata": {"DBClusterIdentifier": "ledger-restored", **metadata}})


@pytest.mark.parametrize(("moment", "why"), [
    ("2026-11-25T10:59:59Z", "before protection was active"),
    ("2026-11-25T15:00:01Z", "after now"),
])
def test_an_aurora_restore_outside_the_window_is_refused_before_anything_is_written(moment: str, why: str) -> None:
    world = FakeWorld()
    protected(world)
    before = world.table.snapshot()
    with pytest.raises(InvalidInput) as refused:
        world.restore_jobs.start(request("r-1", RestoreTime=moment), "event-1", EXECUTION)
    assert refused.value.problems == [
        f"Metadata.RestoreTime: {moment} is outside the restorable window 2026-11-25T11:00:00Z .. "
        "2026-11-25T15:00:00Z of continuous recovery point rp-pitr (3 days kept)"], why
    assert world.table.snapshot() == before


def test_an_aurora_restore_to_the_latest_moment_keeps_asking_for_the_latest() -> None:
    """The window ends now, but RDS's latest restorable time trails the clock: the job keeps the request for the
    latest so the adapter asks RDS for UseLatestRestorableTime, not for now (RDS would refuse now)."""
    world = FakeWorld()
    rp = protected(world)
    target = world.continuous.restore_target(rp, {"DBClusterIdentifier": "x", "UseLatestRestorableTime": "true"})
    assert target == {"DBClusterIdentifier": "x", "UseLatestRestorableTime": "true",
                      "RestoreTime": "2026-11-25T15:00:00Z"}
    inside = world.continuous.restore_target(rp, {"DBClusterIdentifier": "x", "RestoreTime": "2026-11-25T12:00:00Z"})
    assert inside == {"DBClusterIdentifier": "x", "RestoreTime": "2026-11-25T12:00:00Z"}


def test_a_restore_time_for_an_aurora_snapshot_recovery_point_is_refused_by_name() -> None:
    world = FakeWorld()
    rp = protected(world)
    snapshot = rp.model_copy(update={"recovery_point_id": "rp-snapshot"})
    with pytest.raises(InvalidInput, match=r"Metadata\.RestoreTime: recovery point rp-snapshot is a snapshot"):
        world.continuous.restore_target(snapshot, {"DBClusterIdentifier": "x", "RestoreTime": "2026-11-25T12:00:00Z"})
