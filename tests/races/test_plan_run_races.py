"""Two plan runs at once — the same rule's run delivered twice, and two plans whose rules meet on the same
resources — make one backup per resource."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.domain.clock import FixedClock
from coffer.domain.jobs import JobKind, JobState
from coffer_cli.commands.plan import read_documents
from coffer_cli.local.sample_plans import plan_service
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
FIVE = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh(clock=FixedClock(FIVE)) as deployed:
        yield deployed


def _resources(coffer: LocalCoffer, tag: str) -> list[str]:
    s3, db = coffer.client("s3"), coffer.client("dynamodb")
    arns = []
    for n in range(3):
        name = f"{tag}-bucket-{n}"
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="k", Body=name.encode())
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "race", "Value": tag}]})
        arns.append(f"arn:aws:s3:::{name}")
    arns.append(db.create_table(TableName=f"{tag}-table", BillingMode="PAY_PER_REQUEST",
                                KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                                AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                                Tags=[{"Key": "race", "Value": tag}])["TableDescription"]["TableArn"])
    return arns


def _plan(coffer: LocalCoffer, name: str, tag: str, days: int) -> None:
    plan_service(coffer).apply(read_documents([("plan", {
        "BackupPlan": {"BackupPlanName": name, "Rules": [{
            "RuleName": "daily", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 5 ? * * *)",
            "Lifecycle": {"DeleteAfterDays": days}}]},
        "Selections": [{"SelectionName": "tagged", "Conditions": {"StringEquals": [
            {"ConditionKey": "aws:ResourceTag/race", "ConditionValue": tag}]}}]})]))


def _at_once(coffer: LocalCoffer, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    barrier = threading.Barrier(len(inputs))
    arns: list[str] = [""] * len(inputs)

    def start(i: int) -> None:
        barrier.wait()
        arns[i] = coffer.twin.start_execution("PlanRunStateMachine", inputs[i])

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [dict(coffer.twin.wait(arn, timeout=180)) for arn in arns]


def _backups_per_resource(coffer: LocalCoffer, arns: list[str]) -> Counter[str]:
    jobs = [j for j in coffer.deps.catalog.list_jobs(coffer.clock.now())
            if j.kind is JobKind.BACKUP and j.resource_arn in arns]
    assert all(j.state is JobState.COMPLETED for j in jobs), [(j.resource_arn, j.state, j.status_message)
                                                              for j in jobs]
    return Counter(j.resource_arn for j in jobs)


def test_the_same_rules_run_started_twice_at_once_makes_one_backup_per_resource(coffer: LocalCoffer) -> None:
    arns = _resources(coffer, "twice")
    _plan(coffer, "race-twice", "twice", 7)
    run = {"plan_name": "race-twice", "rule_name": "daily", "scheduled_time": "2026-11-26T05:00:00Z"}
    results = _at_once(coffer, [run, dict(run)])
    assert [r["status"] for r in results] == ["SUCCEEDED", "SUCCEEDED"], results
    assert sorted(bool(r["output"].get("duplicate")) for r in results) == [False, True]
    assert _backups_per_resource(coffer, arns) == Counter(dict.fromkeys(arns, 1))


def test_two_plans_whose_rules_meet_on_the_same_resources_at_once_make_one_backup_each(
        coffer: LocalCoffer) -> None:
    arns = _resources(coffer, "meet")
    _plan(coffer, "race-short", "meet", 7)
    _plan(coffer, "race-long", "meet", 35)
    results = _at_once(coffer, [
        {"plan_name": "race-short", "rule_name": "daily", "scheduled_time": "2026-11-26T05:00:00Z"},
        {"plan_name": "race-long", "rule_name": "daily", "scheduled_time": "2026-11-26T05:00:00Z"}])
    assert [r["status"] for r in results] == ["SUCCEEDED", "SUCCEEDED"], results
    assert _backups_per_resource(coffer, arns) == Counter(dict.fromkeys(arns, 1))
    for job in coffer.deps.catalog.list_jobs(coffer.clock.now()):
        if job.resource_arn in arns:  # kept under the longer retention, whichever run took the backup
            rp = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
            assert rp.lifecycle.delete_after_days == 35, (job.resource_arn, rp.lifecycle)
