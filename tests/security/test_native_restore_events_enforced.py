"""Native restores parked on their target's creation event, with IAM enforced: ResumeNative's least-privilege role
(the target's one Describe, waiter records, SendTaskSuccess) carries a real resume of an EBS and an RDS restore. A
right missing from template.yaml shows here as a denied decision naming the action (without ec2:DescribeVolumes the
EBS restore waits for its safety net and this fails). The twin does not evaluate Step Functions' own calls: the
Restore workflow's park (ParkOnRestoreEvents, NATIVE# keys only) is held by tests/unit/test_template.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from twins import Twins

from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import JobState
from coffer.domain.native_waits import WAITER_SORT_KEY, restore_waiter_ref, waiter_key
from coffer_cli.local.samples import create_sample_db_instance, create_sample_volume
from coffer_cli.local.session import LocalCoffer


@pytest.fixture(scope="module")
def enforced(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh({"NativeSafetyNetSeconds": "600"}, enforce_iam=True) as coffer:
        yield coffer
        coffer.twin.native.reset()


def denied(coffer: LocalCoffer, mark: int) -> list[str]:
    assert coffer.twin.iam is not None
    return [json.dumps(d.__dict__, default=str)[:400] for d in coffer.twin.iam.decisions[mark:] if not d.allowed]


@pytest.mark.parametrize("kind", ["EBS", "RDS"])
def test_a_restore_targets_creation_resumes_its_restore_through_least_privilege_roles(
        enforced: LocalCoffer, kind: str) -> None:
    coffer = enforced
    assert coffer.twin.iam is not None
    name = f"enforced-restore-{kind.lower()}"
    if kind == "EBS":
        arn, metadata, operation = create_sample_volume(coffer.client("ec2"), name), {}, "ec2:CreateVolume"
    else:
        arn = create_sample_db_instance(coffer.client("rds"), coffer.client("ec2"), name)
        metadata, operation = {"DBInstanceIdentifier": f"{name}-restored"}, "rds:RestoreDBInstanceFromDBSnapshot"
    backup = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": f"{name}-backup"})
    assert backup["status"] == "SUCCEEDED", backup
    rp_id = coffer.deps.catalog.get_job(backup["output"]["job_id"]).recovery_point_id
    coffer.twin.native.set(operation, minutes=10)
    mark = len(coffer.twin.iam.decisions)
    [execution] = coffer.twin.put_event("coffer", "StartRestoreJob", {
        "RecoveryPointArn": rp_id, "IdempotencyToken": name, "Metadata": metadata}, bus=coffer.request_bus)
    job_id, deadline = job_id_for(name), time.monotonic() + 60
    dynamodb = coffer.client("dynamodb")
    while time.monotonic() < deadline:  # parked: the waiter record holds the task token
        try:
            job = coffer.deps.catalog.get_job(job_id)
        except NotFound:
            job = None
        if job and job.native_ref and "task_token" in dynamodb.get_item(
                TableName=coffer.settings.catalog_table, ConsistentRead=True, Key={
                    "pk": {"S": waiter_key(restore_waiter_ref(job.native_ref, job_id))},
                    "sk": {"S": WAITER_SORT_KEY}}).get("Item", {}):
            break
        time.sleep(0.05)
    before = coffer.twin.invocations["ResumeNativeFunction"]
    coffer.twin.native.advance(timedelta(minutes=10))
    result = coffer.twin.wait(execution, timeout=60)  # well within the 600 s safety net: the event resumed it
    assert result["status"] == "SUCCEEDED", denied(coffer, mark)
    assert coffer.deps.catalog.get_job(job_id).state is JobState.COMPLETED
    assert coffer.twin.invocations["ResumeNativeFunction"] == before + 1
    assert "TaskTimedOut" not in [e["type"] for e in coffer.twin.history(execution)]
    assert not denied(coffer, mark)
