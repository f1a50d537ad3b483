"""`coffer jobs stop` (AWS Backup's StopBackupJob) on the twin, as an operator runs it: a running backup ends ABORTED,
its lease goes back and wakes the job queued behind it, what it made is recorded for the sweep; a queued job's
execution is stopped; a job that has ended cannot be stopped."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from twins import Twins

from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import JobState
from coffer.domain.recovery_points import RecoveryPointStatus
from coffer_cli.cli import main
from coffer_cli.local.samples import create_sample_table
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
STACK = ["--stack", "coffer-twin"]


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh() as deployed:
        create_sample_table(deployed.client("dynamodb"))
        yield deployed


def table_arn(coffer: LocalCoffer) -> str:
    return f"arn:aws:dynamodb:{coffer.twin.region}:123456789012:table/coffer-sample-orders"


def hold_table(coffer: LocalCoffer, token: str) -> str:
    """A DynamoDB backup started (not finished): its job RUNNING, holding the table's lease, its backup made."""
    event = {"version": "0", "id": token, "detail-type": "StartBackupJob", "source": "coffer",
             "account": "123456789012", "time": coffer.clock.now().isoformat(), "region": coffer.twin.region,
             "resources": [], "detail": {"ResourceArn": table_arn(coffer), "IdempotencyToken": token}}
    return str(coffer.twin.invoke("StartBackupJobFunction", {"event": event, "execution_arn": f"arn:{token}"})
               ["job_id"])


def queue_behind(coffer: LocalCoffer, token: str) -> tuple[str, str]:
    """A planned backup of the busy table: its workflow runs, its job waits its turn (PENDING)."""
    [execution] = coffer.twin.put_event("coffer", "StartBackupJob", {
        "ResourceArn": table_arn(coffer), "IdempotencyToken": token, "BackupPlanId": "nightly"})
    job_id = job_id_for(token)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if coffer.deps.catalog.get_job(job_id).state is JobState.PENDING:
                return job_id, execution
        except NotFound:
            pass
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never queued")


def test_a_stopped_running_backup_ends_aborted_with_nothing_left_behind(
        coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    holder = hold_table(coffer, "to-stop")
    running = coffer.deps.catalog.get_job(holder)
    assert running.state is JobState.RUNNING and running.native_ref  # the table's backup exists already
    queued, execution = queue_behind(coffer, "behind-it")

    assert main(["jobs", "stop", holder, *STACK]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "ABORTED"
    stopped = coffer.deps.catalog.get_job(holder)
    assert stopped.state is JobState.ABORTED
    assert (stopped.status_message or "").startswith("JobStopped: stopped by arn:aws:")
    # what it made is accounted for: a DELETING recovery point naming its backup, which the sweep deletes
    left = coffer.deps.catalog.get_recovery_point(stopped.recovery_point_id)
    assert left.status is RecoveryPointStatus.DELETING and left.native_ref == running.native_ref
    # what it held went back, and the job queued behind it was woken and ran
    assert coffer.twin.wait(execution, timeout=60)["status"] == "SUCCEEDED"
    assert coffer.deps.catalog.get_job(queued).state is JobState.COMPLETED
    assert coffer.deps.catalog.lease_holder(table_arn(coffer)) is None


def test_a_stopped_queued_job_ends_aborted_and_its_execution_is_stopped(
        coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    holder = hold_table(coffer, "keeps-running")
    queued, execution = queue_behind(coffer, "stopped-in-queue")
    from coffer_twin.calls import CallRecorder

    with CallRecorder(keep_bodies=True) as calls:
        assert main(["stop-backup-job", "--backup-job-id", queued, *STACK]) == 0  # AWS Backup's name for it
    assert json.loads(capsys.readouterr().out)["state"] == "ABORTED"
    assert coffer.deps.catalog.get_job(queued).state is JobState.ABORTED
    assert coffer.deps.catalog.get_job(queued).execution_arn == execution
    # its workflow was stopped: StopExecution of its execution. (Step Functions ends it ABORTED at once; moto's
    # StopExecution does not interrupt the task the execution waits in, which ends it later: docs/twin.md.)
    [stop] = [c for c in calls.snapshot() if c.operation == "StopExecution"]
    assert json.loads(stop.body)["executionArn"] == execution
    assert coffer.twin.wait(execution, timeout=30)["status"] != "RUNNING"
    # stopping a queued job takes nothing from the job that holds the resource
    assert coffer.deps.catalog.lease_holder(table_arn(coffer)) == holder
    assert coffer.deps.catalog.get_job(holder).state is JobState.RUNNING
    # a queued job made nothing; as every backup the Catch ends, it is recorded DELETING for the sweep to clear
    left = coffer.deps.catalog.get_recovery_point(coffer.deps.catalog.get_job(queued).recovery_point_id)
    assert left.status is RecoveryPointStatus.DELETING and left.native_ref is None
    assert main(["jobs", "stop", holder, *STACK]) == 0
    capsys.readouterr()


def test_a_job_that_has_ended_cannot_be_stopped(coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    holder = hold_table(coffer, "ends-first")
    assert coffer.twin.invoke("CompleteBackupFunction", {"job_id": holder})["state"] == "COMPLETED"
    with pytest.raises(SystemExit) as refused:
        main(["jobs", "stop", holder, *STACK])
    assert refused.value.code != 0
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("coffer: ") and "has ended already (COMPLETED)" in line
    assert coffer.deps.catalog.get_job(holder).state is JobState.COMPLETED


def test_a_stopped_running_restore_ends_aborted_and_gives_its_recovery_point_back_to_expiry(
        coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    """A restore holds its recovery point (no expiry deletes what it reads); stopped, it ends ABORTED and the hold
    goes. What it restored so far stays where its Metadata put it - a new table it made, the user's to keep or
    delete (docs/reference/cli.md, "Stopping a job")."""
    backup = hold_table(coffer, "to-restore-from")
    assert coffer.twin.invoke("CompleteBackupFunction", {"job_id": backup})["state"] == "COMPLETED"
    point = coffer.deps.catalog.get_job(backup).recovery_point_id
    event = {"version": "0", "id": "restore-to-stop", "detail-type": "StartRestoreJob", "source": "coffer",
             "account": "123456789012", "time": coffer.clock.now().isoformat(), "region": coffer.twin.region,
             "resources": [], "detail": {"RecoveryPointArn": point, "IdempotencyToken": "restore-to-stop",
                                         "Metadata": {"targetTableName": "orders-restore-stopped"}}}
    restore = str(coffer.twin.invoke("StartRestoreJobFunction", {"event": event,
                                                                 "execution_arn": "arn:restore-to-stop"})["job_id"])
    assert coffer.deps.catalog.get_job(restore).state is JobState.RUNNING
    assert coffer.deps.restore_leases.restores(point) == [restore]

    assert main(["jobs", "stop", restore, *STACK]) == 0  # AWS Backup has no StopRestoreJob: Coffer's own verb
    assert json.loads(capsys.readouterr().out)["state"] == "ABORTED"
    stopped = coffer.deps.catalog.get_job(restore)
    assert stopped.state is JobState.ABORTED and (stopped.status_message or "").startswith("JobStopped: stopped by")
    assert coffer.deps.restore_leases.restores(point) == []
    tables = coffer.client("dynamodb").list_tables()["TableNames"]
    assert "orders-restore-stopped" in tables  # started before the stop: AWS finishes it, Coffer does not delete it
