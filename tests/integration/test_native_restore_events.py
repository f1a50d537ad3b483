"""Native restores wait on AWS's own events that their target was made, not on a poll (issue 16,
domain/native_waits.py).

The twin makes each restore take simulated minutes (coffer_twin.native_durations: ``ec2:CreateVolume``,
``rds:RestoreDBInstanceFromDBSnapshot``, ``rds:RestoreDBClusterFromSnapshot``): the start step looks once, the Restore
workflow parks in WaitForRestoreEvent with a task token (waiter keyed by target and job), and AWS's event (EBS Volume
Notification createVolume; RDS DB Instance Event RDS-EVENT-0005; RDS DB Cluster Event RDS-EVENT-0170) resumes it
through ResumeNative. What a restore costs must not depend on how long its target takes: counted as bench counts
(coffer_twin.calls, the execution's *StateEntered events).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from twins import Twins

from coffer.adapters.resources.common import TAG_RESTORE_JOB
from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import JobState
from coffer.domain.native_waits import WAITER_SORT_KEY, restore_waiter_ref, waiter_key
from coffer_cli.local.samples import (
    create_sample_db_instance,
    create_sample_documentdb_cluster,
    create_sample_table,
    create_sample_volume,
)
from coffer_cli.local.session import LocalCoffer
from coffer_twin.calls import DRIVER, CallRecorder

#: the safety net on this twin (real seconds: a task token's timeout is not compressed like a Wait state); long
#: enough that a loaded machine delivers an end event well before it. The tests of the net itself wait it out.
SAFETY_NET_SECONDS = 20
#: the goal of issue 16 for a native job, whatever its target's duration
MAX_TRANSITIONS = 10
#: the states of a restore whose target's end event resumed it: one look at the start, one park, one resume, the
#: workflow's own look (a token resumed by anyone else completes nothing undone), the completion
EVENT_STATES = ["StartRestoreJob", "StartedOrRefused", "RecordRestore", "RouteByStrategy", "WaitForRestoreEvent",
                "CheckRestore", "RestoreReady", "CompleteRestore", "Done"]


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh({"NativeSafetyNetSeconds": str(SAFETY_NET_SECONDS)}) as deployed:
        yield deployed
        deployed.twin.native.reset()


@pytest.fixture(autouse=True)
def _instant_again(coffer: LocalCoffer) -> Iterator[None]:
    yield
    coffer.twin.native.reset()


# ---- what each type restores from, and into -----------------------------------------------------------------------
def _volume(coffer: LocalCoffer, name: str) -> tuple[str, dict[str, str]]:
    return create_sample_volume(coffer.client("ec2"), name), {}


def _db(coffer: LocalCoffer, name: str) -> tuple[str, dict[str, str]]:
    arn = create_sample_db_instance(coffer.client("rds"), coffer.client("ec2"), name)
    return arn, {"DBInstanceIdentifier": f"{name}-restored"}


def _docs(coffer: LocalCoffer, name: str) -> tuple[str, dict[str, str]]:
    arn = create_sample_documentdb_cluster(coffer.client("rds"), coffer.client("ec2"), name)
    return arn, {"DBClusterIdentifier": f"{name}-restored"}


#: kind -> (the twin's restore operation, how its source is made, the Describe that confirms its end)
KINDS: dict[str, tuple[str, Callable[[LocalCoffer, str], tuple[str, dict[str, str]]], str]] = {
    "EBS": ("ec2:CreateVolume", _volume, "ec2.DescribeVolumes"),
    "RDS": ("rds:RestoreDBInstanceFromDBSnapshot", _db, "rds.DescribeDBInstances"),
    "DocumentDB": ("rds:RestoreDBClusterFromSnapshot", _docs, "rds.DescribeDBClusters"),
}


def recovery_point(coffer: LocalCoffer, kind: str, name: str) -> tuple[str, dict[str, str]]:
    """A recovery point of a new source of `kind` (its snapshot instant), and the restore's Metadata."""
    arn, metadata = KINDS[kind][1](coffer, name)
    result = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": f"{name}-backup"})
    assert result["status"] == "SUCCEEDED", result
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    return job.recovery_point_id, metadata


def start(coffer: LocalCoffer, rp_id: str, token: str, metadata: dict[str, str]) -> str:
    [execution] = coffer.twin.put_event("coffer", "StartRestoreJob", {
        "RecoveryPointArn": rp_id, "IdempotencyToken": token, "Metadata": metadata}, bus=coffer.request_bus)
    return execution


def waiter(coffer: LocalCoffer, ref: str) -> dict[str, Any]:
    item = coffer.client("dynamodb").get_item(TableName=coffer.settings.catalog_table, ConsistentRead=True, Key={
        "pk": {"S": waiter_key(ref)}, "sk": {"S": WAITER_SORT_KEY}}).get("Item", {})
    return {key: next(iter(value.values())) for key, value in item.items()}


def parked(coffer: LocalCoffer, token: str, timeout: float = 30) -> str:
    """Wait until the restore's workflow has parked its task token on its target; the target's waiter ref."""
    job_id = job_id_for(token)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            job = coffer.deps.catalog.get_job(job_id)
        except NotFound:
            job = None
        if job is not None and job.native_ref:
            ref = restore_waiter_ref(job.native_ref, job_id)
            if "task_token" in waiter(coffer, ref):
                return ref
        time.sleep(0.05)
    raise TimeoutError(f"restore {job_id} never parked on its target")


def states(coffer: LocalCoffer, execution: str) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in coffer.twin.history(execution)
            if e["type"].endswith("StateEntered")]


def ended(coffer: LocalCoffer, execution: str) -> dict[str, Any]:
    return dict(coffer.twin.wait(execution, timeout=60))


def measured_restore(coffer: LocalCoffer, kind: str, name: str, minutes: float = 10) -> dict[str, Any]:
    """A restore whose target takes `minutes` simulated minutes: calls, transitions and invocations of the job."""
    rp_id, metadata = recovery_point(coffer, kind, name)
    coffer.twin.native.set(KINDS[kind][0], minutes=minutes)
    coffer.twin.wait_for_async()  # what earlier jobs set off is not this job's
    before = Counter(coffer.twin.invocations)
    token = f"{name}-restore"
    with CallRecorder() as calls:
        execution = start(coffer, rp_id, token, metadata)
        ref = parked(coffer, token)
        coffer.twin.native.advance(timedelta(minutes=minutes))
        result = ended(coffer, execution)
        coffer.twin.wait_for_async()
    recorded = [c for c in calls.snapshot() if c.caller != DRIVER]
    return {"result": result, "ref": ref, "job_id": job_id_for(token), "calls": len(recorded),
            "by_operation": Counter(f"{c.service}.{c.operation}" for c in recorded),
            "states": states(coffer, execution), "invocations": Counter(coffer.twin.invocations) - before}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_ten_minute_restore_is_waited_for_on_its_event_not_polled(coffer: LocalCoffer, kind: str) -> None:
    figures = measured_restore(coffer, kind, f"restev-{kind.lower()}")
    assert figures["result"]["status"] == "SUCCEEDED", figures["result"]
    job = coffer.deps.catalog.get_job(figures["job_id"])
    assert job.state is JobState.COMPLETED, job.status_message
    assert figures["states"] == EVENT_STATES
    assert len(figures["states"]) <= MAX_TRANSITIONS
    assert figures["invocations"]["ResumeNativeFunction"] == 1
    assert figures["invocations"]["CheckRestoreFunction"] == 1
    assert figures["by_operation"]["sfn.SendTaskSuccess"] + figures["by_operation"]["states.SendTaskSuccess"] == 1
    assert figures["by_operation"][KINDS[kind][2]] >= 2  # the start's look, ResumeNative's, the check's
    assert "done_at" in waiter(coffer, figures["ref"])


def test_the_wait_costs_the_same_whatever_the_restores_duration(coffer: LocalCoffer) -> None:
    # the twin's first restore does one-time work (a first record of its kind): not counted against either
    measured_restore(coffer, "EBS", "restev-warm", minutes=1)
    short = measured_restore(coffer, "EBS", "restev-short", minutes=10)
    long = measured_restore(coffer, "EBS", "restev-long", minutes=60)
    assert short["result"]["status"] == long["result"]["status"] == "SUCCEEDED"
    assert (long["by_operation"], long["states"], long["invocations"]) == \
        (short["by_operation"], short["states"], short["invocations"])


def test_a_lost_completion_event_is_caught_by_the_safety_net(coffer: LocalCoffer) -> None:
    rp_id, metadata = recovery_point(coffer, "EBS", "restev-lost")
    coffer.twin.native.set("ec2:CreateVolume", minutes=10, event=False)
    execution = start(coffer, rp_id, "restev-lost-restore", metadata)
    parked(coffer, "restev-lost-restore")
    before = coffer.twin.invocations["ResumeNativeFunction"]
    coffer.twin.native.advance(timedelta(minutes=10))  # there, but nobody is told
    result = ended(coffer, execution)
    assert result["status"] == "SUCCEEDED"
    assert coffer.deps.catalog.get_job(job_id_for("restev-lost-restore")).state is JobState.COMPLETED
    assert [e["type"] for e in coffer.twin.history(execution)].count("TaskTimedOut") == 1
    assert states(coffer, execution).count("CheckRestore") == 1  # the net fired once, its check found it there
    assert coffer.twin.invocations["ResumeNativeFunction"] == before


def test_a_failed_restore_fails_the_job_with_awss_reason_and_claims_nothing_restored(coffer: LocalCoffer) -> None:
    rp_id, metadata = recovery_point(coffer, "EBS", "restev-failed")
    coffer.twin.native.set("ec2:CreateVolume", minutes=5, fail="the KMS key is disabled")
    execution = start(coffer, rp_id, "restev-failed-restore", metadata)
    parked(coffer, "restev-failed-restore")
    coffer.twin.native.advance(timedelta(minutes=5))
    result = ended(coffer, execution)
    assert result["status"] == "FAILED"
    job = coffer.deps.catalog.get_job(job_id_for("restev-failed-restore"))
    assert job.state is JobState.FAILED
    assert "NativeOperationFailed" in (job.status_message or "")
    assert "is in state error" in (job.status_message or "")
    assert "the KMS key is disabled" in (job.status_message or "")  # the event's own cause, beside the Describe's
    found = states(coffer, execution)
    assert "CompleteRestore" not in found and "CheckRestore" not in found  # failed by the event, not by a poll
    assert job.job_id not in coffer.deps.restore_leases.restores(rp_id)  # its hold on the recovery point is gone


def _forged_volume_event(coffer: LocalCoffer, volume_arn: str, result: str = "available") -> dict[str, Any]:
    return {"version": "0", "id": "forged", "detail-type": "EBS Volume Notification", "source": "aws.ec2",
            "account": coffer.twin.account_id, "time": "2026-01-01T00:00:00Z", "region": coffer.twin.region,
            "resources": [volume_arn],
            "detail": {"event": "createVolume", "result": result, "cause": "", "request-id": ""}}


def _target(ref: str) -> str:
    return ref.rsplit("#", 1)[0]


def test_a_forged_completion_does_not_complete_a_restore_whose_volume_is_creating(coffer: LocalCoffer) -> None:
    """The attacker puts AWS's event shape on the default bus (the twin lets anyone name aws.ec2 as source) and
    invokes ResumeNative directly, naming the parked job's volume: the Describe says creating, nothing resumes."""
    rp_id, metadata = recovery_point(coffer, "EBS", "restev-forged")
    coffer.twin.native.set("ec2:CreateVolume", minutes=30)
    execution = start(coffer, rp_id, "restev-forged-restore", metadata)
    ref = parked(coffer, "restev-forged-restore")
    forged = _forged_volume_event(coffer, _target(ref))
    coffer.twin.put_event("aws.ec2", "EBS Volume Notification", forged["detail"], resources=forged["resources"])
    coffer.twin.wait_for_async()
    answer = coffer.twin.invoke("ResumeNativeFunction", forged)
    assert answer["outcome"] == "ignored" and "creating" in answer["reason"]
    failed = coffer.twin.invoke("ResumeNativeFunction", _forged_volume_event(coffer, _target(ref), "failed"))
    assert failed["outcome"] == "ignored"  # a forged failure fails nothing either: the volume is not in error
    time.sleep(0.5)
    assert coffer.deps.catalog.get_job(job_id_for("restev-forged-restore")).state is JobState.RUNNING
    assert "done_at" not in waiter(coffer, ref)
    assert coffer.client("stepfunctions").describe_execution(executionArn=execution)["status"] == "RUNNING"
    coffer.twin.native.advance(timedelta(minutes=30))  # the real end still completes it
    assert ended(coffer, execution)["status"] == "SUCCEEDED"


def test_another_jobs_finished_target_does_not_resume_a_creating_one(coffer: LocalCoffer) -> None:
    """ResumeNative is called with another restore's (available) volume: only that job's waiter is touched."""
    done = measured_restore(coffer, "EBS", "restev-other-done")
    rp_id, metadata = recovery_point(coffer, "EBS", "restev-other-pending")
    coffer.twin.native.set("ec2:CreateVolume", minutes=30)
    execution = start(coffer, rp_id, "restev-other-pending-restore", metadata)
    pending_ref = parked(coffer, "restev-other-pending-restore")
    answer = coffer.twin.invoke("ResumeNativeFunction", _forged_volume_event(coffer, _target(done["ref"])))
    assert answer["outcome"] == "gone" and answer["job_id"] == done["job_id"]
    time.sleep(0.5)
    assert coffer.deps.catalog.get_job(job_id_for("restev-other-pending-restore")).state is JobState.RUNNING
    assert "done_at" not in waiter(coffer, pending_ref)
    coffer.twin.native.advance(timedelta(minutes=30))
    assert ended(coffer, execution)["status"] == "SUCCEEDED"


def test_a_volume_tagged_with_another_jobs_restore_tag_resumes_nothing(coffer: LocalCoffer) -> None:
    """The attacker makes a volume of their own, tags it with the parked job's restore-job id and announces it
    available: its waiter is keyed by *that* volume and the job, not the job's own target - nothing resumes."""
    rp_id, metadata = recovery_point(coffer, "EBS", "restev-decoy")
    coffer.twin.native.set("ec2:CreateVolume", minutes=30)
    execution = start(coffer, rp_id, "restev-decoy-restore", metadata)
    ref = parked(coffer, "restev-decoy-restore")
    coffer.twin.native.reset()
    ec2 = coffer.client("ec2")
    decoy = ec2.create_volume(Size=1, AvailabilityZone=f"{coffer.twin.region}a", TagSpecifications=[{
        "ResourceType": "volume", "Tags": [{"Key": TAG_RESTORE_JOB, "Value": job_id_for("restev-decoy-restore")}]}])
    decoy_arn = f"arn:aws:ec2:{coffer.twin.region}:{coffer.twin.account_id}:volume/{decoy['VolumeId']}"
    answer = coffer.twin.invoke("ResumeNativeFunction", _forged_volume_event(coffer, decoy_arn))
    assert answer["outcome"] == "marked"  # a waiter nobody parks on
    time.sleep(0.5)
    assert coffer.deps.catalog.get_job(job_id_for("restev-decoy-restore")).state is JobState.RUNNING
    assert "done_at" not in waiter(coffer, ref)
    assert "CheckRestore" not in states(coffer, execution)
    coffer.twin.native.advance(timedelta(minutes=30))
    assert ended(coffer, execution)["status"] == "SUCCEEDED"


def test_a_task_token_resumed_by_someone_else_completes_nothing_while_the_target_is_creating(
        coffer: LocalCoffer) -> None:
    """SendTaskSuccess takes no resource in IAM: whoever reads the waiter's token can resume the parked task. The
    workflow looks itself (CheckRestore) and parks again: no COMPLETED restore of a volume that may still fail."""
    rp_id, metadata = recovery_point(coffer, "EBS", "restev-token")
    coffer.twin.native.set("ec2:CreateVolume", minutes=30)
    execution = start(coffer, rp_id, "restev-token-restore", metadata)
    ref = parked(coffer, "restev-token-restore")
    coffer.client("stepfunctions").send_task_success(taskToken=waiter(coffer, ref)["task_token"], output="{}")
    deadline = time.monotonic() + 30
    while states(coffer, execution).count("WaitForRestoreEvent") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert states(coffer, execution).count("WaitForRestoreEvent") == 2  # looked, found it creating, parked again
    assert coffer.deps.catalog.get_job(job_id_for("restev-token-restore")).state is JobState.RUNNING
    assert "CompleteRestore" not in states(coffer, execution)
    coffer.twin.native.advance(timedelta(minutes=30))
    assert ended(coffer, execution)["status"] == "SUCCEEDED"
    assert coffer.deps.catalog.get_job(job_id_for("restev-token-restore")).state is JobState.COMPLETED


def test_a_duplicate_event_is_harmless(coffer: LocalCoffer) -> None:
    """EventBridge delivers at least once: the second delivery finds the token spent and changes nothing."""
    figures = measured_restore(coffer, "RDS", "restev-twice")
    assert figures["result"]["status"] == "SUCCEEDED"
    [event] = [e for e in coffer.twin.native.events if e["DetailType"] == "RDS DB Instance Event"
               and "restev-twice" in e["Detail"]]
    job = coffer.deps.catalog.get_job(figures["job_id"])
    answer = coffer.twin.invoke("ResumeNativeFunction", {
        "version": "0", "id": "again", "detail-type": event["DetailType"], "source": event["Source"],
        "account": coffer.twin.account_id, "time": "2026-01-01T00:00:00Z", "region": coffer.twin.region,
        "resources": event["Resources"], "detail": json.loads(event["Detail"])})
    assert answer["outcome"] == "gone"
    again = coffer.deps.catalog.get_job(figures["job_id"])
    assert again.state is JobState.COMPLETED and again.history == job.history


def test_a_database_not_made_by_a_coffer_restore_invokes_nothing(coffer: LocalCoffer) -> None:
    """RDS puts a database's tags in its events: the rule takes creations of databases a Coffer restore made
    (tag coffer:restore-job-id) only, so the region's other new databases cost no invocation."""
    coffer.twin.wait_for_async()
    before = coffer.twin.invocations["ResumeNativeFunction"]
    region, account = coffer.twin.region, coffer.twin.account_id
    for name, tags in (("someone-elses-db", {"team": "web"}), ("a-restored-db", {TAG_RESTORE_JOB: "job-x"})):
        coffer.twin.put_event("aws.rds", "RDS DB Instance Event", {
            "EventCategories": ["creation"], "SourceType": "DB_INSTANCE", "SourceIdentifier": name,
            "SourceArn": f"arn:aws:rds:{region}:{account}:db:{name}", "Message": "DB instance created",
            "EventID": "RDS-EVENT-0005", "Tags": tags})
    coffer.twin.wait_for_async()
    assert coffer.twin.invocations["ResumeNativeFunction"] == before + 1  # a-restored-db's only


def test_dynamodb_restores_keep_their_poll(coffer: LocalCoffer) -> None:
    """DynamoDB announces no restore's end: its restore is polled as before (no WaitForRestoreEvent)."""
    dynamodb = coffer.client("dynamodb")
    create_sample_table(dynamodb, "restev-table")
    arn = f"arn:aws:dynamodb:{coffer.twin.region}:{coffer.twin.account_id}:table/restev-table"
    backup = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": "restev-table-backup"})
    assert backup["status"] == "SUCCEEDED", backup
    rp_id = coffer.deps.catalog.get_job(backup["output"]["job_id"]).recovery_point_id
    execution = start(coffer, rp_id, "restev-table-restore", {"targetTableName": "restev-table-restored"})
    assert ended(coffer, execution)["status"] == "SUCCEEDED"
    found = states(coffer, execution)
    assert "WaitForRestoreEvent" not in found and "WaitForRestore" in found


def test_a_failed_database_restore_is_found_by_the_safety_net_and_fails_the_job(coffer: LocalCoffer) -> None:
    """RDS documents no event for a restore that failed (the twin sends none): the wait's safety net looks, finds
    the instance failed, and the job ends FAILED naming it - never COMPLETED, its hold released."""
    rp_id, metadata = recovery_point(coffer, "RDS", "restev-dbfail")
    coffer.twin.native.set("rds:RestoreDBInstanceFromDBSnapshot", minutes=5, fail="incompatible-restore")
    execution = start(coffer, rp_id, "restev-dbfail-restore", metadata)
    parked(coffer, "restev-dbfail-restore")
    coffer.twin.native.advance(timedelta(minutes=5))
    result = ended(coffer, execution)
    assert result["status"] == "FAILED"
    job = coffer.deps.catalog.get_job(job_id_for("restev-dbfail-restore"))
    assert job.state is JobState.FAILED
    assert "NativeOperationFailed" in (job.status_message or "") and "is failed" in (job.status_message or "")
    assert [e["type"] for e in coffer.twin.history(execution)].count("TaskTimedOut") == 1
    assert "CompleteRestore" not in states(coffer, execution)
    assert job.job_id not in coffer.deps.restore_leases.restores(rp_id)
