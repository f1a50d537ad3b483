"""A simulated week of an hourly and a daily plan over 200 tagged resources (S3 buckets and DynamoDB tables).

The full week (175 plan runs, 462 backups) runs the real services - the very code the PlanRun and Backup
functions call - against the twin's moto, in-process, in the order the two workflows run them
(`run_plan_in_process` is a stand-in for Step Functions: on moto's engine the week would take tens of
minutes, mostly thread scheduling and polling). The schedules fire from the live EventBridge Scheduler
schedules that `coffer plan apply` made, by the same code as `coffer local tick`. A shorter slice of the
same plans then runs on the twin itself: real template, real ASL (PlanRun, nested Backup executions),
real handlers.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.adapters.catalog.plans import PlanCatalog
from coffer.domain.clock import FixedClock
from coffer.domain.errors import CofferError
from coffer.domain.jobs import Job, JobState
from coffer.domain.plan_runs import pages_prefix
from coffer.domain.plan_steps import PlanRunInput, PlanRunSummary
from coffer.domain.plans import read_documents
from coffer.domain.steps import FailStep
from coffer.entrypoints.events import StartBackupJobEvent
from coffer_cli.local.sample_plans import plan_service
from coffer_cli.local.session import LocalCoffer
from coffer_cli.local.ticks import Fire, TwinScheduler

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)

HOURLY = {"BackupPlan": {"BackupPlanName": "critical-hourly", "Rules": [
    {"RuleName": "hourly", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 * ? * * *)",
     "StartWindowMinutes": 60, "CompletionWindowMinutes": 120, "Lifecycle": {"DeleteAfterDays": 2}}]},
    "Selections": [{"SelectionName": "critical", "Resources": ["*"], "Conditions": {"StringEquals": [
        {"ConditionKey": "aws:ResourceTag/tier", "ConditionValue": "critical"}]}}]}
DAILY = {"BackupPlan": {"BackupPlanName": "fleet-daily", "Rules": [
    {"RuleName": "daily", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 5 ? * * *)",
     "StartWindowMinutes": 60, "CompletionWindowMinutes": 1440, "Lifecycle": {"DeleteAfterDays": 35}}]},
    "Selections": [{"SelectionName": "fleet", "IamRoleArn": "arn:aws:iam::123456789012:role/backup",
                    "Resources": ["arn:aws:s3:::fleet-*", "arn:aws:dynamodb:*:*:table/fleet-*"],
                    "NotResources": ["arn:aws:s3:::fleet-*-scratch"],
                    "Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/backup",
                                                     "ConditionValue": "daily"}]}}]}


def make_fleet(coffer: LocalCoffer, count: int) -> dict[str, dict[str, str]]:
    """`count` resources, every other one a bucket (one small object) or a table. Every fifth of the first
    100 is tagged backup=daily (half buckets, half tables); two of those (one bucket, one table) are also
    tier=critical; the rest backup=none."""
    s3, dynamodb = coffer.client("s3"), coffer.client("dynamodb")
    fleet: dict[str, dict[str, str]] = {}
    for i in range(count):
        name = f"fleet-{i:03d}"
        tags = {"backup": "daily" if i % 5 == 0 and i < 100 else "none", "team": f"team-{i % 7}"}
        if i in (0, 5):
            tags["tier"] = "critical"
        tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
        if i % 2 == 0:
            s3.create_bucket(Bucket=name)
            s3.put_object(Bucket=name, Key="data.txt", Body=f"{name}\n".encode())
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list})
            arn = f"arn:aws:s3:::{name}"
        else:
            arn = dynamodb.create_table(
                TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                Tags=tag_list)["TableDescription"]["TableArn"]
        fleet[arn] = tags
    return fleet


def apply_plans(coffer: LocalCoffer) -> None:
    service = plan_service(coffer)
    for document in (HOURLY, DAILY):
        assert service.apply(read_documents([("plan", document)])).applied


# ---- Step Functions' part, in-process ------------------------------------------------------------------
def backup_in_process(coffer: LocalCoffer, event: dict[str, Any]) -> Job:
    """The Backup workflow for one StartBackupJob event: start, objects or poll, complete; Catch -> FailJob."""
    jobs, batches = coffer.deps.backup_jobs, coffer.deps.object_batches
    parsed = StartBackupJobEvent.model_validate(event)
    started = jobs.start(parsed.detail, parsed.id, parsed.time, f"arn:in-process:{parsed.id}")
    try:
        if started.next == "objects":
            token, seq = started.token, started.next_seq
            while True:
                listed = batches.list_batches(started.job_id, token, seq)
                token, seq = listed.token, listed.next_seq
                if not listed.more:
                    break
            for n in range(seq):
                batches.copy_batch(started.job_id, f"{listed.items_prefix}{n:08d}.json")
        elif started.next == "native":
            assert jobs.check(started.job_id).done
        # moto's DynamoDB backups are AVAILABLE at once: CreateBackup's answer says so (native_done, no check)
        if started.next in ("objects", "native", "native_done"):
            jobs.complete(started.job_id)
    except CofferError as error:
        coffer.deps.job_failures.fail(FailStep(job_id=started.job_id, error={"Error": type(error).__name__,
                                                                      "Cause": str(error)}))
    return coffer.deps.catalog.get_job(started.job_id)


def run_plan_in_process(coffer: LocalCoffer, fire: Fire) -> PlanRunSummary:
    """The PlanRun workflow for one firing: start, select until done, per page claim/backups/settle, complete."""
    runs = coffer.deps.plan_runs
    execution = f"arn:aws:states:us-east-1:123456789012:execution:planrun:{uuid.uuid4()}"
    started = runs.start(PlanRunInput.model_validate(json.loads(fire.input)), execution)
    assert started.next == "select"
    token, call, seq = None, 0, 0
    while True:
        selected = runs.select(started.run_id, token, call, seq)
        token, call, seq = selected.token, selected.call, selected.next_seq
        if not selected.more:
            break
    for n in range(seq):
        claim = runs.claim(started.run_id, f"{pages_prefix(started.run_id)}{n:08d}.json")
        for backup in claim.backups:
            backup_in_process(coffer, backup.input)
        assert runs.settle(started.run_id, claim.seq).pending == 0
    return runs.complete(started.run_id)


# ---- the week ----------------------------------------------------------------------------------------
def test_a_week_of_hourly_and_daily_plans_over_200_resources(twins: Twins) -> None:
    with twins.fresh(clock=FixedClock(MONDAY - timedelta(seconds=30))) as coffer:
        fleet = make_fleet(coffer, 200)
        apply_plans(coffer)
        critical = {arn for arn, tags in fleet.items() if tags.get("tier") == "critical"}
        daily = {arn for arn, tags in fleet.items() if tags["backup"] == "daily"}
        assert (len(critical), len(daily)) == (2, 20) and critical <= daily

        scheduler = TwinScheduler(coffer, [coffer.twin.outputs["PlanScheduleGroupName"]])
        fires = scheduler.due(MONDAY + timedelta(days=7) - timedelta(seconds=1))
        assert Counter(f.schedule.split(".")[0] for f in fires) == {"critical-hourly": 168, "fleet-daily": 7}
        summaries = []
        for fire in fires:  # in time order; at 05:00 critical-hourly sorts (and fires) before fleet-daily
            scheduler.clock.set(fire.at)
            summaries.append((fire, run_plan_in_process(coffer, fire)))

        hourly_runs = [s for f, s in summaries if f.schedule.startswith("critical-hourly")]
        daily_runs = [s for f, s in summaries if f.schedule.startswith("fleet-daily")]
        assert all(s.state == "COMPLETED" and not s.failures for _, s in summaries)
        assert {(s.counts.selected, s.counts.started, s.counts.completed) for s in hourly_runs} == {(2, 2, 2)}
        # Each day at 05:00 the daily run finds the two critical resources backed up by the hourly run in the
        # same window: one backup each, kept under the daily rule's longer retention.
        assert {(s.counts.selected, s.counts.started, s.counts.completed, s.counts.skipped, s.counts.lengthened)
                for s in daily_runs} == {(20, 18, 18, 2, 2)}

        jobs = [j for day in range(8) for j in coffer.deps.catalog.list_jobs(MONDAY + timedelta(days=day))]
        assert len(jobs) == 168 * 2 + 7 * 18 == 462
        assert Counter(j.state for j in jobs) == {JobState.COMPLETED: 462}
        assert Counter(j.resource_type.value for j in jobs) == {"S3": 231, "DynamoDB": 231}
        points = list(coffer.deps.catalog.list_recovery_points("Default"))
        assert len(points) == 462
        per_resource = Counter(p.resource_arn for p in points)
        assert all(per_resource[arn] == 168 for arn in critical)
        assert all(per_resource[arn] == 7 for arn in daily - critical)
        assert not set(per_resource) - daily  # backup=none resources: never
        kept = Counter((p.resource_arn in critical, p.creation_date.hour == 5, p.lifecycle.delete_after_days)
                       for p in points)
        assert kept == {(True, False, 2): 2 * 161, (True, True, 35): 2 * 7, (False, True, 35): 18 * 7}
        assert all(p.delete_at == p.creation_date + timedelta(days=p.lifecycle.delete_after_days or 0)
                   for p in points)


def test_a_slice_of_the_same_plans_runs_on_the_twin_workflows(twins: Twins) -> None:
    start = MONDAY + timedelta(hours=4, minutes=30)
    with twins.fresh(clock=FixedClock(start)) as coffer:
        fleet = make_fleet(coffer, 20)  # 4 with backup=daily, 2 of them critical
        apply_plans(coffer)
        fired = TwinScheduler(coffer).tick(start + timedelta(hours=1, minutes=40))  # every schedule group
        outcomes = [(f.fire.at.hour, f.fire.schedule.split(".")[0], f.execution["status"],
                     f.execution["output"]["counts"]["started"], f.execution["output"]["counts"]["skipped"])
                    for f in fired]
        assert outcomes == [(5, "critical-hourly", "SUCCEEDED", 2, 0), (5, "fleet-daily", "SUCCEEDED", 2, 2),
                            (6, "critical-hourly", "SUCCEEDED", 2, 0)]
        jobs = list(coffer.deps.catalog.list_jobs(start))
        assert len(jobs) == 6 and all(j.state is JobState.COMPLETED for j in jobs)
        points = list(coffer.deps.catalog.list_recovery_points("Default"))
        assert sorted((p.creation_date.hour, p.lifecycle.delete_after_days) for p in points) == [
            (5, 35), (5, 35), (5, 35), (5, 35), (6, 2), (6, 2)]
        runs = PlanCatalog(coffer.client("dynamodb"), coffer.settings.catalog_table).list_runs("fleet-daily")
        assert [(r.counts.selected, r.counts.lengthened) for r in runs] == [(4, 2)]
        assert len(fleet) == 20
