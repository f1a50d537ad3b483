"""Every workflow, run with IAM enforced: the functions' least-privilege roles, the member copy role, the bucket,
key and trust policies let the real work through - nothing of it is refused.

The workflows and their checks are the fault harness's (tests/faults/conftest.py: each on fresh data, each
checking its effect: the recovery point holds the data, the restored copy equals it, the copy is in the
destination, the sweep expired and archived what was due ...), here on a twin that evaluates every call a
function role or a role session makes (coffer_twin.iam).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from faults.conftest import BACKOFF_SCALE, NATIVE_WORKFLOWS, OTHER_WORKFLOWS, PARAMETERS, WORKFLOWS, World
from twins import Twins

from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import JobState
from coffer_cli.local.samples import create_sample_table
from coffer_twin.faults import FaultInjector


@pytest.fixture(scope="module")
def enforced(twins: Twins) -> Iterator[World]:
    with twins.fresh(PARAMETERS, enforce_iam=True) as coffer, \
            FaultInjector(backoff_scale=BACKOFF_SCALE) as faults:
        yield World(coffer, faults)


@pytest.mark.parametrize("workflow", [*WORKFLOWS, *OTHER_WORKFLOWS, *NATIVE_WORKFLOWS])
def test_the_workflow_passes_with_iam_enforced_and_nothing_refused(enforced: World, workflow: str) -> None:
    iam = enforced.twin.iam
    assert iam is not None
    enforced.prepare(workflow)
    mark = len(iam.decisions)
    run = enforced.run(workflow)
    assert run.status == "SUCCEEDED", (run.result, enforced.failed_tasks(str(run.result["arn"])))
    run.check()
    made = iam.decisions[mark:]
    assert [d for d in made if not d.allowed] == [], "a least-privilege role lacks a right it uses"
    assert made, "no call of the workflow was evaluated"
    assert not enforced.left_behind(), enforced.left_behind()


def test_a_queued_backup_is_woken_by_the_job_that_frees_its_resource_with_iam_enforced(enforced: World) -> None:
    """The wake-up is a SendTaskSuccess from the ending job's function role: an action AWS authorises only on
    Resource '*' (it has no resource type). Scoped to the state machine's ARN, AWS would refuse it and queued
    backups would wait out their start window."""
    coffer, iam = enforced.coffer, enforced.twin.iam
    assert iam is not None
    create_sample_table(coffer.client("dynamodb"), "queued-orders")
    arn = f"arn:aws:dynamodb:{coffer.twin.region}:{coffer.twin.account_id}:table/queued-orders"
    event = {"version": "0", "id": "holder-enforced", "detail-type": "StartBackupJob", "source": "coffer",
             "account": coffer.twin.account_id, "time": coffer.clock.now().isoformat(), "region": coffer.twin.region,
             "resources": [], "detail": {"ResourceArn": arn, "IdempotencyToken": "holder-enforced"}}
    holder = coffer.twin.invoke("StartBackupJobFunction", {"event": event, "execution_arn": "arn:holder"})["job_id"]
    mark = len(iam.decisions)
    [execution] = coffer.twin.put_event("coffer", "StartBackupJob", {
        "ResourceArn": arn, "IdempotencyToken": "queued-enforced", "BackupPlanId": "nightly",
        "BackupRuleName": "daily"})
    queued = job_id_for("queued-enforced")
    deadline = time.monotonic() + 60
    while True:  # parked behind the holder
        try:
            if coffer.deps.catalog.get_job(queued).state is JobState.PENDING:
                break
        except NotFound:
            pass  # the workflow has not made the job yet
        assert time.monotonic() < deadline, "the queued job never waited"
        time.sleep(0.05)
    assert coffer.twin.invoke("CompleteBackupFunction", {"job_id": holder})["state"] == "COMPLETED"
    assert coffer.twin.wait(execution, timeout=60)["status"] == "SUCCEEDED"
    assert coffer.deps.catalog.get_job(queued).state is JobState.COMPLETED
    made = iam.decisions[mark:]
    assert [d for d in made if not d.allowed] == []
    assert any("SendTaskSuccess" in str(d) for d in made), "the wake-up was not evaluated"
