"""`coffer plan ...` against a deployed stack - the twin, in-process: the catalog and EventBridge Scheduler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.adapters.aws_services.schedules import PlanSchedules
from coffer.domain.plans import schedule_name
from coffer.services.plans import ApplyFailed
from coffer_cli.cli import main
from coffer_cli.local.sample_plans import plan_service
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "plans"
STACK = ["--stack", "coffer-twin"]
AWS_PLAN = FIXTURES / "aws_create_backup_plan_daily_monthly.json"
AWS_SELECTIONS = [FIXTURES / "aws_create_backup_selection_conditions.json",
                  FIXTURES / "aws_backup_selection_list_of_tags.json"]


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh() as deployed:
        # the AWS plan's rules back up into prod-vault: a plan whose target vault does not exist is refused
        assert main(["vault", "create", "prod-vault", *STACK]) == 0
        yield deployed


def schedules(coffer: LocalCoffer) -> dict[str, dict[str, Any]]:
    group = coffer.twin.outputs["PlanScheduleGroupName"]
    return {s["Name"]: s for s in PlanSchedules(coffer.client("scheduler"), group).full()}


def write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def cli(*args: str) -> int:
    return main([*args, *STACK])


def test_apply_creates_one_schedule_per_rule_targeting_planrun(coffer: LocalCoffer,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("plan", "apply", str(AWS_PLAN), *map(str, AWS_SELECTIONS), "--yes") == 0
    out = capsys.readouterr().out
    assert "create plan prod-daily-monthly" in out and "+ rule DailyBackups" in out
    assert "+ selection prod-tagged-except-scratch" in out and "+ schedule prod-daily-monthly.DailyBackups" in out
    found = schedules(coffer)
    daily = found[schedule_name("prod-daily-monthly", "DailyBackups")]
    monthly = found[schedule_name("prod-daily-monthly", "MonthlyBackups")]
    assert daily["ScheduleExpression"] == "cron(0 5 ? * * *)"
    assert (monthly["ScheduleExpression"], monthly["ScheduleExpressionTimezone"]) == ("cron(0 3 1 * ? *)",
                                                                                     "Europe/Paris")
    assert daily["Target"]["Arn"] == coffer.twin.outputs["PlanRunStateMachineArn"]
    assert daily["Target"]["RoleArn"] == coffer.twin.outputs["PlanSchedulerRoleArn"]
    assert json.loads(daily["Target"]["Input"])["rule_name"] == "DailyBackups"
    stored = plan_service(coffer).export("prod-daily-monthly")
    assert stored.version == 1 and len(stored.plan.selections) == 2
    # Applying the same files again changes nothing.
    assert cli("plan", "apply", str(AWS_PLAN), *map(str, AWS_SELECTIONS), "--yes") == 0
    assert capsys.readouterr().out.strip() == "plan prod-daily-monthly: no changes"
    assert plan_service(coffer).export("prod-daily-monthly").version == 1


def test_apply_updates_and_removes_schedules_and_diff_shows_it_first(
        coffer: LocalCoffer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = {"BackupPlan": {"BackupPlanName": "rotate", "Rules": [
        {"RuleName": "daily", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 5 ? * * *)"},
        {"RuleName": "weekly", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 6 ? * SUN *)"}]}}
    assert cli("plan", "apply", write(tmp_path, "v1.json", plan), "--yes") == 0
    plan["BackupPlan"]["Rules"] = [
        {"RuleName": "daily", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(30 4 ? * * *)"},
        {"RuleName": "hourly", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 * ? * * *)"}]
    v2 = write(tmp_path, "v2.json", plan)
    capsys.readouterr()
    assert cli("plan", "diff", v2) == 0
    diff = capsys.readouterr().out
    assert "~ rule daily" in diff and "ScheduleExpression: cron(0 5 ? * * *) -> cron(30 4 ? * * *)" in diff
    assert "+ rule hourly" in diff and "- rule weekly" in diff
    assert f"~ schedule {schedule_name('rotate', 'daily')} cron(30 4 ? * * *)" in diff
    assert f"- schedule {schedule_name('rotate', 'weekly')}" in diff
    assert schedules(coffer)[schedule_name("rotate", "daily")]["ScheduleExpression"] == "cron(0 5 ? * * *)"
    assert cli("plan", "apply", v2, "--yes") == 0
    found = schedules(coffer)
    assert found[schedule_name("rotate", "daily")]["ScheduleExpression"] == "cron(30 4 ? * * *)"
    assert schedule_name("rotate", "hourly") in found and schedule_name("rotate", "weekly") not in found
    assert plan_service(coffer).export("rotate").version == 2


def test_a_schedule_changed_or_removed_by_hand_is_put_back(coffer: LocalCoffer, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    plan = write(tmp_path, "p.json", {"BackupPlan": {"BackupPlanName": "drift", "Rules": [
        {"RuleName": "a", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 1 ? * * *)"},
        {"RuleName": "b", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 2 ? * * *)"}]}})
    assert cli("plan", "apply", plan, "--yes") == 0
    scheduler, group = coffer.client("scheduler"), coffer.twin.outputs["PlanScheduleGroupName"]
    a = scheduler.get_schedule(Name=schedule_name("drift", "a"), GroupName=group)
    scheduler.update_schedule(Name=a["Name"], GroupName=group, ScheduleExpression="cron(0 9 ? * * *)",
                              FlexibleTimeWindow=a["FlexibleTimeWindow"], Target=a["Target"])
    scheduler.delete_schedule(Name=schedule_name("drift", "b"), GroupName=group)
    capsys.readouterr()
    assert cli("plan", "apply", plan, "--yes") == 0
    out = capsys.readouterr().out
    assert "plan drift: no changes" in out and "~ schedule drift.a" in out and "+ schedule drift.b" in out
    found = schedules(coffer)
    assert found[schedule_name("drift", "a")]["ScheduleExpression"] == "cron(0 1 ? * * *)"
    assert schedule_name("drift", "b") in found


class FailingScheduler:
    """Scheduler's client, refusing the n-th change (create/update/delete) as the service might."""

    def __init__(self, client: Any, fail_on: int) -> None:
        self._client, self._fail_on, self.calls = client, fail_on, 0

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._client, name)
        if name not in ("create_schedule", "update_schedule", "delete_schedule"):
            return call

        def counted(**kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self._fail_on:
                from botocore.exceptions import ClientError
                raise ClientError({"Error": {"Code": "ServiceQuotaExceededException", "Message": "quota"}}, name)
            return call(**kwargs)

        return counted


def test_a_failed_schedule_call_undoes_the_whole_apply(coffer: LocalCoffer, tmp_path: Path) -> None:
    def document(rules: list[tuple[str, str]]) -> dict[str, Any]:
        return {"BackupPlan": {"BackupPlanName": "atomic", "Rules": [
            {"RuleName": n, "TargetBackupVaultName": "Default", "ScheduleExpression": e} for n, e in rules]}}

    from coffer_cli.commands.plan import read_files
    service = plan_service(coffer)
    service.apply(read_files([write(tmp_path, "v1.json", document([("keep", "cron(0 1 ? * * *)"),
                                                                    ("drop", "cron(0 2 ? * * *)")]))]))
    before = {n: s for n, s in schedules(coffer).items() if n.startswith("atomic.")}
    v2 = read_files([write(tmp_path, "v2.json", document([("keep", "cron(0 3 ? * * *)"),
                                                          ("new", "cron(0 4 ? * * *)")]))])
    # update keep, create new, delete drop: the third change fails.
    service.schedules = PlanSchedules(FailingScheduler(coffer.client("scheduler"), fail_on=3), service.schedules.group)
    with pytest.raises(ApplyFailed) as failed:
        service.apply(v2)
    assert "ServiceQuotaExceededException" in str(failed.value)
    assert failed.value.undo_failures == [] and "catalog" in failed.value.undone
    after = {n: s for n, s in schedules(coffer).items() if n.startswith("atomic.")}
    assert set(after) == set(before)
    assert all(after[n]["ScheduleExpression"] == before[n]["ScheduleExpression"] for n in before)
    stored = plan_service(coffer).export("atomic")
    assert [r.rule_name for r in stored.plan.backup_plan.rules] == ["keep", "drop"]


def test_a_concurrent_apply_is_refused_before_any_schedule_changes(coffer: LocalCoffer, tmp_path: Path) -> None:
    from coffer.domain.errors import ConcurrentUpdate
    from coffer_cli.commands.plan import read_files

    def plan(expression: str) -> Any:
        return read_files([write(tmp_path, f"{expression[5:9].strip()}.json", {"BackupPlan": {
            "BackupPlanName": "race", "Rules": [{"RuleName": "r", "TargetBackupVaultName": "Default",
                                                 "ScheduleExpression": expression}]}})])

    service = plan_service(coffer)
    service.apply(plan("cron(0 1 ? * * *)"))

    def someone_else_applies_meanwhile(_: Any) -> bool:
        plan_service(coffer).apply(plan("cron(0 2 ? * * *)"))
        return True

    with pytest.raises(ConcurrentUpdate):
        service.apply(plan("cron(0 3 ? * * *)"), confirm=someone_else_applies_meanwhile)
    assert schedules(coffer)[schedule_name("race", "r")]["ScheduleExpression"] == "cron(0 2 ? * * *)"


def test_export_gives_back_aws_backups_json_unchanged(coffer: LocalCoffer, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("plan", "apply", str(AWS_PLAN), *map(str, AWS_SELECTIONS), "--yes") == 0
    out = tmp_path / "aws"
    assert cli("plan", "export", "prod-daily-monthly", "--format", "aws", "--output", str(out)) == 0
    exported_plan = json.loads((out / "backup-plan.json").read_text())
    original = json.loads(AWS_PLAN.read_text())
    original.pop("CreatorRequestId")
    assert exported_plan == original
    selection = json.loads((out / "selection-prod-tagged-except-scratch.json").read_text())
    assert selection["BackupSelection"] == json.loads(AWS_SELECTIONS[0].read_text())["BackupSelection"]
    capsys.readouterr()
    # Applying the exported files is a no-op; the coffer format reads back the same.
    assert cli("plan", "apply", *map(str, sorted(out.iterdir())), "--yes") == 0
    assert "no changes" in capsys.readouterr().out
    assert cli("plan", "export", "prod-daily-monthly", "--output", str(tmp_path / "plan.yaml")) == 0
    assert cli("plan", "apply", str(tmp_path / "plan.yaml"), "--yes") == 0
    assert "no changes" in capsys.readouterr().out


def test_list_and_delete(coffer: LocalCoffer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = write(tmp_path, "gone.json", {"BackupPlanName": "to-delete", "Rules": [
        {"RuleName": "r", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 7 ? * * *)"}]})
    assert cli("plan", "apply", plan, "--yes") == 0
    capsys.readouterr()
    assert cli("plan", "list") == 0
    listed = capsys.readouterr().out
    assert "to-delete" in listed and "r: cron(0 7 ? * * *)" in listed
    assert cli("plan", "delete", "to-delete", "--yes") == 0
    assert "- schedule to-delete.r" in capsys.readouterr().out
    assert schedule_name("to-delete", "r") not in schedules(coffer)
    assert cli("plan", "export", "to-delete") == 1
    assert "plan to-delete is not in the catalog" in capsys.readouterr().err


def test_validate_is_offline_and_names_bad_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "validate", str(AWS_PLAN), *map(str, AWS_SELECTIONS)]) == 0
    out = capsys.readouterr().out
    assert "plan prod-daily-monthly is valid: 2 rule(s)" in out
    assert "note: BackupPlan.Rules[0].Lifecycle.MoveToColdStorageAfterDays" in out
    bad = write(tmp_path, "bad.json", {"BackupPlan": {"BackupPlanName": "b", "Rules": [
        {"RuleName": "r", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0/5 * ? * * *)",
         "StartWindowMinutes": 15}]}})
    assert main(["plan", "validate", bad]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: BackupPlan.Rules[0].ScheduleExpression: 'cron(0/5 * ? * * *)' names more than one minute" in err
    assert f"{bad}: BackupPlan.Rules[0].StartWindowMinutes: 15; must be at least 60" in err


# ---- every plan change in the audit chain ---------------------------------------------------------------------
def _plan_records(coffer: LocalCoffer, name: str) -> list[Any]:
    return [r for r in coffer.deps.audit_log("reader").records() if r.target == name and r.action.startswith("plan.")]


def test_every_plan_change_is_a_verifiable_audit_record_and_a_refused_or_empty_one_none(
        coffer: LocalCoffer, tmp_path: Path) -> None:
    from coffer_cli.commands.plan import read_files

    def document(rules: list[str], selections: list[str]) -> list[str]:
        plan = write(tmp_path, "plan.json", {"BackupPlan": {"BackupPlanName": "audited", "Rules": [
            {"RuleName": r, "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 1 ? * * *)"}
            for r in rules]}})
        return [plan] + [write(tmp_path, f"{s}.json", {"BackupSelection": {"SelectionName": s, "IamRoleArn":
                         "arn:aws:iam::123456789012:role/backup", "Resources": ["arn:aws:s3:::audited"]}})
                         for s in selections]

    service = plan_service(coffer)
    service.apply(read_files(document(["daily"], ["buckets"])))
    service.apply(read_files(document(["daily", "weekly"], ["tables"])))
    assert not service.apply(read_files(document(["daily", "weekly"], ["tables"]))).applied  # nothing to change
    # a change whose schedule call fails is undone: it leaves no record (the attacker's "it never happened" is true)
    service.schedules = PlanSchedules(FailingScheduler(coffer.client("scheduler"), fail_on=1), service.schedules.group)
    with pytest.raises(ApplyFailed):
        service.apply(read_files(document(["daily"], ["tables"])))
    plan_service(coffer).delete("audited")

    records = _plan_records(coffer, "audited")
    assert [r.action for r in records] == ["plan.create", "plan.update", "plan.delete"]
    created, updated, deleted = records
    assert created.details["selections"]["added"] == ["buckets"] and created.details["rules"]["added"] == ["daily"]
    assert created.details["schedules"] == [f"create {schedule_name('audited', 'daily')}"]
    assert updated.details["selections"] == {"added": ["tables"], "removed": ["buckets"], "changed": []}
    assert updated.details["rules"]["added"] == ["weekly"] and "  + selection tables" in updated.details["changes"]
    assert sorted(deleted.details["schedules"]) == sorted(
        f"delete {schedule_name('audited', rule)}" for rule in ("daily", "weekly"))
    assert created.actor.startswith("arn:aws:") and created.seq < updated.seq < deleted.seq
    # each record is in the chain: an altered or removed one would fail `coffer audit verify`
    report = coffer.deps.audit_log("reader").verify()
    assert report.ok, report.problems


def test_a_plan_change_that_cannot_be_audited_is_undone(coffer: LocalCoffer, tmp_path: Path) -> None:
    """The attacker's way round the audit: make the append fail (a denied write to audit/, a jammed chain) and hope
    the change stays. It does not: the apply fails and is undone, schedules and catalog as they were."""
    from coffer_cli.commands.plan import read_files

    class Jammed:
        def append(self, *_: Any, **__: Any) -> None:
            raise PermissionError("AccessDenied on audit/")

    plan = write(tmp_path, "unaudited.json", {"BackupPlanName": "unaudited", "Rules": [
        {"RuleName": "r", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 9 ? * * *)"}]})
    service = plan_service(coffer)
    service.audit = Jammed()  # type: ignore[assignment]
    with pytest.raises(ApplyFailed) as failed:
        service.apply(read_files([plan]))
    assert "AccessDenied on audit/" in str(failed.value) and "catalog" in failed.value.undone
    assert schedule_name("unaudited", "r") not in schedules(coffer)
    assert plan_service(coffer).catalog.get_plan("unaudited") is None
    assert not _plan_records(coffer, "unaudited")
