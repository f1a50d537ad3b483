"""An expiry racing a restore of the same recovery point never deletes what is being restored.

The catalog decides (adapters/catalog_restore_leases.py): a restore holds its recovery point from its start
until its job ends; the sweeper's ``begin_expiry`` (issue 7 will call it before deleting anything) marks the
recovery point DELETING only while no restore holds it, and a restore never begins on a DELETING one. Both
orders are tested with the real handlers on the twin, then the primitives are raced from threads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.adapters.catalog.restore_leases import RestoreLeases
from coffer.domain.errors import RecoveryPointDeleting, RecoveryPointInUse
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import JobState
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.resources import ResourceType
from coffer_cli.local.samples import create_sample_table
from coffer_cli.local.session import LocalCoffer
from coffer_twin.calls import AwsCall, intercepting

ROOT = Path(__file__).resolve().parents[2]
TABLE = "coffer-sample-orders"


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh() as deployed:
        create_sample_table(deployed.client("dynamodb"))
        yield deployed


@pytest.fixture
def leases(coffer: LocalCoffer) -> RestoreLeases:
    return RestoreLeases(coffer.client("dynamodb"), coffer.settings.catalog_table)


def _recovery_point(coffer: LocalCoffer, token: str) -> RecoveryPoint:
    arn = f"arn:aws:dynamodb:{coffer.twin.region}:{coffer.twin.account_id}:table/{TABLE}"
    result = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": token})
    assert result["status"] == "SUCCEEDED", result
    return coffer.deps.catalog.get_recovery_point(coffer.deps.catalog.get_job(job_id_for(token)).recovery_point_id)


def _event(coffer: LocalCoffer, token: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {"version": "0", "id": token, "detail-type": "StartRestoreJob", "source": "coffer",
            "account": coffer.twin.account_id, "time": coffer.clock.now().isoformat(), "region": coffer.twin.region,
            "resources": [], "detail": {**detail, "IdempotencyToken": token}}


def _tables(coffer: LocalCoffer) -> set[str]:
    return set(coffer.client("dynamodb").list_tables()["TableNames"])


def test_an_expiry_waits_for_the_restore_that_holds_the_recovery_point(coffer: LocalCoffer,
                                                                        leases: RestoreLeases) -> None:
    rp = _recovery_point(coffer, "held")
    detail = {"RecoveryPointArn": rp.recovery_point_id, "Metadata": {"targetTableName": "restored-while-held"}}
    started = coffer.twin.invoke("StartRestoreJobFunction",
                                 {"event": _event(coffer, "restore-held", detail), "execution_arn": "arn:held"})
    assert leases.restores(rp.recovery_point_id) == [started["job_id"]]
    with pytest.raises(RecoveryPointInUse) as refused:
        leases.begin_expiry(rp, by="sweeper")
    assert refused.value.restore_job_ids == [started["job_id"]]
    assert coffer.deps.catalog.get_recovery_point(rp.recovery_point_id).status is RecoveryPointStatus.COMPLETED

    assert coffer.twin.invoke("CompleteRestoreFunction", {"job_id": started["job_id"]})["state"] == "COMPLETED"
    assert leases.restores(rp.recovery_point_id) == []
    deleting = leases.begin_expiry(coffer.deps.catalog.get_recovery_point(rp.recovery_point_id), by="sweeper")
    assert deleting.status is RecoveryPointStatus.DELETING
    assert coffer.deps.catalog.get_recovery_point(rp.recovery_point_id) == deleting


def test_a_restore_is_refused_once_the_expiry_began_and_restores_nothing(coffer: LocalCoffer,
                                                                         leases: RestoreLeases) -> None:
    rp = _recovery_point(coffer, "expiring")
    leases.begin_expiry(rp, by="sweeper")
    result = coffer.start_restore({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": "too-late",
                                   "Metadata": {"targetTableName": "never-restored"}})
    assert result["error"] == "RequestRefused"
    assert "is DELETING" in json.dumps(coffer.twin.history(result["arn"]), default=str)
    assert "never-restored" not in _tables(coffer)
    with pytest.raises(RecoveryPointDeleting):
        leases.begin_restore(rp.recovery_point_id, "another-restore")


def test_an_expiry_that_begins_between_a_restores_check_and_its_hold_wins_and_the_restore_fails(
        coffer: LocalCoffer, leases: RestoreLeases) -> None:
    """The restore read the recovery point COMPLETED; the sweeper marks it DELETING before the restore's hold
    is written (made to happen at that instant by intercepting the restore's first catalog write)."""
    rp = _recovery_point(coffer, "raced")
    swept: list[str] = []

    def sweep_now(call: AwsCall, answer: Callable[[], Any]) -> None:
        if call.caller == "StartRestoreJobFunction" and call.operation == "TransactWriteItems" and not swept:
            swept.append("now")  # (the sweep's own calls pass through here too)
            leases.begin_expiry(coffer.deps.catalog.get_recovery_point(rp.recovery_point_id), by="sweeper")

    with intercepting(sweep_now):
        result = coffer.start_restore({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": "raced-r",
                                       "Metadata": {"targetTableName": "raced-restore"}})
    assert swept and result["status"] == "FAILED"
    job = coffer.deps.catalog.get_job(job_id_for("raced-r"))
    assert job.state is JobState.FAILED and (job.status_message or "").startswith("RecoveryPointDeleting")
    assert "raced-restore" not in _tables(coffer)
    assert leases.restores(rp.recovery_point_id) == []
    assert coffer.deps.catalog.get_recovery_point(rp.recovery_point_id).status is RecoveryPointStatus.DELETING


def test_a_failed_restore_releases_its_hold(coffer: LocalCoffer, leases: RestoreLeases) -> None:
    rp = _recovery_point(coffer, "released")
    coffer.client("dynamodb").create_table(  # the target exists already: the restore fails after its hold
        TableName="taken-name", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    result = coffer.start_restore({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": "fails",
                                   "Metadata": {"targetTableName": "taken-name"}})
    assert result["status"] == "FAILED"
    assert coffer.deps.catalog.get_job(job_id_for("fails")).state is JobState.FAILED
    assert leases.restores(rp.recovery_point_id) == []
    assert leases.begin_expiry(rp, by="sweeper").status is RecoveryPointStatus.DELETING


def _race(leases: RestoreLeases, stored: RecoveryPoint, restore_job: str) -> dict[str, bool]:
    """begin_restore and begin_expiry from two threads released together; which of them succeeded."""
    barrier, won = threading.Barrier(2), {}

    def restore() -> None:
        barrier.wait()
        try:
            leases.begin_restore(stored.recovery_point_id, restore_job)
            won["restore"] = True
        except RecoveryPointDeleting:
            won["restore"] = False

    def expire() -> None:
        barrier.wait()
        try:
            leases.begin_expiry(stored, by="sweeper")
            won["expiry"] = True
        except RecoveryPointInUse:
            won["expiry"] = False

    threads = [threading.Thread(target=restore), threading.Thread(target=expire)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_racing_the_primitives_from_threads_one_side_always_wins_alone(coffer: LocalCoffer,
                                                                       leases: RestoreLeases) -> None:
    now = coffer.clock.now()
    for round_ in range(30):
        rp = RecoveryPoint(recovery_point_id=f"race-{round_}", vault_name="Default", resource_arn="arn:aws:s3:::r",
                           resource_type=ResourceType.S3, status=RecoveryPointStatus.COMPLETED, creation_date=now,
                           retain_until=now + timedelta(days=1), job_id=f"backup-{round_}")
        coffer.deps.catalog.put_recovery_point(rp)
        stored = coffer.deps.catalog.get_recovery_point(rp.recovery_point_id)
        won = _race(leases, stored, f"restore-{round_}")
        status = coffer.deps.catalog.get_recovery_point(stored.recovery_point_id).status
        holders = leases.restores(stored.recovery_point_id)
        assert won["restore"] != won["expiry"], (round_, won)
        if won["restore"]:
            assert status is RecoveryPointStatus.COMPLETED and holders == [f"restore-{round_}"]
        else:
            assert status is RecoveryPointStatus.DELETING and holders == []
