"""template.yaml's plan machinery: PlanRun's nested Backup executions, the schedule group and Scheduler's role,
and the outputs `coffer plan` resolves a stack by. (The rules every workflow and function share - least
privilege, Distributed Map rights, substitutions - are in test_template.py.)"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from coffer.stack_outputs import OUTPUTS
from coffer_twin.cfn_yaml import load_template
from coffer_twin.packaging import package_template
from coffer_twin.sam_transform import to_cloudformation

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def planrun_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        cfn = to_cloudformation(package_template(copy.deepcopy(template), ROOT, "a", "c.zip").template)
    role = cfn["Resources"]["PlanRunStateMachineRole"]
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_planrun_may_start_and_follow_only_the_backup_workflow(planrun_statements: list[dict[str, Any]],
                                                               template: dict[str, Any]) -> None:
    by_sid = {s.get("Sid"): s for s in planrun_statements}
    assert by_sid["NestedBackups"]["Resource"] == {"Ref": "BackupStateMachine"}
    assert by_sid["NestedBackups"]["Action"] == "states:StartExecution"
    assert by_sid["NestedBackupExecutions"]["Resource"]["Fn::Sub"].endswith(":execution:${AWS::StackName}-backup:*")
    # .sync integrations learn that a child ended through this managed EventBridge rule (AWS's documented need).
    events = by_sid["NestedExecutionEvents"]
    assert set(events["Action"]) == {"events:PutTargets", "events:PutRule", "events:DescribeRule"}
    assert events["Resource"]["Fn::Sub"].endswith(":rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")
    asl = (ROOT / "statemachines" / "planrun.asl.json").read_text()
    assert '"arn:aws:states:::states:startExecution.sync:2"' in asl
    assert template["Resources"]["PlanRunStateMachine"]["Properties"]["DefinitionSubstitutions"][
        "BackupStateMachineArn"] == {"Ref": "BackupStateMachine"}


def test_every_planrun_task_retries_and_every_lambda_task_is_caught() -> None:
    asl = json.loads((ROOT / "statemachines" / "planrun.asl.json").read_text())

    def walk(states: dict[str, Any]) -> Any:
        for name, state in states.items():
            yield name, state, states
            if "ItemProcessor" in state:
                yield from walk(state["ItemProcessor"]["States"])

    for name, state, scope in walk(asl["States"]):
        for key in ("Next", "Default"):
            if key in state:
                assert state[key] in scope, (name, key)
        for choice in state.get("Choices", []):
            assert choice["Next"] in scope, name
        if state["Type"] == "Task":
            assert state.get("Retry"), name
            if name != "FailPlanRun":
                assert [c["ErrorEquals"] for c in state.get("Catch", [])] == [["States.ALL"]], name


def test_the_scheduler_role_may_start_planrun_and_nothing_else(template: dict[str, Any]) -> None:
    role = template["Resources"]["PlanSchedulerRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    [statement] = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert (statement["Action"], statement["Resource"]) == ("states:StartExecution", {"Ref": "PlanRunStateMachine"})


def test_the_outputs_name_what_coffer_plan_needs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert set(OUTPUTS) <= set(outputs)
    group = template["Resources"]["PlanScheduleGroup"]
    assert group["Type"] == "AWS::Scheduler::ScheduleGroup"
    # The group's name is given in full so the output can name it without a Ref (moto cannot resolve one).
    assert outputs["PlanScheduleGroupName"]["Value"] == group["Properties"]["Name"] == {
        "Fn::Sub": "${AWS::StackName}-plans"}
    assert outputs["PlanRunStateMachineArn"]["Value"] == {"Ref": "PlanRunStateMachine"}


def test_selection_may_list_resources_but_write_only_page_files(template: dict[str, Any]) -> None:
    statements = template["Resources"]["SelectResourcesFunction"]["Properties"]["Policies"][0]["Statement"]
    writes = [s for s in statements if any(re.match(r"s3:(Put|Delete)", a) for a in
                                            (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))]
    assert [w["Resource"] for w in writes] == [{"Fn::Sub": "${WorkBucket.Arn}/*"}]
