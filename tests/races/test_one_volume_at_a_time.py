"""Thirty backup requests for one EBS volume at once (issue 10): never more snapshots in progress than the
volume's quota, never two runs on the volume at once, and every planned request completes.

The queued requests wait in their workflows' WaitForTurn task (a task token in the catalog's queue for the
volume), and the job that ends wakes the next one (adapters/catalog_turns.py): no request polls its way in.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from twins import Twins

from coffer.adapters.catalog.copy_quota import CopyQuotas
from coffer.adapters.catalog.turns import TurnQueue
from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job, JobState
from coffer.domain.snapshot_quota import snapshot_quota_key
from coffer_cli.local.samples import create_sample_instance, create_sample_volume, sample_network
from coffer_cli.local.session import LocalCoffer
from coffer_twin.calls import AwsCall, observing

from .concurrency import all_at_once

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 30


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh() as deployed:
        yield deployed


class SnapshotCalls:
    """Every CreateSnapshot / CreateImage a handler sends, with when it was sent and what it snapshots."""

    def __init__(self) -> None:
        self.calls: list[tuple[datetime, str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, call: AwsCall) -> None:
        if call.service == "ec2" and call.operation in ("CreateSnapshot", "CreateImage") and call.status == 200:
            form = parse_qs(call.body.decode())
            target = (form.get("VolumeId") or form.get("InstanceId") or [""])[0]
            with self._lock:
                self.calls.append((call.at, call.operation, target))


class Sampler:
    """Samples the volume's snapshot semaphore and lease while the requests run (the most holders seen)."""

    def __init__(self, coffer: LocalCoffer, volume_arn: str) -> None:
        self._quotas = CopyQuotas(coffer.client("dynamodb"), coffer.settings.catalog_table)
        self._catalog, self._key, self._arn = coffer.deps.catalog, snapshot_quota_key(volume_arn), volume_arn
        self.most_slots = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.most_slots = max(self.most_slots, len(self._quotas.holders(self._key)))
            self.samples += 1




def _state(coffer: LocalCoffer, token: str) -> JobState | None:
    try:
        return coffer.deps.catalog.get_job(job_id_for(token)).state
    except NotFound:
        return None


def _run_interval(job: Job) -> tuple[datetime, datetime]:
    """From the moment the job started its snapshot (RUNNING is written after CreateSnapshot, with the time read
    before it) to the moment it ended."""
    running = [t.at for t in job.history if t.state is JobState.RUNNING]
    assert len(running) == 1, job.history
    return running[0], job.history[-1].at


def _refusal(coffer: LocalCoffer, execution_arn: str) -> str:
    """The refusal: the execution's one-line cause (no task failed: no stack trace in the history)."""
    assert not [e for e in coffer.twin.history(execution_arn) if e["type"] == "TaskFailed"]
    cause = str(coffer.twin.wait(execution_arn)["cause"])
    assert cause.startswith("ResourceBusy: "), cause
    return cause


def test_thirty_requests_for_one_volume_run_one_at_a_time_within_its_quota_and_the_planned_ones_all_complete(
        coffer: LocalCoffer) -> None:
    volume = create_sample_volume(coffer.client("ec2"), "one-volume-thirty-requests")  # gp3: quota 5
    recorder = SnapshotCalls()
    tokens = [f"planned-{i:02d}" for i in range(REQUESTS)]
    with observing(recorder), Sampler(coffer, volume) as sampler:
        started = all_at_once(REQUESTS, lambda i: coffer.twin.put_event("coffer", "StartBackupJob", {
            "ResourceArn": volume, "IdempotencyToken": tokens[i], "BackupPlanId": "nightly",
            "BackupRuleName": "daily"})[0])
        # While they queue, on-demand requests for the volume are refused, naming the job that runs.
        deadline = time.monotonic() + 30
        while not any(_state(coffer, t) is JobState.PENDING for t in tokens):
            assert time.monotonic() < deadline, "no request ever queued"
            time.sleep(0.25)
        refused = [coffer.twin.put_event("coffer", "StartBackupJob", {
            "ResourceArn": volume, "IdempotencyToken": f"on-demand-{i}"})[0] for i in range(2)]
        results = [coffer.twin.wait(arn, timeout=240) for arn in started]
        refusals = [coffer.twin.wait(arn, timeout=60) for arn in refused]

    assert [r["status"] for r in results] == ["SUCCEEDED"] * REQUESTS
    jobs = [coffer.deps.catalog.get_job(job_id_for(t)) for t in tokens]
    assert [j.state for j in jobs] == [JobState.COMPLETED] * REQUESTS
    assert len({j.recovery_point_id for j in jobs}) == REQUESTS
    assert sum(1 for j in jobs if JobState.PENDING in [t.state for t in j.history]) >= REQUESTS - 1
    for result in refusals:
        assert result["error"] == "RequestRefused"
        message = _refusal(coffer, result["arn"])
        assert any(f"is being backed up by job {j.job_id}" in message for j in jobs), message

    # Two runs on the volume never overlap: ordered by start, each ends before the next starts ...
    intervals = sorted(_run_interval(j) for j in jobs)
    for (_, ended), (next_started, _) in itertools.pairwise(intervals):
        assert ended <= next_started
    # ... and EC2 saw one CreateSnapshot of the volume per job, each inside exactly one job's run.
    snapshots = [at for at, operation, target in recorder.calls if operation == "CreateSnapshot"]
    assert len(snapshots) == REQUESTS and {t for _, _, t in recorder.calls} == {volume.rsplit("/", 1)[1]}
    for at in snapshots:
        assert sum(1 for begun, ended in intervals if begun <= at <= ended) == 1, at
    # The quota's semaphore never held more than the lease allows (1), let alone the quota (5), and is empty now.
    assert sampler.samples > 10 and 1 <= sampler.most_slots <= 1
    quotas = CopyQuotas(coffer.client("dynamodb"), coffer.settings.catalog_table)
    assert quotas.holders(snapshot_quota_key(volume)) == {}
    assert coffer.deps.catalog.lease_holder(volume) is None
    turns = TurnQueue(coffer.client("dynamodb"), coffer.settings.catalog_table, coffer.deps.workflows)
    assert turns.waiting(volume) == []
    # Waiting cost no polling: a queued job asks for its turn a few times, not once per poll interval.
    assert coffer.twin.invocations["StartBackupJobFunction"] < 5 * REQUESTS


def _st1_volume_on_an_instance(coffer: LocalCoffer, volume_type: str) -> tuple[str, str]:
    ec2 = coffer.client("ec2")
    instance = create_sample_instance(ec2, f"quota-{volume_type}")
    instance_id = instance.rsplit("/", 1)[1]
    zone = sample_network(ec2)["availability_zone"]
    volume = ec2.create_volume(Size=500, AvailabilityZone=zone, VolumeType=volume_type)["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=instance_id, Device="/dev/sdg")
    return f"arn:aws:ec2:{coffer.twin.region}:{coffer.twin.account_id}:volume/{volume}", instance


def _hold(coffer: LocalCoffer, arn: str, token: str) -> str:
    """Start (not finish) a backup directly: its job holds the resource's lease and its snapshot slots."""
    event = {"version": "0", "id": token, "detail-type": "StartBackupJob", "source": "coffer",
             "account": coffer.twin.account_id, "time": coffer.clock.now().isoformat(), "region": coffer.twin.region,
             "resources": [], "detail": {"ResourceArn": arn, "IdempotencyToken": token}}
    holder = coffer.twin.invoke("StartBackupJobFunction", {"event": event, "execution_arn": f"arn:{token}"})
    assert coffer.deps.catalog.get_job(holder["job_id"]).state is JobState.RUNNING
    return str(holder["job_id"])


def test_an_instance_backup_waits_for_the_snapshot_slot_of_its_st1_volume_then_runs(coffer: LocalCoffer) -> None:
    volume, instance = _st1_volume_on_an_instance(coffer, "st1")
    holder = _hold(coffer, volume, "st1-volume-backup")  # the volume's one slot (st1/sc1: quota 1)
    [execution] = coffer.twin.put_event("coffer", "StartBackupJob", {"ResourceArn": instance,
                                                                     "IdempotencyToken": "st1-instance-backup"})
    waiting = job_id_for("st1-instance-backup")
    deadline = time.monotonic() + 30
    while _state(coffer, "st1-instance-backup") is not JobState.PENDING:
        assert time.monotonic() < deadline, "the instance's backup never waited"
        time.sleep(0.05)
    job = coffer.deps.catalog.get_job(waiting)
    assert job.status_message == (f"waiting for a snapshot slot of {volume}: 1 of 1 snapshots in progress "
                                  f"(jobs {holder})")
    assert job.native_ref is None  # no CreateImage was sent while the slot was taken
    assert coffer.twin.invoke("CompleteBackupFunction", {"job_id": holder})["state"] == "COMPLETED"
    assert coffer.twin.wait(execution, timeout=60)["status"] == "SUCCEEDED"  # woken by the holder's end
    job = coffer.deps.catalog.get_job(waiting)
    assert job.state is JobState.COMPLETED
    assert _run_interval(job)[0] >= coffer.deps.catalog.get_job(holder).history[-1].at
    quotas = CopyQuotas(coffer.client("dynamodb"), coffer.settings.catalog_table)
    assert quotas.holders(snapshot_quota_key(volume)) == {}


def test_a_gp3_volume_lets_its_instance_snapshot_it_while_its_own_backup_runs(coffer: LocalCoffer) -> None:
    volume, instance = _st1_volume_on_an_instance(coffer, "gp3")
    holder = _hold(coffer, volume, "gp3-volume-backup")  # one of the volume's five slots
    result = coffer.start_backup({"ResourceArn": instance, "IdempotencyToken": "gp3-instance-backup"})
    assert result["status"] == "SUCCEEDED"
    job = coffer.deps.catalog.get_job(job_id_for("gp3-instance-backup"))
    assert job.state is JobState.COMPLETED and JobState.PENDING not in [t.state for t in job.history]
    assert coffer.twin.invoke("CompleteBackupFunction", {"job_id": holder})["state"] == "COMPLETED"
