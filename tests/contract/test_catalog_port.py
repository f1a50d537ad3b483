"""The catalog's ports - jobs, recovery points, leases, batch results, the object index, quota slots, restore holds,
vault records - one suite run against the DynamoDB adapters on moto and against the in-memory fakes
(`params=["moto", "memory"]`): the fakes the service tests use cannot drift from the real thing.

Each rule a conditional write states is tried by the writer who would break it: a second delivery, a stale
writer, a job that does not hold the lease, a restore against an expiry.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from fakes.catalog import (
    MemoryCatalog,
    MemoryQuotas,
    MemoryRestoreLeases,
    MemoryTable,
    MemoryVaultNotifications,
    MemoryVaultRecords,
    RecordingJobEvents,
    RecordingTurns,
)
from moto import mock_aws

from coffer.adapters import aws
from coffer.adapters.catalog.copy_quota import CopyQuotas
from coffer.adapters.catalog.dynamodb import DynamoCatalog
from coffer.adapters.catalog.restore_leases import RestoreLeases
from coffer.adapters.catalog.vault_notifications import VaultNotificationRecords
from coffer.adapters.catalog.vaults import VaultCatalog
from coffer.domain.audit import ChainHead
from coffer.domain.errors import (
    AlreadyExists,
    ConcurrentUpdate,
    IdempotencyConflict,
    NotFound,
    RecoveryPointDeleting,
    RecoveryPointInUse,
    ResourceBusy,
)
from coffer.domain.job_events import JobChange
from coffer.domain.jobs import Job, JobKind, JobState, Transition
from coffer.domain.notifications import VaultEvent, VaultNotifications
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.resources import ResourceType
from coffer.domain.vaults import KeyOwner, Vault
from coffer.ports.catalog import Catalog, DuplicateRequest
from coffer.ports.job_events import JobEventsUndelivered
from coffer.ports.quotas import SlotQuotas, SlotRelease
from coffer.ports.restore_leases import RestoreLeaseStore
from coffer.ports.vault_notifications import VaultNotificationStore
from coffer.ports.vault_records import VaultRecords
from coffer_twin.environment import fake_aws_environment

REGION, TABLE = "eu-west-1", "catalog"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@dataclass
class Ports:
    catalog: Catalog
    quotas: SlotQuotas
    leases: RestoreLeaseStore
    vaults: VaultRecords
    turns: RecordingTurns
    events: RecordingJobEvents


@pytest.fixture(scope="module")
def dynamodb(create_catalog_table: Any) -> Iterator[Any]:
    """One moto table for the module (each test names its own jobs, points and resources)."""
    with fake_aws_environment(REGION), mock_aws():
        client = aws.client("dynamodb", REGION, boto3.Session())
        create_catalog_table(client, TABLE)
        yield client


@pytest.fixture(params=["moto", "memory"])
def ports(request: pytest.FixtureRequest) -> Ports:
    turns, events = RecordingTurns(), RecordingJobEvents()
    if request.param == "moto":
        db = request.getfixturevalue("dynamodb")
        return Ports(DynamoCatalog(db, TABLE, turns=turns, events=events), CopyQuotas(db, TABLE),
                     RestoreLeases(db, TABLE), VaultCatalog(db, TABLE), turns, events)
    table = MemoryTable()
    return Ports(MemoryCatalog(table, turns=turns, events=events), MemoryQuotas(table), MemoryRestoreLeases(table),
                 MemoryVaultRecords(table), turns, events)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def a_job(kind: JobKind = JobKind.BACKUP, token: str | None = None, resource: str | None = None) -> Job:
    job_id = uid("job")
    return Job(job_id=job_id, kind=kind, resource_arn=resource or f"arn:aws:ec2:{REGION}:1:volume/{uid('vol')}",
               resource_type=ResourceType.EBS, vault_name="Default", recovery_point_id=f"rp-of-{job_id}",
               created_at=NOW, start_by=NOW + timedelta(hours=1), idempotency_token=token or uid("token"),
               history=(Transition(state=JobState.CREATED, at=NOW),))


def a_point(vault: str = "Default", created: datetime = NOW,
            status: RecoveryPointStatus = RecoveryPointStatus.COMPLETED, rp_id: str | None = None) -> RecoveryPoint:
    return RecoveryPoint(recovery_point_id=rp_id or uid("rp"), vault_name=vault, resource_arn="arn:aws:s3:::b",
                         resource_type=ResourceType.S3, status=status, creation_date=created, retain_until=created,
                         job_id=uid("job"))


# ---- jobs and idempotency -----------------------------------------------------------------------------------------
def test_a_job_written_is_read_back_as_written(ports: Ports) -> None:
    job = ports.catalog.create_job(a_job(), "fp", take_lease=True, ttl=1)
    assert ports.catalog.get_job(job.job_id) == job
    with pytest.raises(NotFound):
        ports.catalog.get_job(uid("never"))


def test_a_second_delivery_of_the_same_request_is_a_duplicate_carrying_the_first_job(ports: Ports) -> None:
    first = ports.catalog.create_job(a_job(), "same", take_lease=False, ttl=1)
    again = a_job(token=first.idempotency_token)
    with pytest.raises(DuplicateRequest) as duplicate:
        ports.catalog.create_job(again, "same", take_lease=False, ttl=1)
    assert duplicate.value.job == first
    with pytest.raises(NotFound):
        ports.catalog.get_job(again.job_id)  # nothing of the second was written


def test_a_token_used_for_another_request_is_refused_naming_the_first_job(ports: Ports) -> None:
    first = ports.catalog.create_job(a_job(), "one request", take_lease=False, ttl=1)
    other = a_job(token=first.idempotency_token)
    with pytest.raises(IdempotencyConflict, match=f"different request \\(job {first.job_id}\\)"):
        ports.catalog.create_job(other, "another request", take_lease=False, ttl=1)
    with pytest.raises(NotFound):
        ports.catalog.get_job(other.job_id)


def test_a_job_id_is_never_reused(ports: Ports) -> None:
    first = ports.catalog.create_job(a_job(), "fp", take_lease=False, ttl=1)
    with pytest.raises(IdempotencyConflict, match="exists"):
        ports.catalog.create_job(first.with_changes(idempotency_token=uid("token")), "fp", take_lease=False, ttl=1)


def test_a_resource_runs_one_job_at_a_time_and_the_refused_job_is_not_written(ports: Ports) -> None:
    holder = ports.catalog.create_job(a_job(), "fp", take_lease=True, ttl=1)
    second = a_job(resource=holder.resource_arn)
    with pytest.raises(ResourceBusy) as busy:
        ports.catalog.create_job(second, "fp", take_lease=True, ttl=1)
    assert busy.value.running_job_id == holder.job_id
    with pytest.raises(NotFound):
        ports.catalog.get_job(second.job_id)


def test_a_busy_resource_is_named_busy_even_when_its_lease_is_released_before_the_refusal_is_explained(
        dynamodb: Any) -> None:
    """The refusal is explained from what DynamoDB refused the transaction on, at that moment: the holder ending
    (its lease released) between the refusal and any re-read must not turn "resource busy" into "token used"."""

    class ReleasingOnRefusal:
        """The catalog's client, except that the holder's lease goes right after a refused transaction."""

        def __init__(self, client: Any, lease_key: dict[str, Any]) -> None:
            self._client, self._lease_key = client, lease_key

        def transact_write_items(self, **request: Any) -> Any:
            try:
                return self._client.transact_write_items(**request)
            except Exception:
                self._client.delete_item(TableName=TABLE, Key=self._lease_key)
                raise

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

    holder = DynamoCatalog(dynamodb, TABLE).create_job(a_job(), "fp", take_lease=True, ttl=1)
    racing = DynamoCatalog(ReleasingOnRefusal(dynamodb, {"pk": {"S": f"LEASE#{holder.resource_arn}"},
                                                         "sk": {"S": "LEASE"}}), TABLE)
    second = a_job(resource=holder.resource_arn)
    with pytest.raises(ResourceBusy) as busy:
        racing.create_job(second, "fp", take_lease=True, ttl=1)
    assert busy.value.running_job_id == holder.job_id


def test_a_job_changes_only_from_the_version_its_writer_read(ports: Ports) -> None:
    job = ports.catalog.create_job(a_job(), "fp", take_lease=False, ttl=1)
    running = ports.catalog.save_job(job.to(JobState.RUNNING, NOW))
    assert running.version == job.version + 1 and ports.catalog.get_job(job.job_id) == running
    with pytest.raises(ConcurrentUpdate):
        ports.catalog.save_job(job.to(JobState.FAILED, NOW, "a stale writer"))
    assert ports.catalog.get_job(job.job_id) == running


def test_the_lease_is_released_only_by_its_holder(ports: Ports) -> None:
    holder = ports.catalog.create_job(a_job(), "fp", take_lease=True, ttl=1)
    other = ports.catalog.create_job(a_job(resource=holder.resource_arn), "fp", take_lease=False, ttl=1)
    ports.catalog.save_job(other.to(JobState.FAILED, NOW), release_lease=True)
    assert ports.catalog.lease_holder(holder.resource_arn) == holder.job_id
    ports.catalog.save_job(holder.to(JobState.FAILED, NOW), release_lease=True)
    assert ports.catalog.lease_holder(holder.resource_arn) is None


def test_a_stale_writer_that_does_not_hold_the_lease_ends_nothing_and_the_holder_keeps_it(ports: Ports) -> None:
    """The lease's rule is the release's own condition (no read first): a job that does not hold the lease is
    refused on that item and written again without it - but only if its own write holds. A stale version of it is
    refused whole: the retry without the lease must not slip the stale write through."""
    holder = ports.catalog.create_job(a_job(), "fp", take_lease=True, ttl=1)
    other = ports.catalog.create_job(a_job(resource=holder.resource_arn), "fp", take_lease=False, ttl=1)
    moved = ports.catalog.save_job(other.to(JobState.PENDING, NOW, "queued"))
    with pytest.raises(ConcurrentUpdate):
        ports.catalog.save_job(other.to(JobState.FAILED, NOW, "a stale writer"), release_lease=True)
    assert ports.catalog.get_job(other.job_id) == moved
    assert ports.catalog.lease_holder(holder.resource_arn) == holder.job_id


def test_a_lease_is_taken_over_only_from_the_job_found_stale(ports: Ports) -> None:
    resource = a_job().resource_arn
    assert ports.catalog.take_lease(resource, "first") is None
    assert ports.catalog.take_lease(resource, "first") is None  # its holder again: no-op
    assert ports.catalog.take_lease(resource, "second") == "first"
    assert ports.catalog.take_lease(resource, "second", stale_holder="someone-else") == "first"
    assert ports.catalog.take_lease(resource, "second", stale_holder="first") is None
    assert ports.catalog.lease_holder(resource) == "second"


def test_the_jobs_of_a_day_are_listed_newest_first(ports: Ports) -> None:
    day = NOW + timedelta(days=uuid.uuid4().int % 1000 + 10)  # a day of this test's own
    made = [ports.catalog.create_job(a_job().with_changes(created_at=day + timedelta(minutes=m)), "fp",
                                     take_lease=False, ttl=1) for m in (3, 1, 2)]
    assert [j.job_id for j in ports.catalog.list_jobs(day)] == [made[0].job_id, made[2].job_id, made[1].job_id]


# ---- the write that ends a job ------------------------------------------------------------------------------------
def test_a_job_ends_with_its_recovery_point_and_its_slots_in_one_write(ports: Ports) -> None:
    created = ports.catalog.create_job(a_job(), "fp", take_lease=True, ttl=1)
    job = ports.catalog.save_job(created.to(JobState.RUNNING, NOW))
    slot = uid("QUOTA-KEY")
    assert ports.quotas.acquire(slot, job.job_id, 1, NOW) is None
    rp = a_point(rp_id=job.recovery_point_id)
    ended = ports.catalog.save_job(job.to(JobState.COMPLETED, NOW), release_lease=True, recovery_point=rp,
                                   also=[SlotRelease(slot, job.job_id)])
    assert ports.catalog.get_job(job.job_id) == ended
    assert ports.catalog.get_recovery_point(rp.recovery_point_id).version == 1
    assert ports.catalog.lease_holder(job.resource_arn) is None and ports.quotas.holders(slot) == {}


def test_a_job_whose_recovery_point_exists_already_ends_with_nothing_written(ports: Ports) -> None:
    created = ports.catalog.create_job(a_job(), "fp", take_lease=True, ttl=1)
    job = ports.catalog.save_job(created.to(JobState.RUNNING, NOW))
    rp = a_point(rp_id=job.recovery_point_id)
    ports.catalog.put_recovery_point(rp)  # another writer made it first
    slot = uid("QUOTA-KEY")
    ports.quotas.acquire(slot, job.job_id, 1, NOW)
    with pytest.raises(ConcurrentUpdate):
        ports.catalog.save_job(job.to(JobState.COMPLETED, NOW), release_lease=True, recovery_point=rp,
                               also=[SlotRelease(slot, job.job_id)])
    assert ports.catalog.get_job(job.job_id) == job  # all or nothing: the job, its lease and its slot stay
    assert ports.catalog.lease_holder(job.resource_arn) == job.job_id and job.job_id in ports.quotas.holders(slot)


def test_a_backup_job_that_ends_tells_the_turn_queue_once_per_ending_write(ports: Ports) -> None:
    job = ports.catalog.create_job(a_job(), "fp", take_lease=True, ttl=1)
    running = ports.catalog.save_job(job.to(JobState.RUNNING, NOW))
    copy = ports.catalog.create_job(a_job(kind=JobKind.COPY), "fp", take_lease=False, ttl=1)
    ports.catalog.save_job(copy.to(JobState.FAILED, NOW))
    assert ports.turns.ended == []  # not a backup's end, nor an end at all
    ports.catalog.save_job(running.to(JobState.COMPLETED, NOW), release_lease=True)
    assert ports.turns.ended == [job.job_id]


# ---- job events: every state change a write makes, announced once the write is done -------------------------------
def _announced(events: RecordingJobEvents) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for change in events.changes:
        if isinstance(change, JobChange):
            out.append((change.job.job_id, change.job.history[change.state_version - 1].state.value,
                        change.state_version))
        else:
            out.append((change.recovery_point.recovery_point_id, change.recovery_point.status.value,
                        change.recovery_point.version + 1))
    return out


def test_each_transition_a_write_stores_is_announced_once_with_its_state_version(ports: Ports) -> None:
    job = ports.catalog.create_job(a_job(), "fp", take_lease=True, ttl=1)
    running = ports.catalog.save_job(job.to(JobState.RUNNING, NOW))
    progressed = ports.catalog.save_job(running.with_changes(source={"listed": 3}))  # no new state: no event
    ports.catalog.save_job(progressed.to(JobState.COMPLETED, NOW))
    assert _announced(ports.events) == [(job.job_id, "CREATED", 1), (job.job_id, "RUNNING", 2),
                                        (job.job_id, "COMPLETED", 3)]
    assert len(ports.events.calls) == 3


def test_two_transitions_in_one_write_go_out_in_one_call(ports: Ports) -> None:
    queued = a_job().to(JobState.PENDING, NOW, "waiting for the resource")
    ports.catalog.create_job(queued, "fp", take_lease=False, ttl=1)
    assert ports.events.calls and [len(call) for call in ports.events.calls] == [2]
    assert [state for _, state, _ in _announced(ports.events)] == ["CREATED", "PENDING"]


def test_a_refused_write_announces_nothing_and_a_stale_writer_cannot_announce_twice(ports: Ports) -> None:
    job = ports.catalog.create_job(a_job(), "fp", take_lease=True, ttl=1)
    ports.catalog.save_job(job.to(JobState.RUNNING, NOW))
    before = len(ports.events.changes)
    with pytest.raises(ConcurrentUpdate):  # the same step again, from the version it read: refused, not announced
        ports.catalog.save_job(job.to(JobState.RUNNING, NOW))
    with pytest.raises(IdempotencyConflict):  # the job id again
        ports.catalog.create_job(a_job().with_changes(job_id=job.job_id), "other", take_lease=False, ttl=1)
    assert len(ports.events.changes) == before


def test_a_jobs_end_and_its_recovery_point_go_out_together(ports: Ports) -> None:
    job = ports.catalog.save_job(ports.catalog.create_job(a_job(), "fp", take_lease=True, ttl=1)
                                 .to(JobState.RUNNING, NOW))
    rp = a_point(rp_id=job.recovery_point_id)
    ports.catalog.save_job(job.to(JobState.COMPLETED, NOW), release_lease=True, recovery_point=rp)
    assert _announced(ports.events)[-2:] == [(job.job_id, "COMPLETED", 3), (rp.recovery_point_id, "COMPLETED", 1)]
    assert len(ports.events.calls[-1]) == 2


def test_a_recovery_point_is_announced_when_made_and_when_its_status_changes_only(ports: Ports) -> None:
    rp = a_point()
    ports.catalog.put_recovery_point(rp)
    stored = ports.catalog.get_recovery_point(rp.recovery_point_id)
    ports.catalog.put_recovery_point(stored.model_copy(update={"tags": {"k": "v"}}))  # same status: no event
    stored = ports.catalog.get_recovery_point(rp.recovery_point_id)
    ports.catalog.put_recovery_point(stored.model_copy(update={"status": RecoveryPointStatus.EXPIRED}))
    assert _announced(ports.events) == [(rp.recovery_point_id, "COMPLETED", 1), (rp.recovery_point_id, "EXPIRED", 3)]


def test_a_retried_step_announces_the_jobs_latest_transition_again_with_the_same_state_version(ports: Ports) -> None:
    """At least once: a step whose ending write went through unanswered finds the job ended on its retry and owes
    that write's event; announced again, a consumer dedupes it by (job id, stateVersion)."""
    job = ports.catalog.create_job(a_job(), "fp", take_lease=True, ttl=1)
    ended = ports.catalog.save_job(job.to(JobState.FAILED, NOW, "why"), release_lease=True)
    ports.catalog.announce_again(ports.catalog.get_job(ended.job_id))
    assert _announced(ports.events)[-2:] == [(job.job_id, "FAILED", 2), (job.job_id, "FAILED", 2)]


def test_an_event_bus_that_refuses_fails_the_write_call_after_the_write(ports: Ports) -> None:
    """The change is stored (the job's history keeps it); the caller hears the failure (the step fails, its
    workflow's Retry runs) rather than the change going out silently unannounced."""
    job = ports.catalog.create_job(a_job(), "fp", take_lease=True, ttl=1)
    ports.events.refuse = True
    with pytest.raises(JobEventsUndelivered):
        ports.catalog.save_job(job.to(JobState.RUNNING, NOW))
    assert ports.catalog.get_job(job.job_id).state is JobState.RUNNING


# ---- recovery points ---------------------------------------------------------------------------------------------
def test_a_recovery_point_is_created_once_and_changed_only_from_the_version_read(ports: Ports) -> None:
    rp = a_point()
    ports.catalog.put_recovery_point(rp)
    with pytest.raises(ConcurrentUpdate):
        ports.catalog.put_recovery_point(rp)  # created twice
    stored = ports.catalog.get_recovery_point(rp.recovery_point_id)
    ports.catalog.put_recovery_point(stored.model_copy(update={"status": RecoveryPointStatus.EXPIRED}))
    with pytest.raises(ConcurrentUpdate):
        ports.catalog.put_recovery_point(stored.model_copy(update={"status": RecoveryPointStatus.DELETING}))
    assert ports.catalog.get_recovery_point(rp.recovery_point_id).status is RecoveryPointStatus.EXPIRED
    with pytest.raises(NotFound):
        ports.catalog.get_recovery_point(uid("never"))


def test_a_vaults_recovery_points_are_listed_newest_first_and_paged_oldest_first(ports: Ports) -> None:
    vault = uid("vault")
    points = [a_point(vault, NOW + timedelta(minutes=m)) for m in range(5)]
    for rp in reversed(points):
        ports.catalog.put_recovery_point(rp)
    assert [p.recovery_point_id for p in ports.catalog.list_recovery_points(vault)] == \
        [p.recovery_point_id for p in reversed(points)]
    paged, token = [], None
    while True:
        page, token = ports.catalog.recovery_points_page(vault, token, limit=2)
        paged.extend(page)
        if token is None:
            break
    assert [p.recovery_point_id for p in paged] == [p.recovery_point_id for p in points]


# ---- batch results and the object index ---------------------------------------------------------------------------
def test_a_jobs_batch_results_are_listed_in_order_and_a_retry_overwrites_its_own(ports: Ports) -> None:
    job_id = uid("job")
    for seq in (2, 0, 1):
        ports.catalog.put_part(job_id, seq, {"seq": seq, "copied": 0})
    ports.catalog.put_part(job_id, 1, {"seq": 1, "copied": 7})  # a retried batch
    assert list(ports.catalog.list_parts(job_id)) == [{"seq": 0, "copied": 0}, {"seq": 1, "copied": 7},
                                                      {"seq": 2, "copied": 0}]
    assert ports.catalog.get_part(job_id, 1) == {"seq": 1, "copied": 7}
    assert ports.catalog.get_part(job_id, 3) is None and ports.catalog.get_part(uid("job"), 1) is None


def test_the_object_index_answers_for_more_keys_than_one_batch_call_takes(ports: Ports) -> None:
    vault, bucket = uid("vault"), "bucket"
    records = {f"key-{n:04d}": {"etag": str(n), "size": n} for n in range(130)}  # > 100 reads, > 25 writes a call
    ports.catalog.put_objects(vault, bucket, records)
    asked = [*records, "never-backed-up", "key-0001"]
    assert ports.catalog.get_objects(vault, bucket, asked) == records


def test_a_listing_batch_reads_its_records_as_their_range_and_learns_of_the_others_in_it(ports: Ports) -> None:
    vault, bucket = uid("vault"), "bucket"
    records = {f"key-{n:04d}": {"etag": str(n), "size": n} for n in range(0, 260, 2)}
    ports.catalog.put_objects(vault, bucket, records)
    # a page of the listing: key-0010..key-0100, of which key-0050 and key-0052 were deleted from the source since
    listed = [k for k in records if "key-0010" <= k <= "key-0100" and k not in ("key-0050", "key-0052")]
    found = ports.catalog.objects_in_range(vault, bucket, [*listed, "key-0011"])  # and one never backed up
    assert found.records == {k: records[k] for k in listed}
    assert found.others == ["key-0050", "key-0052"]  # between its keys, not asked for: nothing outside the range
    ports.catalog.forget_objects(vault, bucket, found.others)
    again = ports.catalog.objects_in_range(vault, bucket, listed)
    assert again.records == found.records and again.others == []
    assert ports.catalog.get_objects(vault, bucket, ["key-0050", "key-0048"]) == {"key-0048": records["key-0048"]}
    assert ports.catalog.objects_in_range(vault, bucket, []) == ({}, [])


def test_keys_that_are_not_neighbours_still_get_every_record_they_ask_for(ports: Ports) -> None:
    vault, bucket = uid("vault"), "bucket"
    records = {f"key-{n:04d}": {"etag": str(n), "size": n} for n in range(300)}
    ports.catalog.put_objects(vault, bucket, records)
    scattered = ["key-0000", "key-0150", "key-0299", "key-0007"]  # a wide range holding many others
    found = ports.catalog.objects_in_range(vault, bucket, scattered)
    assert found.records == {k: records[k] for k in scattered}


# ---- quota slots -----------------------------------------------------------------------------------------------------
def test_slots_are_taken_up_to_the_limit_counted_once_per_job_and_taken_back_from_ended_jobs(ports: Ports) -> None:
    key = uid("QUOTA-KEY")
    assert ports.quotas.acquire(key, "a", 2, NOW) is None
    assert ports.quotas.acquire(key, "a", 2, NOW) is None  # its holder again: counted once
    assert ports.quotas.acquire(key, "b", 2, NOW) is None
    assert ports.quotas.acquire(key, "c", 2, NOW, ended=lambda job: False) == ["a", "b"]
    assert ports.quotas.acquire(key, "c", 2, NOW, ended=lambda job: job == "a") is None
    assert set(ports.quotas.holders(key)) == {"b", "c"}
    ports.quotas.release_now(key, "b")
    ports.quotas.release_now(key, "b")  # not held: harmless
    assert set(ports.quotas.holders(key)) == {"c"}


# ---- restores and expiry --------------------------------------------------------------------------------------------
def test_only_a_completed_or_partial_recovery_point_is_held_for_a_restore(ports: Ports) -> None:
    for status, holdable in ((RecoveryPointStatus.COMPLETED, True), (RecoveryPointStatus.PARTIAL, True),
                             (RecoveryPointStatus.DELETING, False), (RecoveryPointStatus.EXPIRED, False)):
        rp = a_point(status=status)
        ports.catalog.put_recovery_point(rp)
        if holdable:
            ports.leases.begin_restore(rp.recovery_point_id, "restore-1")
            ports.leases.begin_restore(rp.recovery_point_id, "restore-1")  # again: no-op
            assert ports.leases.restores(rp.recovery_point_id) == ["restore-1"]
        else:
            with pytest.raises(RecoveryPointDeleting):
                ports.leases.begin_restore(rp.recovery_point_id, "restore-1")
            assert ports.leases.restores(rp.recovery_point_id) == []
    with pytest.raises(RecoveryPointDeleting):
        ports.leases.begin_restore(uid("never"), "restore-1")


def test_an_expiry_waits_for_the_restores_holding_it_and_then_no_restore_begins(ports: Ports) -> None:
    rp = a_point()
    ports.catalog.put_recovery_point(rp)
    stored = ports.catalog.get_recovery_point(rp.recovery_point_id)
    ports.leases.begin_restore(rp.recovery_point_id, "restore-1")
    ports.leases.begin_restore(rp.recovery_point_id, "restore-2")
    with pytest.raises(RecoveryPointInUse) as in_use:
        ports.leases.begin_expiry(stored, by="sweeper:run-1")
    assert in_use.value.restore_job_ids == ["restore-1", "restore-2"]
    ports.leases.end_restore(rp.recovery_point_id, "restore-1")
    ports.leases.end_restore(rp.recovery_point_id, "restore-2")
    ports.leases.end_restore(rp.recovery_point_id, "restore-2")  # again: no-op
    deleting = ports.leases.begin_expiry(stored, by="sweeper:run-1")
    assert deleting.status is RecoveryPointStatus.DELETING
    assert ports.catalog.get_recovery_point(rp.recovery_point_id) == deleting
    with pytest.raises(RecoveryPointDeleting):
        ports.leases.begin_restore(rp.recovery_point_id, "restore-3")
    with pytest.raises(ConcurrentUpdate):
        ports.leases.begin_expiry(stored, by="sweeper:run-1")  # a stale read of it


# ---- vault records -------------------------------------------------------------------------------------------------
def test_a_vault_name_is_taken_once_and_a_vault_changes_only_from_the_version_read(ports: Ports) -> None:
    vault = Vault(name=uid("vault"), key_arn="arn:aws:kms:eu-west-1:1:key/k", key_owner=KeyOwner.COFFER, created_at=NOW)
    saved = ports.vaults.put_vault(vault)
    assert ports.vaults.get_vault(vault.name) == saved and saved.version == 1
    with pytest.raises(AlreadyExists):
        ports.vaults.put_vault(vault)
    ports.vaults.put_vault(saved.model_copy(update={"key_arn": "arn:aws:kms:eu-west-1:1:key/other"}))
    with pytest.raises(ConcurrentUpdate):
        ports.vaults.put_vault(saved.model_copy(update={"key_arn": "arn:aws:kms:eu-west-1:1:key/stale"}))
    with pytest.raises(ConcurrentUpdate):
        ports.vaults.delete_vault(saved)  # not the version whose emptiness was checked
    ports.vaults.delete_vault(ports.vaults.get_vault(vault.name) or saved)
    assert ports.vaults.get_vault(vault.name) is None


def test_the_audit_head_moves_only_from_the_record_its_writer_chained_to(ports: Ports) -> None:
    assert ports.vaults.audit_head() is None  # (no other test of the module writes the chain)
    assert ports.vaults.audit_seq_and_head("append-1") == (None, None)
    first, second = ChainHead(1, "h1"), ChainHead(2, "h2")
    assert ports.vaults.move_audit_head(ChainHead(0, ""), first, idempotency_key="append-1")
    assert not ports.vaults.move_audit_head(ChainHead(0, ""), first)  # the chain starts once
    assert not ports.vaults.move_audit_head(ChainHead(1, "not h1"), second)
    assert not ports.vaults.move_audit_head(first, second, idempotency_key="append-1")  # a retried request
    assert ports.vaults.move_audit_head(first, second)
    assert ports.vaults.audit_head() == second and ports.vaults.audit_seq_for("append-1") == 1
    # an append's first look, one read: the key's record and the head, as the two reads say
    assert ports.vaults.audit_seq_and_head("append-1") == (1, second)
    assert ports.vaults.audit_seq_and_head("append-2") == (None, second)
    assert not ports.vaults.restore_audit_head(first)  # a live head is never overwritten


# ---- vault notification settings ---------------------------------------------------------------------------------
@pytest.fixture(params=["moto", "memory"])
def notification_store(request: pytest.FixtureRequest) -> VaultNotificationStore:
    if request.param == "moto":
        return VaultNotificationRecords(request.getfixturevalue("dynamodb"), TABLE)
    return MemoryVaultNotifications()


def test_vault_notification_settings_are_replaced_whole_and_deleted_once(
        notification_store: VaultNotificationStore) -> None:
    vault = uid("vault")
    assert notification_store.get(vault) is None and notification_store.delete(vault) is False
    first = VaultNotifications(BackupVaultName=vault, BackupVaultEvents=(VaultEvent.BACKUP_JOB_FAILED,),
                               SNSTopicArn="arn:aws:sns:eu-west-1:123456789012:team")
    notification_store.put(first)
    assert notification_store.get(vault) == first
    second = VaultNotifications(BackupVaultName=vault, BackupVaultEvents=(VaultEvent.RESTORE_JOB_STARTED,))
    notification_store.put(second)  # PutBackupVaultNotifications replaces: nothing of the first is kept
    assert notification_store.get(vault) == second
    assert notification_store.delete(vault) is True and notification_store.get(vault) is None


# ---- plan rules' freshness (adapters/catalog/plans.py; what missed schedules are measured against) ----------------
def test_a_rules_resource_keeps_its_first_selection_and_its_newest_completion_only_moves_forward(
        dynamodb: Any) -> None:
    from coffer.adapters.catalog.plans import PlanCatalog

    plans, resource = PlanCatalog(dynamodb, TABLE), f"arn:aws:s3:::{uid('fresh')}"
    assert plans.note_selected("p", "r", resource, NOW, None) == (NOW, None)
    later, done = NOW + timedelta(days=1), NOW + timedelta(days=1, minutes=20)
    assert plans.note_selected("p", "r", resource, later, done) == (NOW, done)  # the first selection stays
    # a late settle of an older run (a retried page) does not take the newest completion back
    assert plans.note_selected("p", "r", resource, NOW, NOW + timedelta(minutes=5)) == (NOW, done)
    newest = NOW + timedelta(days=2)
    assert plans.note_selected("p", "r", resource, newest, newest) == (NOW, newest)
    # the same resource under another rule is measured on its own
    assert plans.note_selected("p", "other", resource, newest, None) == (newest, None)


def test_when_a_rule_last_fired_only_moves_forward(dynamodb: Any) -> None:
    from coffer.adapters.catalog.plans import PlanCatalog

    plans, rule = PlanCatalog(dynamodb, TABLE), uid("rule")
    assert plans.last_fired("p", rule) is None
    plans.note_fired("p", rule, NOW + timedelta(hours=2))
    plans.note_fired("p", rule, NOW)  # a second delivery of an older fire
    assert plans.last_fired("p", rule) == NOW + timedelta(hours=2)
