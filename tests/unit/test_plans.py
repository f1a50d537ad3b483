"""Plan documents: AWS Backup's JSON read unchanged and written back, checked by AWS Backup's rules."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from coffer.domain.errors import InvalidInput
from coffer.domain.plan_diff import diff_plans
from coffer.domain.plans import (
    PlanDocument,
    plan_id_for,
    plan_notes,
    read_documents,
    schedule_definition,
    schedule_name,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "plans"
AWS_PLAN = "aws_create_backup_plan_daily_monthly.json"
AWS_PLAN_BODY = "aws_backup_plan_continuous.json"
AWS_SELECTION_INPUT = "aws_create_backup_selection_conditions.json"
AWS_SELECTION_BODY = "aws_backup_selection_list_of_tags.json"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def read(*docs: tuple[str, Any]) -> PlanDocument:
    return read_documents(list(docs))


def problems_of(*docs: tuple[str, Any]) -> list[str]:
    with pytest.raises(InvalidInput) as refused:
        read_documents(list(docs))
    return refused.value.problems


# ---- AWS Backup's documents round-trip unchanged ------------------------------------------------------
@pytest.mark.parametrize(("plan_file", "selection_files"), [
    (AWS_PLAN, [AWS_SELECTION_INPUT, AWS_SELECTION_BODY]),
    (AWS_PLAN_BODY, [AWS_SELECTION_BODY]),
    (AWS_PLAN, []),
])
def test_aws_plan_and_selection_json_round_trip_unchanged(plan_file: str, selection_files: list[str]) -> None:
    plan = read((plan_file, load(plan_file)), *((f, load(f)) for f in selection_files))
    exported_plan = plan.create_backup_plan_input()
    original = load(plan_file)
    original = original if "BackupPlan" in original else {"BackupPlan": original}
    original.pop("CreatorRequestId", None)  # the API call's token, not part of the plan
    assert exported_plan == original
    exported_selections = plan.create_backup_selection_inputs()
    for file, exported in zip(selection_files, exported_selections, strict=True):
        body = load(file).get("BackupSelection", load(file))
        assert exported["BackupSelection"] == body
        assert exported["BackupPlanId"] == plan_id_for(plan.name)
    # ... and what was exported reads back as the same plan.
    again = read(("plan", exported_plan), *((f"sel{n}", s) for n, s in enumerate(exported_selections)))
    assert again == plan


def test_a_coffer_plan_file_in_yaml_round_trips_and_is_aws_json_inside() -> None:
    text = (ROOT / "examples" / "plans" / "sample.yaml").read_text()
    plan = read(("sample.yaml", yaml.safe_load(text)))
    assert plan.to_document() == yaml.safe_load(text)
    assert read(("x", yaml.safe_load(yaml.safe_dump(plan.to_document())))) == plan
    assert [r.rule_name for r in plan.backup_plan.rules] == ["hourly", "daily"]


def test_unset_fields_mean_aws_backups_defaults_and_stay_unset() -> None:
    plan = read(("p", {"BackupPlanName": "minimal", "Rules": [{"RuleName": "r", "TargetBackupVaultName": "Default"}]}))
    rule = plan.backup_plan.rules[0]
    assert (rule.effective_schedule, rule.effective_start_window, rule.effective_completion_window) == (
        "cron(0 5 ? * * *)", 60, 10080)
    assert plan.create_backup_plan_input() == {"BackupPlan": {"BackupPlanName": "minimal", "Rules": [
        {"RuleName": "r", "TargetBackupVaultName": "Default"}]}}


# ---- invalid documents are refused, naming the field ---------------------------------------------------
def rule_with(**changes: Any) -> dict[str, Any]:
    rule = {"RuleName": "daily", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 5 ? * * *)"}
    rule.update(changes)
    return {"BackupPlan": {"BackupPlanName": "p", "Rules": [rule]}}


@pytest.mark.parametrize(("document", "expected"), [
    (rule_with(ScheduleExpression="cron(0 5 * * *)"),
     "plan.json: BackupPlan.Rules[0].ScheduleExpression: 'cron(0 5 * * *)' has 5 fields"),
    (rule_with(ScheduleExpression="cron(0 5 * * * *)"),
     "plan.json: BackupPlan.Rules[0].ScheduleExpression: 'cron(0 5 * * * *)': exactly one of Day-of-month"),
    (rule_with(ScheduleExpression="cron(0/30 * ? * * *)"),
     "BackupPlan.Rules[0].ScheduleExpression: 'cron(0/30 * ? * * *)' names more than one minute"),
    (rule_with(ScheduleExpression="rate(15 minutes)"),
     "BackupPlan.Rules[0].ScheduleExpression: 'rate(15 minutes)' is shorter than 60 minutes"),
    (rule_with(ScheduleExpressionTimezone="Europe/Atlantis"),
     "BackupPlan.Rules[0].ScheduleExpressionTimezone: 'Europe/Atlantis' is not an IANA time zone"),
    (rule_with(StartWindowMinutes=30), "BackupPlan.Rules[0].StartWindowMinutes: 30; must be at least 60"),
    (rule_with(StartWindowMinutes=120, CompletionWindowMinutes=150),
     "BackupPlan.Rules[0].CompletionWindowMinutes: 150; must be at least 60 minutes more than the start window "
     "(120), i.e. at least 180"),
    (rule_with(Lifecycle={"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 100}),
     "BackupPlan.Rules[0].Lifecycle: DeleteAfterDays (100) must be at least 90 days after "
     "MoveToColdStorageAfterDays (30)"),
    (rule_with(Lifecycle={"DeleteAfterDays": 0}),
     "BackupPlan.Rules[0].Lifecycle.DeleteAfterDays: Input should be greater than or equal to 1"),
    (rule_with(EnableContinuousBackup=True, Lifecycle={"DeleteAfterDays": 36}),
     "BackupPlan.Rules[0].Lifecycle.DeleteAfterDays: 36; continuous backups are kept 1 to 35 days"),
    (rule_with(EnableContinuousBackup=True, Lifecycle={"MoveToColdStorageAfterDays": 1, "DeleteAfterDays": 91}),
     "BackupPlan.Rules[0].Lifecycle.MoveToColdStorageAfterDays: continuous backups do not go to cold storage"),
    (rule_with(CopyActions=[{"DestinationBackupVaultArn": "arn:aws:s3:::not-a-vault"}]),
     "BackupPlan.Rules[0].CopyActions[0].DestinationBackupVaultArn: 'arn:aws:s3:::not-a-vault' is not a backup "
     "vault ARN"),
    (rule_with(CopyActions=[{"Lifecycle": {"DeleteAfterDays": 7}}]),
     "BackupPlan.Rules[0].CopyActions[0].DestinationBackupVaultArn: Field required"),
    (rule_with(RecoveryPointTags={"aws:created-by": "me"}),
     "BackupPlan.Rules[0].RecoveryPointTags.aws:created-by: tag keys starting with 'aws:' are reserved"),
    (rule_with(RecoveryPointTags={"k": "v" * 257}),
     "BackupPlan.Rules[0].RecoveryPointTags.k: a tag value has at most 256 characters"),
    (rule_with(RecoveryPointTags={"bad{key}": "v"}),
     "BackupPlan.Rules[0].RecoveryPointTags.bad{key}: tags may hold letters, digits, spaces and"),
    (rule_with(TargetBackupVaultName="my vault"),
     "BackupPlan.Rules[0].TargetBackupVaultName: 'my vault' does not match"),
    (rule_with(RuleName="daily rule"), "BackupPlan.Rules[0].RuleName: 'daily rule' does not match"),
    (rule_with(Lifecycle={"DeleteAfterDay": 7}),
     "BackupPlan.Rules[0].Lifecycle.DeleteAfterDay: is not a field AWS Backup knows here"),
    (rule_with(scheduleExpression="cron(0 5 ? * * *)"),
     "BackupPlan.Rules[0].scheduleExpression: is not a field AWS Backup knows here (check its spelling and casing)"),
    ({"BackupPlan": {"BackupPlanName": "p", "Rules": []}}, "BackupPlan.Rules: List should have at least 1 item"),
    ({"BackupPlan": {"BackupPlanName": "p"}}, "BackupPlan.Rules: Field required"),
])
def test_an_invalid_plan_is_refused_naming_the_field(document: dict[str, Any], expected: str) -> None:
    problems = problems_of(("plan.json", document))
    assert any(p.startswith(expected) or expected in p for p in problems), problems


def test_rule_names_are_unique_in_a_plan() -> None:
    document = rule_with()
    document["BackupPlan"]["Rules"].append(copy.deepcopy(document["BackupPlan"]["Rules"][0]))
    assert problems_of(("plan.json", document)) == [
        "plan.json: BackupPlan.Rules[1].RuleName: 'daily' is used by another rule; rule names are unique in a plan"]


def test_every_problem_is_reported_at_once() -> None:
    document = rule_with(StartWindowMinutes=10, ScheduleExpression="cron(0 5 ? * * *)",
                         CopyActions=[{"DestinationBackupVaultArn": "nope"}])
    assert len(problems_of(("plan.json", document))) == 2


@pytest.mark.parametrize(("selection", "expected"), [
    ({"SelectionName": "bad name"}, "sel.json: SelectionName: 'bad name' does not match"),
    ({"SelectionName": "s", "IamRoleArn": "arn:aws:iam::123:user/x"}, "sel.json: IamRoleArn: 'arn:aws:iam::123:user/x' "
     "is not an IAM role ARN"),
    ({"SelectionName": "s", "Resources": ["my-bucket"]},
     "sel.json: Resources[0]: 'my-bucket' is neither '*' nor an ARN"),
    ({"SelectionName": "s", "Conditions": {"StringEquals": [{"ConditionKey": "aws:PrincipalTag/x",
                                                             "ConditionValue": "y"}]}},
     "sel.json: Conditions.StringEquals[0].ConditionKey: 'aws:PrincipalTag/x': only tag conditions"),
    ({"SelectionName": "s", "ListOfTags": [{"ConditionType": "STRINGLIKE", "ConditionKey": "k",
                                            "ConditionValue": "v"}]},
     "sel.json: ListOfTags[0].ConditionType: Input should be 'STRINGEQUALS'"),
    ({"SelectionName": "s", "Conditions": {"StringMatches": []}}, "sel.json: Conditions.StringMatches: is not a field"),
])
def test_an_invalid_selection_is_refused_naming_its_file_and_field(selection: dict[str, Any], expected: str) -> None:
    problems = problems_of(("plan.json", rule_with()), ("sel.json", selection))
    assert any(p.startswith(expected) for p in problems), problems


def test_selection_names_are_unique_across_files() -> None:
    selection = {"SelectionName": "same", "Resources": ["*"]}
    plan = {**rule_with(), "Selections": [selection]}
    problems = problems_of(("plan.json", plan), ("more.json", {"BackupPlanId": "x", "BackupSelection": selection}))
    assert problems == ["more.json: BackupSelection.SelectionName: 'same' is used by another selection"]


def test_documents_must_make_exactly_one_plan() -> None:
    assert problems_of(("sel.json", {"SelectionName": "s"}))[0].startswith("BackupPlan: no backup plan")
    assert "a second backup plan" in problems_of(("a.json", rule_with()), ("b.json", rule_with()))[0]
    assert problems_of(("x.json", {"Foo": 1}))[0].startswith("x.json: neither a backup plan")
    assert problems_of(("x.json", [1, 2]))[0] == "x.json: a plan or selection document is a mapping (JSON object), " \
                                                 "not list"
    assert problems_of(("x.json", {"BackupPlan": {}, "Extra": 1}))[0] == "x.json: Extra: is not a field of a plan " \
                                                                          "document"


# ---- what Coffer keeps but does not act on is said ---------------------------------------------------
def test_notes_name_what_is_kept_but_not_acted_on() -> None:
    notes = plan_notes(read((AWS_PLAN_BODY, load(AWS_PLAN_BODY)), ("s", {"SelectionName": "s"})))
    assert "BackupPlan.Rules[0].EnableContinuousBackup: S3, DynamoDB and RDS resources are backed up " \
           "continuously (point-in-time recovery); other types get a snapshot backup on schedule" in notes
    assert "BackupPlan.AdvancedBackupSettings: kept, not acted on by Coffer" in notes
    assert "Selections[0].IamRoleArn: not set; AWS Backup requires it, Coffer does not" in notes
    rate = read(("p", rule_with(ScheduleExpression="rate(1 day)")))
    assert any("AWS Backup itself accepts cron() only" in n for n in plan_notes(rate))


# ---- schedules ---------------------------------------------------------------------------------------
def test_one_schedule_per_rule_with_a_valid_unique_name_and_the_planrun_input() -> None:
    plan = read((AWS_PLAN, load(AWS_PLAN)))
    names = [schedule_name(plan.name, r.rule_name) for r in plan.backup_plan.rules]
    assert len(set(names)) == 2 and all(re.fullmatch(r"[0-9a-zA-Z\-_.]{1,64}", n) for n in names)
    long = schedule_name("p" * 50, "r" * 50)
    assert len(long) <= 64 and long != schedule_name("p" * 50, "r" * 49 + "x")
    monthly = plan.backup_plan.rules[1]
    definition = schedule_definition(plan, monthly, "g", "arn:sm", "arn:role")
    assert definition["ScheduleExpression"] == "cron(0 3 1 * ? *)"
    assert definition["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert json.loads(definition["Target"]["Input"]) == {
        "plan_name": "prod-daily-monthly", "rule_name": "MonthlyBackups",
        "scheduled_time": "<aws.scheduler.scheduled-time>"}
    assert (definition["Target"]["Arn"], definition["Target"]["RoleArn"], definition["GroupName"]) == (
        "arn:sm", "arn:role", "g")


# ---- diff --------------------------------------------------------------------------------------------
def test_diff_names_added_removed_and_changed_rules_and_fields() -> None:
    old = read((AWS_PLAN, load(AWS_PLAN)))
    changed = load(AWS_PLAN)
    daily, _monthly = changed["BackupPlan"]["Rules"]
    daily["Lifecycle"]["DeleteAfterDays"] = 200
    changed["BackupPlan"]["Rules"] = [daily, {"RuleName": "Hourly", "TargetBackupVaultName": "prod-vault",
                                              "ScheduleExpression": "cron(0 * ? * * *)"}]
    new = read(("p", changed), ("s", {"SelectionName": "all", "Resources": ["*"]}))
    lines = diff_plans(old, new).lines()
    assert lines[0] == "update plan prod-daily-monthly"
    assert "  + rule Hourly" in lines and "  - rule MonthlyBackups" in lines and "  ~ rule DailyBackups" in lines
    assert "      Lifecycle.DeleteAfterDays: 120 -> 200" in lines
    assert "  + selection all" in lines
    assert diff_plans(old, old).empty and diff_plans(old, old).lines() == ["plan prod-daily-monthly: no changes"]
    assert diff_plans(None, old).lines()[0] == "create plan prod-daily-monthly"
    assert diff_plans(old, None).lines()[0] == "delete plan prod-daily-monthly"
