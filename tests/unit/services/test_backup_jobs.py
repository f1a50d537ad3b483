"""Backup jobs on the ports' in-memory fakes (tests/fakes): the service's own rules, no AWS, milliseconds each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes.resources import FakeResources, RecordingAdapter
from fakes.world import FakeWorld

from coffer.domain.errors import IdempotencyConflict, InvalidInput, ResourceBusy
from coffer.domain.jobs import Job, JobState
from coffer.domain.manifest import Manifest, VaultLayout
from coffer.domain.recovery_points import RecoveryPointStatus
from coffer.domain.requests import StartBackupJobRequest
from coffer.domain.resources import ResourceType
from coffer.domain.steps import PollResult
from coffer.ports.resources import StartedBackup

VOLUME = "arn:aws:ec2:eu-west-1:111122223333:volume/vol-0123456789abcdef0"
EXECUTION = "arn:aws:states:eu-west-1:111122223333:execution:coffer-backup:"


def request(token: str = "nightly-1", **detail: object) -> StartBackupJobRequest:
    return StartBackupJobRequest.model_validate({"ResourceArn": VOLUME, "IdempotencyToken": token, **detail})


def test_a_second_delivery_of_a_start_backup_job_returns_the_first_job_and_starts_nothing() -> None:
    world = FakeWorld()
    first = world.backup_jobs.start(request(), "event-1", None, EXECUTION + "one")
    again = world.backup_jobs.start(request(), "event-1", None, EXECUTION + "two")  # EventBridge delivered it twice
    assert (again.job_id, again.duplicate, again.next) == (first.job_id, True, "done")
    assert world.ebs.started == [first.job_id]  # one snapshot, however often the event arrives
    assert list(world.table.jobs) == [first.job_id]


def test_a_retry_of_the_same_execution_carries_on_with_its_job_without_a_second_snapshot() -> None:
    world = FakeWorld()
    first = world.backup_jobs.start(request(), "event-1", None, EXECUTION + "one")
    retried = world.backup_jobs.start(request(), "event-1", None, EXECUTION + "one")  # Step Functions' Retry
    # the start's one look at an EBS snapshot (its end is announced): the fake's is complete at once
    assert (retried.job_id, retried.duplicate, retried.next) == (first.job_id, False, "native_done")
    assert world.ebs.started == [first.job_id]


def test_a_token_used_for_another_request_is_refused_and_nothing_is_written() -> None:
    world = FakeWorld()
    world.backup_jobs.start(request(), "event-1", None, EXECUTION + "one")
    before = world.table.snapshot()
    with pytest.raises(IdempotencyConflict, match="nightly-1"):
        world.backup_jobs.start(request(Lifecycle={"DeleteAfterDays": 90}), "event-2", None, EXECUTION + "two")
    assert world.table.snapshot() == before


def test_an_on_demand_backup_of_a_resource_another_job_holds_is_refused_naming_that_job() -> None:
    world = FakeWorld()
    running = world.backup_jobs.start(request("first"), "event-1", None, EXECUTION + "one")
    before = world.table.snapshot()
    with pytest.raises(ResourceBusy) as busy:
        world.backup_jobs.start(request("second"), "event-2", None, EXECUTION + "two")
    assert busy.value.running_job_id == running.job_id
    assert world.table.snapshot() == before and world.ebs.started == [running.job_id]


def test_a_completed_backup_writes_its_manifest_before_its_recovery_point() -> None:
    world = FakeWorld()
    started = world.backup_jobs.start(request(), "event-1", None, EXECUTION + "one")
    world.clock.advance(timedelta(minutes=5))
    done = world.backup_jobs.complete(started.job_id)
    rp = world.catalog.get_recovery_point(done.recovery_point_id or "")
    manifest_key = VaultLayout.manifest(rp.vault_name, rp.recovery_point_id)
    # one log of the vault's and the catalog's writes: the manifest, its audit record (backup.complete), then (one
    # transaction) the point and the job
    writes = [w for w in world.table.writes if w[0] != "audit_head"]
    assert writes[-4:] == [(world.settings.vault_bucket, manifest_key), (world.settings.vault_bucket,
                                                                          "audit/000000000001.json"),
                           ("recovery_point", rp.recovery_point_id), ("job", started.job_id)]
    assert rp.status is RecoveryPointStatus.COMPLETED and rp.manifest_key == manifest_key
    # the catalog pins the manifest's version beside its SHA-256, and the chain records both
    assert rp.manifest_version_id == world.vault.lock_of(manifest_key).version_id
    record = world.audit.record(1)
    assert (record.action, record.target) == ("backup.complete", rp.recovery_point_id)
    assert {k: record.details[k] for k in ("manifest_key", "manifest_version_id", "manifest_sha256")} == {
        "manifest_key": manifest_key, "manifest_version_id": rp.manifest_version_id,
        "manifest_sha256": rp.manifest_sha256}
    manifest = Manifest.model_validate_json(world.vault.get_bytes(manifest_key))
    assert manifest.recovery_point.recovery_point_id == rp.recovery_point_id
    assert world.vault.lock_of(manifest_key)[1] == rp.retain_until  # locked until the recovery point may go


def test_a_forged_resume_that_reaches_complete_while_the_snapshot_is_pending_writes_nothing() -> None:
    """The attacker resumes the parked task token (anyone who can read the waiter record can): the workflow goes
    straight to CompleteBackup, whose own look finds the snapshot pending - it answers how to wait (the event again)
    and writes no manifest, no recovery point, no audit record, no job change."""
    world = FakeWorld()
    world.ebs.done = False
    started = world.backup_jobs.start(request(), "event-1", None, EXECUTION + "one")
    assert started.next == "native_events"
    before = world.table.snapshot()
    writes = list(world.table.writes)
    answer = world.backup_jobs.complete(started.job_id)
    assert isinstance(answer, PollResult) and (answer.done, answer.wait) == (False, "events")
    assert answer.waiter_key == started.waiter_key
    assert world.table.snapshot() == before and world.table.writes == writes
    assert world.catalog.get_job(started.job_id).state is JobState.RUNNING
    world.ebs.done = True  # the real end: now it completes
    done = world.backup_jobs.complete(started.job_id)
    assert not isinstance(done, PollResult) and done.state == "COMPLETED"


def test_a_backup_whose_manifest_cannot_be_written_makes_no_recovery_point_and_keeps_running() -> None:
    world = FakeWorld()
    started = world.backup_jobs.start(request(), "event-1", None, EXECUTION + "one")
    world.buckets.refusing[(world.settings.vault_bucket, "vaults/")] = "the vault is unreachable"
    with pytest.raises(OSError, match="unreachable"):
        world.backup_jobs.complete(started.job_id)
    assert world.table.recovery_points == {}
    job = world.catalog.get_job(started.job_id)
    assert job.state is JobState.RUNNING and world.catalog.lease_holder(VOLUME) == job.job_id
    assert world.turns.ended == []  # nothing ended: no queued job is woken


def test_a_backup_that_ends_wakes_the_job_queued_for_its_resource_once() -> None:
    world = FakeWorld()
    first = world.backup_jobs.start(request("first"), "event-1", None, EXECUTION + "one")
    queued = world.backup_jobs.start(request("second", BackupPlanId="plan-1"), "event-2", None, EXECUTION + "two")
    assert queued.next == "queued" and world.catalog.get_job(queued.job_id).state is JobState.PENDING
    world.backup_jobs.await_turn(queued.job_id, queued.waiting_for, "token-of-second")
    assert world.turns.waiting(VOLUME) == [queued.job_id] and world.turns.woken == []
    world.backup_jobs.complete(first.job_id)
    assert world.turns.ended == [first.job_id] and world.turns.woken == ["token-of-second"]
    resumed = world.backup_jobs.start(request("second", BackupPlanId="plan-1"), "event-2", None, EXECUTION + "two")
    assert resumed.next == "native_done" and world.ebs.started == [first.job_id, queued.job_id]


# ---- the RDS family's clusters: one ARN form, the engine decides the type -----------------------------------------
CLUSTER = "arn:aws:rds:eu-west-1:111122223333:cluster:profiles"


def cluster_world() -> tuple[FakeWorld, RecordingAdapter, RecordingAdapter]:
    """A world whose registry says CLUSTER runs DocumentDB (as DescribeDBClusters' Engine docdb would)."""
    world = FakeWorld()
    aurora, docdb = RecordingAdapter(ResourceType.AURORA), RecordingAdapter(ResourceType.DOCUMENTDB)
    world.resources = FakeResources(world.ebs, aurora, docdb, types={CLUSTER: ResourceType.DOCUMENTDB})
    return world, aurora, docdb


def test_a_cluster_arn_is_backed_up_as_the_type_its_engine_says_not_as_its_arn_reads() -> None:
    world, aurora, docdb = cluster_world()
    started = world.backup_jobs.start(request(ResourceArn=CLUSTER), "event-1", None, EXECUTION + "one")
    job = world.catalog.get_job(started.job_id)
    assert job.resource_type is ResourceType.DOCUMENTDB  # the ARN alone reads Aurora
    assert (docdb.started, aurora.started) == ([started.job_id], [])


def test_a_plans_continuous_rule_backs_up_a_documentdb_cluster_with_a_snapshot() -> None:
    # the plan run read the cluster's ARN as Aurora's and asked for continuous backup: AWS Backup's reading of a
    # continuous rule is a snapshot for a type without point-in-time recovery, so the job is a snapshot backup
    world, _, docdb = cluster_world()
    planned = request(ResourceArn=CLUSTER, EnableContinuousBackup=True, BackupPlanId="plan-1", BackupRuleName="daily")
    started = world.backup_jobs.start(planned, "event-1", None, EXECUTION + "one")
    job = world.catalog.get_job(started.job_id)
    assert (job.continuous, job.resource_type, docdb.started) == (False, ResourceType.DOCUMENTDB, [started.job_id])


def test_an_on_demand_continuous_backup_of_a_documentdb_cluster_is_refused_naming_the_field() -> None:
    world, _, docdb = cluster_world()
    with pytest.raises(InvalidInput, match="EnableContinuousBackup: DocumentDB cannot be backed up continuously"):
        world.backup_jobs.start(request(ResourceArn=CLUSTER, EnableContinuousBackup=True), "event-1", None,
                                EXECUTION + "one")
    assert docdb.started == [] and not world.table.jobs


def _announced(world: FakeWorld, job_id: str) -> list[tuple[str, int]]:
    from coffer.domain.job_events import JobChange

    return [(c.job.history[c.state_version - 1].state.value, c.state_version) for c in world.events.changes
            if isinstance(c, JobChange) and c.job.job_id == job_id]


def test_a_retried_start_that_finds_its_job_running_announces_running_again_for_the_event_it_may_have_lost() -> None:
    """The start's write went through, its answer (and so its job event) was lost: the retry finds RUNNING, the
    state it was going to write, and owes that event. Consumers dedupe it by stateVersion."""
    world = FakeWorld()
    first = world.backup_jobs.start(request(), "event-1", None, EXECUTION + "one")
    assert _announced(world, first.job_id) == [("CREATED", 1), ("RUNNING", 2)]
    world.backup_jobs.start(request(), "event-1", None, EXECUTION + "one")  # Step Functions' Retry
    assert _announced(world, first.job_id) == [("CREATED", 1), ("RUNNING", 2), ("RUNNING", 2)]
    # another execution's second delivery is no retry of this one: nothing is announced for it
    world.backup_jobs.start(request(), "event-1", None, EXECUTION + "two")
    assert len(_announced(world, first.job_id)) == 3


def test_created_goes_out_with_running_in_one_call_and_a_start_that_dies_between_them_still_announces_it() -> None:
    """CREATED is written unannounced and goes out with the start's next write (one PutEvents for both). The start
    dies after the job is written, before that next write (its snapshot call times out): the retry of the same
    execution announces CREATED, then RUNNING - no transition goes unannounced."""
    world = FakeWorld()
    calls_before = len(world.events.calls)
    first = world.backup_jobs.start(request(), "event-1", None, EXECUTION + "one")
    assert _announced(world, first.job_id) == [("CREATED", 1), ("RUNNING", 2)]
    assert len(world.events.calls) == calls_before + 1  # both in one call

    world = FakeWorld()
    start_backup = world.ebs.start_backup

    def times_out(job: Job, fresh: bool = False) -> StartedBackup:
        raise TimeoutError("CreateSnapshot: read timeout")

    world.ebs.start_backup = times_out  # type: ignore[method-assign]
    with pytest.raises(TimeoutError):
        world.backup_jobs.start(request(), "event-1", None, EXECUTION + "one")
    job_id = world.catalog.get_job(first.job_id).job_id
    assert _announced(world, job_id) == []  # written, not yet announced
    world.ebs.start_backup = start_backup  # type: ignore[method-assign]
    world.backup_jobs.start(request(), "event-1", None, EXECUTION + "one")  # Step Functions' Retry
    assert _announced(world, job_id) == [("CREATED", 1), ("CREATED", 1), ("RUNNING", 2)]
    assert world.catalog.get_job(job_id).state is JobState.RUNNING


def test_a_queued_jobs_turns_announce_nothing_new_until_it_moves() -> None:
    """A PENDING job's execution asks again on each turn it waits (WaitForTurn): that is no retry, and PENDING is
    not announced again on every turn."""
    world = FakeWorld()
    holder = world.backup_jobs.start(request("holder"), "event-1", None, EXECUTION + "one")
    queued = world.backup_jobs.start(request("queued", BackupPlanId="plan-1"), "event-2", None, EXECUTION + "two")
    assert world.catalog.get_job(queued.job_id).state is JobState.PENDING
    before = _announced(world, queued.job_id)
    for _ in range(3):
        world.backup_jobs.start(request("queued", BackupPlanId="plan-1"), "event-2", None, EXECUTION + "two")
    assert _announced(world, queued.job_id) == before == [("CREATED", 1), ("PENDING", 2)]
    assert holder.job_id != queued.job_id
