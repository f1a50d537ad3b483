"""The PlanRun workflow on the twin (real template, ASL and handlers): selection, overlap, windows, idempotency."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.adapters.catalog.continuous import ContinuousCatalog
from coffer.adapters.catalog.plans import PlanCatalog
from coffer.domain.clock import FixedClock
from coffer.domain.continuous import ProtectionState
from coffer.domain.errors import CompletionWindowExceeded
from coffer.domain.jobs import Job, JobState
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.manifest import Manifest, ManifestPart, VaultLayout
from coffer.domain.plans import read_documents
from coffer.domain.requests import StartBackupJobRequest
from coffer.domain.steps import FailStep
from coffer.entrypoints.events import StartBackupJobEvent
from coffer.services.retention import amendment_key
from coffer_cli.local.sample_plans import plan_service
from coffer_cli.local.session import LocalCoffer
from coffer_cli.local.ticks import TwinScheduler
from coffer_twin.calls import ENGINE, CallRecorder

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 26, 4, 30, tzinfo=UTC)
FIVE = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh(clock=FixedClock(START)) as deployed:
        yield deployed


@pytest.fixture
def clock(coffer: LocalCoffer) -> FixedClock:
    assert isinstance(coffer.clock, FixedClock)
    coffer.clock.set(START)
    return coffer.clock


def bucket(coffer: LocalCoffer, name: str, tags: dict[str, str], objects: int = 1) -> str:
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket=name)
    for n in range(objects):
        s3.put_object(Bucket=name, Key=f"data/{n}.txt", Body=f"{name} {n}\n".encode())
    if tags:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
    return f"arn:aws:s3:::{name}"


def table(coffer: LocalCoffer, name: str, tags: dict[str, str]) -> str:
    extra = {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}
    return str(coffer.client("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], **extra)["TableDescription"]["TableArn"])


def apply(coffer: LocalCoffer, document: dict[str, Any]) -> None:
    plan_service(coffer).apply(read_documents([("plan", document)]))


def rule(name: str, expression: str, days: int, **extra: Any) -> dict[str, Any]:
    return {"RuleName": name, "TargetBackupVaultName": "Default", "ScheduleExpression": expression,
            "Lifecycle": {"DeleteAfterDays": days}, **extra}


def tagged(key: str, value: str) -> dict[str, Any]:
    return {"StringEquals": [{"ConditionKey": f"aws:ResourceTag/{key}", "ConditionValue": value}]}


def run_plan(coffer: LocalCoffer, plan: str, rule_name: str, scheduled: datetime) -> dict[str, Any]:
    result = coffer.twin.run("PlanRunStateMachine", {"plan_name": plan, "rule_name": rule_name,
                                                     "scheduled_time": scheduled.strftime("%Y-%m-%dT%H:%M:%SZ")},
                             timeout=120)
    assert result["status"] == "SUCCEEDED", result
    return dict(result["output"])


def jobs_of(coffer: LocalCoffer, arns: list[str]) -> list[Job]:
    return [j for j in coffer.deps.catalog.list_jobs(coffer.clock.now()) if j.resource_arn in arns]


def test_a_run_selects_by_arn_and_tags_reports_unsupported_and_never_backs_up_coffer_itself(
        coffer: LocalCoffer, clock: FixedClock) -> None:
    chosen = [bucket(coffer, "sel-prod-a", {"env": "prod"}), table(coffer, "sel-prod-orders", {"env": "prod"}),
              bucket(coffer, "sel-untagged-named", {}), table(coffer, "untagged-logs", {})]
    bucket(coffer, "sel-prod-scratch", {"env": "prod"})  # NotResources
    table(coffer, "sel-prod-nobackup", {"env": "prod", "backup": "none"})  # StringNotEquals
    bucket(coffer, "sel-dev-a", {"env": "dev"})
    bucket(coffer, "sel-untagged-other", {})
    queue = coffer.client("sqs").create_queue(QueueName="sel-prod-jobs", tags={"env": "prod"})["QueueUrl"]
    vault = coffer.settings.vault_bucket
    s3 = coffer.client("s3")
    s3.put_bucket_tagging(Bucket=vault, Tagging={"TagSet": [{"Key": "app", "Value": "coffer"},
                                                            {"Key": "env", "Value": "prod"}]})
    apply(coffer, {"BackupPlan": {"BackupPlanName": "selection", "Rules": [rule("daily", "cron(0 5 ? * * *)", 7)]},
                   "Selections": [
                       {"SelectionName": "prod", "Resources": ["*"], "NotResources": ["arn:aws:s3:::*-scratch"],
                        "Conditions": {**tagged("env", "prod"), "StringNotEquals": [
                            {"ConditionKey": "aws:ResourceTag/backup", "ConditionValue": "none"}]}},
                       {"SelectionName": "named", "Resources": ["arn:aws:s3:::sel-untagged-named"]},
                       {"SelectionName": "untagged-tables", "Resources": ["arn:aws:dynamodb:*:*:table/untagged-*"]}]})
    clock.set(FIVE)
    with CallRecorder() as calls:
        summary = run_plan(coffer, "selection", "daily", FIVE)
    counts = summary["counts"]
    assert summary["failures"] == [], summary
    assert (counts["selected"], counts["started"], counts["completed"], counts["failed"]) == (4, 4, 4, 0)
    # Step Functions follows each nested backup (.sync) without polling, as AWS: one DescribeExecution per child,
    # for its result once it ended (twin/nested_executions.py)
    followed = [c for c in calls.snapshot() if c.caller == ENGINE and c.operation == "DescribeExecution"]
    assert len(followed) == 4
    assert (counts["unsupported"], counts["excluded"]) == (1, 1)
    queue_arn = coffer.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    assert summary["unsupported"][0]["arn"] == queue_arn["Attributes"]["QueueArn"]
    assert "is not a resource type Coffer protects" in summary["unsupported"][0]["reason"]
    run = PlanCatalog(coffer.client("dynamodb"), coffer.settings.catalog_table).get_run(summary["run_id"])
    assert run.excluded == [f"arn:aws:s3:::{vault}"]
    jobs = jobs_of(coffer, chosen)
    assert sorted(j.resource_arn for j in jobs) == sorted(chosen)
    assert all(j.state is JobState.COMPLETED and j.rule_name == "daily" for j in jobs)
    assert all(coffer.deps.catalog.get_recovery_point(j.recovery_point_id).lifecycle.delete_after_days == 7
               for j in jobs)


def test_overlapping_rules_take_one_backup_kept_under_the_longer_retention(coffer: LocalCoffer,
                                                                           clock: FixedClock) -> None:
    arns = [bucket(coffer, "gold-bucket", {"tier": "gold"}, objects=3), table(coffer, "gold-table", {"tier": "gold"})]
    # Two plans whose rules meet at 05:00. The shorter one fires first (schedules fire in name order) and
    # takes the backups; the longer one joins them and lengthens their retention.
    apply(coffer, {"BackupPlan": {"BackupPlanName": "a-hourly", "Rules": [rule("hourly", "cron(0 * ? * * *)", 7)]},
                   "Selections": [{"SelectionName": "gold", "Conditions": tagged("tier", "gold")}]})
    apply(coffer, {"BackupPlan": {"BackupPlanName": "b-daily", "Rules": [rule("daily", "cron(0 5 ? * * *)", 35)]},
                   "Selections": [{"SelectionName": "gold", "Conditions": tagged("tier", "gold")}]})
    scheduler = TwinScheduler(coffer)
    fired = scheduler.tick(FIVE + timedelta(minutes=30))
    mine = [f for f in fired if f.fire.schedule.startswith(("a-hourly.", "b-daily."))]
    assert [f.fire.schedule.split(".")[0] for f in mine] == ["a-hourly", "b-daily"]
    hourly, daily = (f.execution["output"]["counts"] for f in mine)
    assert (hourly["selected"], hourly["started"], hourly["completed"]) == (2, 2, 2)
    assert (daily["selected"], daily["started"], daily["skipped"], daily["lengthened"]) == (2, 0, 2, 2)
    jobs = jobs_of(coffer, arns)
    assert len(jobs) == 2 and all(j.rule_name == "hourly" for j in jobs)
    vault = coffer.deps.vault
    for job in jobs:
        rp = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
        assert rp.lifecycle == Lifecycle(DeleteAfterDays=35)
        assert rp.delete_at == rp.creation_date + timedelta(days=35) and rp.retain_until >= rp.delete_at
        # S3 keeps the longer promise too: every object of the recovery point is locked until then.
        manifest = Manifest.model_validate_json(vault.get_bytes(rp.manifest_key or ""))
        keys = [rp.manifest_key or "", amendment_key(rp, rp.lifecycle)]
        for part in manifest.parts:
            keys.append(part.key)
            keys += [VaultLayout.blob(rp.vault_name, e.sha256)
                     for e in ManifestPart.model_validate(vault.get_json(part.key)).entries]
        assert len(keys) == (2 if job.resource_type.value == "DynamoDB" else 2 + 1 + 3)
        for key in keys:
            assert vault.lock_of(key)[1] >= rp.retain_until, key
        assert json.loads(vault.get_bytes(amendment_key(rp, rp.lifecycle)))["lifecycle"] == {"DeleteAfterDays": 35}


def test_a_run_after_its_start_window_ends_expired_and_says_so(coffer: LocalCoffer, clock: FixedClock) -> None:
    arns = [table(coffer, "late-table", {"late": "yes"})]
    apply(coffer, {"BackupPlan": {"BackupPlanName": "late", "Rules": [rule("daily", "cron(0 5 ? * * *)", 7)]},
                   "Selections": [{"SelectionName": "late", "Conditions": tagged("late", "yes")}]})
    clock.set(FIVE + timedelta(hours=2))  # the run starts two hours after its scheduled time
    summary = run_plan(coffer, "late", "daily", FIVE)
    assert (summary["counts"]["started"], summary["counts"]["failed"]) == (1, 1)
    assert summary["failures"][0]["reason"].startswith("EXPIRED: not started by 2026-11-26T06:00:00")
    [job] = jobs_of(coffer, arns)
    assert job.state is JobState.EXPIRED


def test_a_run_delivered_twice_runs_once_and_a_stale_schedule_records_a_skipped_run(
        coffer: LocalCoffer, clock: FixedClock) -> None:
    arns = [table(coffer, "twice-table", {"twice": "yes"})]
    apply(coffer, {"BackupPlan": {"BackupPlanName": "twice", "Rules": [rule("daily", "cron(0 5 ? * * *)", 7)]},
                   "Selections": [{"SelectionName": "twice", "Conditions": tagged("twice", "yes")}]})
    clock.set(FIVE)
    assert run_plan(coffer, "twice", "daily", FIVE)["counts"]["completed"] == 1
    second = coffer.twin.run("PlanRunStateMachine", {"plan_name": "twice", "rule_name": "daily",
                                                     "scheduled_time": "2026-11-26T05:00:00Z"})
    assert second["status"] == "SUCCEEDED" and second["output"]["duplicate"] is True
    assert len(jobs_of(coffer, arns)) == 1
    stale = run_plan(coffer, "twice", "removed-rule", FIVE)
    assert stale == {"run_id": stale["run_id"], "next": "done", "duplicate": False, "token": None, "call": 0,
                     "next_seq": 0, "items_prefix": stale["items_prefix"]}
    run = PlanCatalog(coffer.client("dynamodb"), coffer.settings.catalog_table).get_run(stale["run_id"])
    assert run.state.value == "SKIPPED" and run.notes == ["rule removed-rule is not in the catalog; nothing was "
                                                          "selected"]


# ---- the steps themselves, in-process on the twin's services (what the workflow interleaves) ----------
def backup_in_process(coffer: LocalCoffer, event: dict[str, Any]) -> Job:
    """What the Backup workflow does with one StartBackupJob event, step by step."""
    jobs = coffer.deps.backup_jobs
    parsed = StartBackupJobEvent.model_validate(event)
    started = jobs.start(parsed.detail, parsed.id, parsed.time, "arn:in-process")
    if started.next == "objects":
        batches = coffer.deps.object_batches
        listed = batches.list_batches(started.job_id, None, 0)
        for key in [o["Key"] for o in coffer.client("s3").list_objects_v2(
                Bucket=coffer.settings.work_bucket, Prefix=listed.items_prefix).get("Contents", [])]:
            batches.copy_batch(started.job_id, key)
    elif started.next == "native":
        assert jobs.check(started.job_id).done
    else:
        assert started.next == "native_done", started  # the create's answer said done: no check
    jobs.complete(started.job_id)
    return coffer.deps.catalog.get_job(started.job_id)


def test_a_joiner_waits_for_the_backup_it_joined_then_lengthens_it(coffer: LocalCoffer, clock: FixedClock) -> None:
    table(coffer, "join-table", {"join": "yes"})
    apply(coffer, {"BackupPlan": {"BackupPlanName": "join", "Rules": [
        rule("short", "cron(0 5 ? * * *)", 3), rule("long", "cron(0 5 ? * * *)", 90)]},
        "Selections": [{"SelectionName": "join", "Conditions": tagged("join", "yes")}]})
    clock.set(FIVE)
    runs = coffer.deps.plan_runs
    from coffer.domain.plan_steps import PlanRunInput
    ids = {}
    for name in ("short", "long"):
        started = runs.start(PlanRunInput(plan_name="join", rule_name=name, scheduled_time="2026-11-26T05:00:00Z"),
                             f"arn:aws:states:us-east-1:123456789012:execution:x:{name}")
        runs.select(started.run_id, None, 0, 0)
        ids[name] = started.run_id
    short = runs.claim(ids["short"], f"plan-runs/{ids['short']}/pages/00000000.json")
    long = runs.claim(ids["long"], f"plan-runs/{ids['long']}/pages/00000000.json")
    assert (len(short.backups), short.joined, len(long.backups), long.joined) == (1, 0, 0, 1)
    waiting = runs.settle(ids["long"], 0)
    assert waiting.pending == 1  # the short rule's backup has not started yet
    job = backup_in_process(coffer, short.backups[0].input)
    assert job.state is JobState.COMPLETED
    settled = runs.settle(ids["long"], 0)
    assert (settled.pending, settled.counts.skipped, settled.counts.lengthened) == (0, 1, 1)
    assert coffer.deps.catalog.get_recovery_point(job.recovery_point_id).lifecycle.delete_after_days == 90
    assert runs.settle(ids["short"], 0).counts.completed == 1
    done = runs.complete(ids["long"])
    assert (done.state, done.counts.selected, done.counts.skipped, done.counts.started) == ("COMPLETED", 1, 1, 0)


def test_a_backup_not_done_within_its_completion_window_is_aborted(coffer: LocalCoffer, clock: FixedClock) -> None:
    arn = bucket(coffer, "slow-bucket", {}, objects=2)
    jobs = coffer.deps.backup_jobs
    request = StartBackupJobRequest.model_validate({"ResourceArn": arn, "IdempotencyToken": "slow",
                                                    "CompleteWindowMinutes": 120})
    started = jobs.start(request, "e", None, "arn:in-process")
    coffer.deps.object_batches.list_batches(started.job_id, None, 0)
    clock.set(START + timedelta(hours=3))  # the copy is still going when the window closes
    with pytest.raises(CompletionWindowExceeded):
        jobs.complete(started.job_id)
    ended = coffer.deps.job_failures.fail(FailStep(job_id=started.job_id, error={"Error": "CompletionWindowExceeded",
                                                                          "Cause": "did not complete"}))
    assert ended is not None and ended.state == "ABORTED"
    assert coffer.deps.catalog.lease_holder(arn) is None


def test_plan_runs_and_backup_start_on_the_command_line(coffer: LocalCoffer, clock: FixedClock,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from coffer_cli.cli import main

    stack = ["--stack", coffer.twin.stack_name]
    table(coffer, "cli-table", {"cli": "yes"})
    apply(coffer, {"BackupPlan": {"BackupPlanName": "cli", "Rules": [rule("daily", "cron(0 5 ? * * *)", 7)]},
                   "Selections": [{"SelectionName": "cli", "Conditions": tagged("cli", "yes")}]})
    clock.set(FIVE)
    run_plan(coffer, "cli", "daily", FIVE)
    run_plan(coffer, "cli", "gone", FIVE + timedelta(hours=1))
    capsys.readouterr()
    assert main(["plan", "runs", "cli", *stack]) == 0
    runs = capsys.readouterr().out.splitlines()
    assert runs[2].split()[:8] == ["2026-11-26T06:00+00:00", "gone", "SKIPPED", "0", "0", "0", "0", "0"]
    assert runs[3].split()[:8] == ["2026-11-26T05:00+00:00", "daily", "COMPLETED", "1", "1", "1", "0", "0"]
    # An on-demand backup: EventBridge stamps the event with the wall clock, so the handlers' clock is set
    # to it (the start window counts from the event's time).
    clock.set(datetime.now(UTC))
    arn = bucket(coffer, "adhoc-bucket", {})
    command = ["backup", "start", "--resource-arn", arn, "--idempotency-token", "adhoc-1", "--delete-after-days",
               "9", "--wait", "--poll", "0.05", "--timeout", "60", *stack]
    assert main(command) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["state"] == "COMPLETED" and first["idempotency_token"] == "adhoc-1"
    assert main(command) == 0  # the same token again: the same job, no second backup
    assert json.loads(capsys.readouterr().out)["job_id"] == first["job_id"]
    assert len(jobs_of(coffer, [arn])) == 1
    assert coffer.deps.catalog.get_recovery_point(first["recovery_point_id"]).lifecycle.delete_after_days == 9
    with pytest.raises(SystemExit, match="DeleteAfterDays: Input should be greater than or equal to 1"):
        main(["backup", "start", "--resource-arn", arn, "--delete-after-days", "0", *stack])


def test_a_continuous_rule_starts_a_continuous_backup_of_the_resources_that_have_one(
        coffer: LocalCoffer, clock: FixedClock) -> None:
    # EnableContinuousBackup of a plan rule reaches the backups its runs start (issue 7): the table gets
    # point-in-time recovery and the continuous recovery point, not an on-demand snapshot.
    arn = table(coffer, "pitr-table", {"pitr": "yes"})
    apply(coffer, {"BackupPlan": {"BackupPlanName": "pitr", "Rules": [
        rule("continuous", "cron(0 5 ? * * *)", 7, EnableContinuousBackup=True)]},
        "Selections": [{"SelectionName": "pitr", "Conditions": tagged("pitr", "yes")}]})
    clock.set(FIVE)
    summary = run_plan(coffer, "pitr", "continuous", FIVE)
    assert (summary["counts"]["started"], summary["counts"]["completed"]) == (1, 1), summary
    [job] = jobs_of(coffer, [arn])
    assert job.state is JobState.COMPLETED and job.continuous, job
    protection = ContinuousCatalog(coffer.client("dynamodb"), coffer.settings.catalog_table).get_protection(arn)
    assert protection is not None and protection.recovery_point_id == job.recovery_point_id
    assert protection.state is ProtectionState.ACTIVE and protection.retention_days == 7
    rp = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
    assert (rp.delete_at, rp.lifecycle.delete_after_days) == (None, 7)
    pitr = coffer.client("dynamodb").describe_continuous_backups(TableName="pitr-table")["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
