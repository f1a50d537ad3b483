"""Native backups parked on AWS's completion events, with IAM enforced: ResumeNative's least-privilege role (waiter
records only, snapshots' Describe, SendTaskSuccess/Failure) carries a real resume, and cannot write a job record
(a forged resume cannot end a job through the catalog either). A right missing from template.yaml would show here
as a denied decision naming the action."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from twins import Twins

from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import JobState
from coffer.domain.native_waits import WAITER_SORT_KEY, waiter_key
from coffer_cli.local.samples import create_sample_volume
from coffer_cli.local.session import LocalCoffer


@pytest.fixture(scope="module")
def enforced(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh({"NativeSafetyNetSeconds": "600"}, enforce_iam=True) as coffer:
        yield coffer
        coffer.twin.native.reset()


def denied(coffer: LocalCoffer, mark: int) -> list[str]:
    assert coffer.twin.iam is not None
    return [json.dumps(d.__dict__, default=str)[:400] for d in coffer.twin.iam.decisions[mark:] if not d.allowed]


def test_a_snapshot_end_resumes_its_backup_through_resume_natives_own_rights(enforced: LocalCoffer) -> None:
    coffer = enforced
    assert coffer.twin.iam is not None
    arn = create_sample_volume(coffer.client("ec2"), "enforced-events")
    coffer.twin.native.set("ec2:CreateSnapshot", minutes=10)
    mark = len(coffer.twin.iam.decisions)
    [execution] = coffer.twin.put_event("coffer", "StartBackupJob", {"ResourceArn": arn,
                                                                      "IdempotencyToken": "enforced-events"})
    job_id, deadline = job_id_for("enforced-events"), time.monotonic() + 60
    dynamodb = coffer.client("dynamodb")
    while time.monotonic() < deadline:  # parked: the waiter record holds the task token
        try:
            job = coffer.deps.catalog.get_job(job_id)
        except NotFound:
            job = None
        if job and job.native_ref and "task_token" in dynamodb.get_item(
                TableName=coffer.settings.catalog_table, ConsistentRead=True,
                Key={"pk": {"S": waiter_key(job.native_ref)}, "sk": {"S": WAITER_SORT_KEY}}).get("Item", {}):
            break
        time.sleep(0.05)
    coffer.twin.native.advance(timedelta(minutes=10))
    result = coffer.twin.wait(execution, timeout=60)  # well within the 600 s safety net: the event resumed it
    assert result["status"] == "SUCCEEDED", denied(coffer, mark)
    assert coffer.deps.catalog.get_job(job_id).state is JobState.COMPLETED
    assert coffer.twin.invocations["ResumeNativeFunction"] >= 1
    assert not denied(coffer, mark)


def test_resume_native_cannot_write_a_job_record(enforced: LocalCoffer) -> None:
    """The attacker who runs as ResumeNative (or makes it misbehave) cannot mark a job COMPLETED in the catalog."""
    assert enforced.twin.iam is not None
    role = enforced.twin.session_as(str(enforced.twin.iam.function_roles["ResumeNativeFunction"]))
    dynamodb = role.client("dynamodb")
    with pytest.raises(ClientError) as refused:
        dynamodb.update_item(TableName=enforced.settings.catalog_table,
                             Key={"pk": {"S": "JOB#someone-elses"}, "sk": {"S": "JOB"}},
                             UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "state"},
                             ExpressionAttributeValues={":s": {"S": "COMPLETED"}})
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
