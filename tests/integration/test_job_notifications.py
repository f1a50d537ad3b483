"""Know when anything goes wrong, on the twin: a failed, an expired, an aborted and a partial job each put their job
event on EventBridge (seen by a rule written for AWS Backup, its source changed, delivering to a queue) and a
message on the stack's notification topic (seen by a queue subscribed to the topic, as an operator would)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.domain.clock import FixedClock, SystemClock
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import JobState
from coffer_cli.local.samples import create_sample_bucket
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "notified-source"


@pytest.fixture(scope="module")
def world(twins: Twins) -> Iterator[dict[str, Any]]:
    clock = FixedClock(SystemClock().now())
    with twins.fresh(clock=clock) as coffer:
        sqs, sns, events = coffer.client("sqs"), coffer.client("sns"), coffer.client("events")
        queues = {}
        for name in ("job-events", "notifications"):
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            queues[name] = (url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                            ["Attributes"]["QueueArn"])
        # an operator's rule, written for AWS Backup with its source changed, to a queue
        pattern = {"source": ["coffer.backup"],
                   "detail-type": ["Backup Job State Change", "Restore Job State Change"]}
        events.put_rule(Name="all-job-events", EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule="all-job-events", Targets=[{"Id": "q", "Arn": queues["job-events"][1]}])
        # and a queue subscribed to the stack's notification topic (raw: the queue gets the message itself)
        topic = coffer.twin.outputs["NotificationTopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queues["notifications"][1],
                      Attributes={"RawMessageDelivery": "true"})
        create_sample_bucket(coffer.client("s3"), BUCKET)
        yield {"coffer": coffer, "clock": clock, "sqs": sqs, "queues": queues, "topic": topic,
               "events": [], "messages": []}


def drain(world: dict[str, Any], name: str) -> list[Any]:
    """Everything the queue got so far (kept across calls), after the asynchronous deliveries have run."""
    world["coffer"].twin.wait_for_async()
    sqs, (url, _) = world["sqs"], world["queues"][name]
    store = world["events" if name == "job-events" else "messages"]
    seen = {(e["detail"].get("backupJobId") or e["detail"].get("restoreJobId"), e["detail"]["stateVersion"])
            for e in store} if name == "job-events" else set()
    for _ in range(20):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        for message in got:
            body = json.loads(message["Body"]) if name == "job-events" else message["Body"]
            if name == "job-events":  # each transition is announced once: (job id, stateVersion) never repeats
                key = (body["detail"].get("backupJobId") or body["detail"].get("restoreJobId"),
                       body["detail"]["stateVersion"])
                assert key not in seen, key
                seen.add(key)
            store.append(body)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return list(store)


def states_of(world: dict[str, Any], job_id: str) -> list[str]:
    return [e["detail"].get("state") or e["detail"].get("status") for e in drain(world, "job-events")
            if job_id in (e["detail"].get("backupJobId"), e["detail"].get("restoreJobId"))]


def message_about(world: dict[str, Any], job_id: str) -> str:
    found = [m for m in drain(world, "notifications") if f"job {job_id} " in m]
    assert len(found) == 1, (job_id, drain(world, "notifications"))
    return str(found[0])


def backup(coffer: LocalCoffer, token: str) -> str:
    return str(coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{BUCKET}", "IdempotencyToken": token})
               ["output"]["job_id"])


def test_a_partial_job_is_announced_and_told_with_its_key(world: dict[str, Any]) -> None:
    coffer = world["coffer"]
    world["clock"].set(SystemClock().now())
    coffer.client("s3").put_object(Bucket=BUCKET, Key="frozen/archive.bin", Body=b"cold", StorageClass="GLACIER")
    job_id = backup(coffer, "partial")
    try:
        assert coffer.deps.catalog.get_job(job_id).state is JobState.PARTIAL
        assert states_of(world, job_id) == ["CREATED", "RUNNING", "PARTIAL"]
        message = message_about(world, job_id)
        assert f"Coffer backup job {job_id} PARTIAL." in message and f"arn:aws:s3:::{BUCKET}" in message
        assert "Objects not copied: 1" in message and f"coffer jobs describe {job_id}" in message
    finally:
        coffer.client("s3").delete_object(Bucket=BUCKET, Key="frozen/archive.bin")


def test_a_failed_job_is_announced_and_told_with_its_cause(world: dict[str, Any]) -> None:
    coffer = world["coffer"]
    world["clock"].set(SystemClock().now())
    backed_up = coffer.deps.catalog.get_job(backup(coffer, "to-tamper"))
    assert states_of(world, backed_up.job_id)[-1] == "COMPLETED"
    # A compromised operator with the governance bypass destroys every blob version the recovery point pins (a
    # version written over them would not do: restores read the pinned versions): every key fails.
    s3, bucket = coffer.client("s3"), coffer.settings.vault_bucket
    for blob, version in coffer.deps.vault.versions("vaults/Default/blobs/"):
        s3.delete_object(Bucket=bucket, Key=blob, VersionId=version, BypassGovernanceRetention=True)
    coffer.start_restore({"RecoveryPointArn": backed_up.recovery_point_id, "IdempotencyToken": "r-tampered",
                          "Metadata": {"DestinationBucketName": "never", "NewBucket": "true"}})
    restore_id = job_id_for("r-tampered")
    assert states_of(world, restore_id)[-1] == "FAILED"
    message = message_about(world, restore_id)
    cause = coffer.deps.catalog.get_job(restore_id).history[-1].reason
    assert f"Coffer restore job {restore_id} FAILED." in message and cause and cause in message
    # the backup that went well was told to nobody
    assert not [m for m in drain(world, "notifications") if backed_up.job_id in m]


def test_an_aborted_job_is_announced_and_told(world: dict[str, Any]) -> None:
    coffer, clock = world["coffer"], world["clock"]
    clock.set(SystemClock().now())
    event = {"version": "0", "id": "abort-1", "detail-type": "StartBackupJob", "source": "coffer",
             "account": "123456789012", "time": clock.now().isoformat(), "region": coffer.twin.region,
             "resources": [], "detail": {"ResourceArn": f"arn:aws:s3:::{BUCKET}", "IdempotencyToken": "slow",
                                         "CompleteWindowMinutes": 60}}
    job_id = coffer.twin.invoke("StartBackupJobFunction", {"event": event, "execution_arn": "arn:x"})["job_id"]
    clock.advance(timedelta(hours=2))  # the job's completion window has passed: completing it is refused ...
    with pytest.raises(Exception, match="CompletionWindowExceeded"):
        coffer.twin.invoke("CompleteBackupFunction", {"job_id": job_id})
    # ... and the workflow's Catch ends it with that error, as AWS Backup ends it: ABORTED
    coffer.twin.invoke("FailJobFunction", {"job_id": job_id, "error": {
        "Error": "CompletionWindowExceeded", "Cause": f"job {job_id} did not complete by its window"}})
    assert coffer.deps.catalog.get_job(job_id).state is JobState.ABORTED
    assert states_of(world, job_id) == ["CREATED", "RUNNING", "ABORTED"]
    assert f"Coffer backup job {job_id} ABORTED." in message_about(world, job_id)


def test_an_expired_job_is_announced_and_told(world: dict[str, Any]) -> None:
    coffer, clock = world["coffer"], world["clock"]
    clock.set(SystemClock().now() + timedelta(hours=2))  # the request (sent now) arrives after its start window
    job_id = backup(coffer, "late")
    assert coffer.deps.catalog.get_job(job_id).state is JobState.EXPIRED
    assert states_of(world, job_id) == ["CREATED", "EXPIRED"]
    message = message_about(world, job_id)
    assert f"Coffer backup job {job_id} EXPIRED." in message and "not started by" in message



def test_a_backup_job_costs_two_put_events_and_a_quiet_notifier(world: dict[str, Any]) -> None:
    """bench/README.md's "Job events" figure: CREATED with RUNNING (the start writes both at once); the end with its
    recovery point - one call each, every transition still its own entry."""
    from coffer_twin.calls import DRIVER, CallRecorder

    coffer = world["coffer"]
    world["clock"].set(SystemClock().now())
    with CallRecorder() as calls:
        job_id = backup(coffer, "counted")
        coffer.twin.wait_for_async()
    puts = [c for c in calls.snapshot() if c.operation == "PutEvents" and c.caller != DRIVER]
    assert coffer.deps.catalog.get_job(job_id).state is JobState.COMPLETED
    assert sorted(c.caller for c in puts) == ["CompleteBackupFunction", "StartBackupJobFunction"], calls.operations()
    # the notifier heard each event and, the job having gone well, published nothing
    assert calls.count(operation="Publish") == 0
    assert states_of(world, job_id) == ["CREATED", "RUNNING", "COMPLETED"]


def test_a_vaults_settings_put_through_the_cli_are_honoured_by_the_notifier(
        world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    from coffer_cli.cli import main

    coffer, stack = world["coffer"], ["--stack", "coffer-twin"]
    world["clock"].set(SystemClock().now())
    assert main(["vault", "notifications", "put", "Default", "--events", "BACKUP_JOB_SUCCESSFUL", *stack]) == 0
    assert json.loads(capsys.readouterr().out) == {"BackupVaultName": "Default", "SNSTopicArn": None,
                                                   "BackupVaultEvents": ["BACKUP_JOB_SUCCESSFUL"]}
    try:
        job_id = backup(coffer, "told-when-done")
        assert f"Coffer backup job {job_id} COMPLETED." in message_about(world, job_id)
        # a name AWS Backup does not have is refused, naming the field and what it may be; nothing changes
        with pytest.raises(SystemExit) as refused:
            main(["vault", "notifications", "put", "Default", "--events", "BACKUP_JOB_EXPLODED", *stack])
        assert refused.value.code != 0
        [error] = capsys.readouterr().err.splitlines()  # one line, no traceback
        assert error.startswith("coffer: BackupVaultEvents.0:") and "BACKUP_JOB_FAILED" in error
        assert main(["vault", "notifications", "get", "Default", *stack]) == 0
        assert json.loads(capsys.readouterr().out)["BackupVaultEvents"] == ["BACKUP_JOB_SUCCESSFUL"]
    finally:
        assert main(["vault", "notifications", "delete", "Default", *stack]) == 0
    assert "the defaults apply" in capsys.readouterr().out
    assert main(["vault", "notifications", "get", "Default", *stack]) == 0
    assert "no notification settings - the defaults apply" in capsys.readouterr().out
