"""Know when a schedule is missed, an expiry is blocked or the audit chain is broken, on the twin: each puts a message
on the stack's notification topic (seen by a queue subscribed to it, as an operator would) and prints the metric
its alarm in template.yaml watches, with the value that fires it (the functions' EMF lines, evaluated as CloudWatch
evaluates the alarm); a resource inside its frequency raises nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.domain.clock import FixedClock
from coffer.domain.plans import read_documents
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer_cli.local.sample_plans import plan_service
from coffer_cli.local.samples import create_sample_volume
from coffer_cli.local.session import LocalCoffer
from coffer_twin import lambda_router
from coffer_twin.calls import CallRecorder
from coffer_twin.cfn_yaml import load_template
from coffer_twin.faults import FaultInjector, FaultKind

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
PLAN, RULE = "hourly-watch", "every-hour"


@pytest.fixture(scope="module")
def world(twins: Twins) -> Iterator[dict[str, Any]]:
    clock = FixedClock(T0)
    with twins.fresh(clock=clock) as coffer:
        sqs, sns = coffer.client("sqs"), coffer.client("sns")
        url = sqs.create_queue(QueueName="operator")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=coffer.twin.outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true"})
        yield {"coffer": coffer, "clock": clock, "sqs": sqs, "url": url}


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin's functions print their EMF lines, as Lambda does (the twin turns them off by default)."""
    monkeypatch.setitem(lambda_router._RUNTIME_DEFAULTS, "POWERTOOLS_METRICS_DISABLED", "false")


def messages(world: dict[str, Any]) -> list[str]:
    """What the subscribed queue got since the last call."""
    world["coffer"].twin.wait_for_async()
    sqs, url, got = world["sqs"], world["url"], []
    for _ in range(20):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        for message in batch:
            got.append(str(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return got


def printed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]


def fires(alarm_name: str, blobs: list[dict[str, Any]]) -> tuple[bool, float]:
    """Evaluate the alarm as CloudWatch would over one period: its metric (namespace, name, exact dimension set;
    the alarm's statistic over the matching data points) against its threshold. (fires, value)."""
    alarm = load_template(ROOT / "template.yaml")["Resources"][alarm_name]["Properties"]
    dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
    points = [v for b in blobs if b["_aws"]["CloudWatchMetrics"][0]["Namespace"] == alarm["Namespace"]
              and alarm["MetricName"] in b
              and set(b["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) - {"service"} == set(dims) - {"service"}
              and all(b.get(k) == v for k, v in dims.items() if not isinstance(v, dict))
              for v in b[alarm["MetricName"]]]
    value = {"Sum": sum, "Maximum": lambda p: max(p, default=0.0)}[alarm["Statistic"]](points)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    return value >= float(alarm["Threshold"]), float(value)


# ---- missed schedules ---------------------------------------------------------------------------------------------
def bucket(coffer: LocalCoffer, name: str, frozen: bool = False) -> str:
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="data/0.txt", Body=b"payroll\n")
    if frozen:  # an object Coffer cannot read: every backup of the bucket ends PARTIAL, never COMPLETED
        s3.put_object(Bucket=name, Key="frozen/archive.bin", Body=b"cold", StorageClass="GLACIER")
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "watch", "Value": "hourly"}]})
    return f"arn:aws:s3:::{name}"


def apply_hourly_plan(coffer: LocalCoffer) -> None:
    plan_service(coffer).apply(read_documents([("plan", {
        "BackupPlan": {"BackupPlanName": PLAN, "Rules": [{
            "RuleName": RULE, "TargetBackupVaultName": "Default", "ScheduleExpression": "rate(1 hour)",
            "StartWindowMinutes": 60, "CompletionWindowMinutes": 120, "Lifecycle": {"DeleteAfterDays": 7}}]},
        "Selections": [{"SelectionName": "watched", "IamRoleArn": "arn:aws:iam::123456789012:role/backup",
                        "Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/watch",
                                                         "ConditionValue": "hourly"}]}}]})]))


def run_rule(world: dict[str, Any], at: datetime) -> dict[str, Any]:
    world["clock"].set(at + timedelta(minutes=1))
    result = world["coffer"].twin.run("PlanRunStateMachine", {
        "plan_name": PLAN, "rule_name": RULE, "scheduled_time": at.strftime("%Y-%m-%dT%H:%M:%SZ")}, timeout=180)
    assert result["status"] == "SUCCEEDED", result
    return dict(result["output"])


def test_a_resource_without_a_completed_backup_past_frequency_and_windows_is_a_missed_schedule(
        world: dict[str, Any], emf: None, capsys: pytest.CaptureFixture[str]) -> None:
    coffer = world["coffer"]
    apply_hourly_plan(coffer)
    payroll = bucket(coffer, "payroll-watched")
    # allowed: a fire every hour, started within 1 h, done within 2 h more - 4 h without a COMPLETED backup
    run_rule(world, T0)  # COMPLETED
    coffer.client("s3").put_object(Bucket="payroll-watched", Key="frozen/archive.bin", Body=b"cold",
                                   StorageClass="GLACIER")
    newcomer = bucket(coffer, "newcomer-watched", frozen=True)
    capsys.readouterr()
    messages(world)

    # 2 h later: payroll's backup ends PARTIAL, its newest COMPLETED one is 2 h old; the newcomer has none, but was
    # selected only now. Nothing is missed, and the alarm's metric says so.
    with CallRecorder() as calls:
        run_rule(world, T0 + timedelta(hours=2))
    # what the check costs (bench/README.md "Operator alerts"): one UpdateItem per settled resource, no Publish
    assert calls.count(caller="SettlePageFunction", operation="UpdateItem") == 2, calls.operations()
    assert calls.count(caller="SettlePageFunction", operation="Publish") == 0
    quiet = printed(capsys)
    assert fires("MissedSchedulesAlarm", quiet) == (False, 0.0)
    assert not [m for m in messages(world) if "missed schedule" in m]
    ages = [b["OldestRecoveryPointAgeHours"] for b in quiet if "OldestRecoveryPointAgeHours" in b]
    assert ages and max(max(a) for a in ages) < 4

    # 5 h after its last COMPLETED backup (the runs between went PARTIAL): payroll's schedule is missed; the
    # newcomer, first selected 3 h ago, is still within its grace of one frequency plus windows
    run_rule(world, T0 + timedelta(hours=5))
    assert fires("MissedSchedulesAlarm", printed(capsys)) == (True, 1.0)
    [message] = [m for m in messages(world) if "missed schedule" in m]
    assert f"plan {PLAN}, rule {RULE}" in message and payroll in message and newcomer not in message
    assert "age 5.0 h (allowed 4.0 h)" in message and "frequency (1.0 h)" in message
    assert f"coffer jobs list --by-resource-arn {payroll} --stack" in message


# ---- undeletable expiries -----------------------------------------------------------------------------------------
def ebs_backup(coffer: LocalCoffer, name: str) -> RecoveryPoint:
    result = coffer.start_backup({"ResourceArn": create_sample_volume(coffer.client("ec2"), name),
                                  "IdempotencyToken": name, "Lifecycle": {"DeleteAfterDays": 1}})
    assert result["status"] == "SUCCEEDED", result
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    return coffer.deps.catalog.get_recovery_point(job.recovery_point_id)


def sweep(world: dict[str, Any]) -> dict[str, Any]:
    result = world["coffer"].twin.run("SweepStateMachine", {}, timeout=300)
    assert result["status"] == "SUCCEEDED", result
    return dict(result["output"])


def snapshot_of(rp: RecoveryPoint) -> str:
    return (rp.native_ref or "").rsplit("/", 1)[-1]


def test_an_expiry_the_sweep_cannot_finish_is_told_with_what_to_do_and_retried_until_it_is_done(
        world: dict[str, Any], emf: None, capsys: pytest.CaptureFixture[str]) -> None:
    coffer, clock, catalog = world["coffer"], world["clock"], world["coffer"].deps.catalog
    ec2 = coffer.client("ec2")
    clock.set(T0 + timedelta(days=1))
    in_use, gone = ebs_backup(coffer, "imaged-volume"), ebs_backup(coffer, "vanished-volume")
    # An AMI is registered from the first snapshot: AWS refuses to delete a snapshot a registered AMI uses
    # (InvalidSnapshot.InUse). moto refuses it only for an AMI it made itself (CreateImage), so the twin's moto is
    # told which AMI uses it - the refusal is still moto's own.
    image = ec2.register_image(Name="from-backup", RootDeviceName="/dev/xvda", BlockDeviceMappings=[
        {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_of(in_use)}}])["ImageId"]
    from moto.ec2.models import ec2_backends

    ec2_backends[coffer.twin.account_id][coffer.twin.region].snapshots[snapshot_of(in_use)].from_ami = image
    # the second snapshot was deleted by someone else: its expiry is done, not blocked
    ec2.delete_snapshot(SnapshotId=snapshot_of(gone))
    clock.set(T0 + timedelta(days=2, hours=1))
    capsys.readouterr()
    messages(world)

    first = sweep(world)
    assert fires("ExpiryBlockedAlarm", printed(capsys)) == (True, 1.0)
    [message] = [m for m in messages(world) if "could not be deleted" in m]
    assert in_use.recovery_point_id in message and gone.recovery_point_id not in message
    assert "InvalidSnapshot.InUse" in message and "deregister the AMI" in message
    assert f"coffer recovery-points describe {in_use.recovery_point_id} --stack" in message
    assert catalog.get_recovery_point(gone.recovery_point_id).status is RecoveryPointStatus.EXPIRED
    # still recorded, no restore takes it, and it says why
    blocked = catalog.get_recovery_point(in_use.recovery_point_id)
    assert blocked.status is RecoveryPointStatus.DELETING
    assert blocked.status_message and "InvalidSnapshot.InUse" in blocked.status_message
    assert first["skipped_by"] == {"error": 1}, first

    # the AMI is deregistered; the next sweep is denied DeleteSnapshot (an SCP, say): blocked again, other advice
    ec2.deregister_image(ImageId=image)
    with FaultInjector(backoff_scale=0.01) as faults:
        denied = faults.fail(FaultKind.ACCESS_DENIED, "ec2", "DeleteSnapshot", caller="SweepBatchFunction",
                             times=None)
        sweep(world)
    assert denied.injected >= 1
    assert fires("ExpiryBlockedAlarm", printed(capsys)) == (True, 1.0)
    [message] = [m for m in messages(world) if "could not be deleted" in m]
    assert "UnauthorizedOperation" in message and "give the sweep's role" in message

    # nothing in the way any more: the next sweep finishes it, and tells nobody
    sweep(world)
    assert fires("ExpiryBlockedAlarm", printed(capsys)) == (False, 0.0)
    assert not [m for m in messages(world) if "could not be deleted" in m]
    finished = catalog.get_recovery_point(in_use.recovery_point_id)
    assert (finished.status, finished.status_message) == (RecoveryPointStatus.EXPIRED, None)
    assert snapshot_of(in_use) not in {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}


# ---- a broken audit chain -----------------------------------------------------------------------------------------
def verify(world: dict[str, Any]) -> dict[str, Any]:
    """A Verify run, with the template's bucket policies on the vault bucket (as deployed; the twin leaves them off
    unless asked, and verify finds their absence)."""
    from coffer_cli.cli import main

    twin = world["coffer"].twin
    with twin.bucket_policies_stored():
        assert main(["vault", "apply-policies", "--stack", twin.stack_name]) == 0  # as after every deploy
        return dict(twin.wait(twin.start_execution("VerifyStateMachine", {"vaults": [], "deep": False}), timeout=300))


def test_a_broken_audit_chain_is_found_by_verify_told_and_counted(
        world: dict[str, Any], emf: None, capsys: pytest.CaptureFixture[str]) -> None:
    coffer = world["coffer"]
    s3, bucket = coffer.client("s3"), coffer.settings.vault_bucket
    world["clock"].set(T0 + timedelta(days=3))
    s3.create_bucket(Bucket="audited")
    s3.put_object(Bucket="audited", Key="ledger.csv", Body=b"1,2,3\n")
    for n in range(3):  # each completed backup appends its record to the chain
        assert coffer.start_backup({"ResourceArn": "arn:aws:s3:::audited", "IdempotencyToken": f"audited-{n}"}
                                   )["status"] == "SUCCEEDED"
    # the chain verifies, and nothing is told
    records = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="audit/")["Contents"])
    assert len(records) >= 3
    capsys.readouterr()
    messages(world)
    clean = verify(world)
    assert clean["status"] == "SUCCEEDED", clean
    assert fires("AuditChainBrokenAlarm", printed(capsys)) == (False, 0.0)
    assert not [m for m in messages(world) if "audit chain" in m]

    # A compromised operator with the governance bypass removes the second record (every version of it): an act
    # it would rather nobody saw.
    removed = records[1]
    for version in s3.list_object_versions(Bucket=bucket, Prefix=removed).get("Versions", []):
        s3.delete_object(Bucket=bucket, Key=removed, VersionId=version["VersionId"], BypassGovernanceRetention=True)
    failed = verify(world)
    assert failed["status"] == "FAILED" and "VaultVerifyFailed" in json.dumps(failed)
    assert fires("AuditChainBrokenAlarm", printed(capsys)) == (True, 1.0)
    [message] = [m for m in messages(world) if "audit chain is broken" in m]
    assert f"record {int(removed[6:18])} missing" in message and "coffer audit verify --stack" in message


# ---- a schedule that stops firing ---------------------------------------------------------------------------------
def test_a_rule_whose_schedule_stops_firing_is_told_by_the_daily_sweep_and_a_newly_applied_one_is_not(
        world: dict[str, Any], emf: None, capsys: pytest.CaptureFixture[str]) -> None:
    coffer = world["coffer"]
    # the hourly rule last fired at T0 + 5 h (the first test, when it ran on this worker: made here otherwise, as
    # xdist may run this test elsewhere): nothing has fired it since - its schedule was disabled, say. A daily rule
    # applied just now has not fired yet, and is within its grace.
    if coffer.deps.plan_runs.plans.last_fired(PLAN, RULE) is None:
        world["clock"].set(T0)
        apply_hourly_plan(coffer)
        run_rule(world, T0 + timedelta(hours=5))
    world["clock"].set(T0 + timedelta(days=3, hours=1))
    plan_service(coffer).apply(read_documents([("plan", {
        "BackupPlan": {"BackupPlanName": "daily-watch", "Rules": [{
            "RuleName": "five", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 5 ? * * *)"}]},
        "Selections": [{"SelectionName": "nothing", "IamRoleArn": "arn:aws:iam::123456789012:role/backup",
                        "Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/watch",
                                                         "ConditionValue": "daily"}]}}]})]))
    capsys.readouterr()
    messages(world)

    sweep(world)
    assert fires("MissedSchedulesAlarm", printed(capsys)) == (True, 1.0)
    told = [m for m in messages(world) if "has not run for" in m]
    assert len(told) == 1, told
    [message] = told
    assert f"Coffer plan {PLAN}, rule {RULE} has not run for 68.0 h" in message
    assert "rate(1 hour)" in message and f"Last run: {(T0 + timedelta(hours=5)).isoformat()}" in message
    assert f"coffer plan runs {PLAN} --stack" in message and "daily-watch" not in message
