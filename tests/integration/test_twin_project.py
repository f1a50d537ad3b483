"""The project's own template.yaml deploys on the twin unchanged, every function routed to its handler."""

from __future__ import annotations

from pathlib import Path

import pytest
from twins import Twins

PROJECT_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (PROJECT_ROOT / "template.yaml").is_file(), reason="the project template is not written yet"
)


def test_project_template_deploys_with_every_function_routed(twins: Twins) -> None:
    with twins.deploy(PROJECT_ROOT) as twin:
        functions = [k for k, v in twin.template["Resources"].items() if v["Type"] == "AWS::Lambda::Function"]
        assert functions
        for logical_id in functions:
            assert twin.function_source(logical_id).handler_file is not None, logical_id

        machines = [k for k, v in twin.template["Resources"].items() if v["Type"] == "AWS::StepFunctions::StateMachine"]
        listed = {m["stateMachineArn"] for m in twin.client("stepfunctions").list_state_machines()["stateMachines"]}
        assert {twin.physical_id(m) for m in machines} <= listed  # runnable, not only created by CloudFormation

        for bucket in [k for k, v in twin.template["Resources"].items() if v["Type"] == "AWS::S3::Bucket"]:
            props = twin.template["Resources"][bucket].get("Properties", {})
            if props.get("ObjectLockEnabled"):
                lock = twin.client("s3").get_object_lock_configuration(Bucket=twin.physical_id(bucket))
                assert lock["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
        assert twin.unsupported_resources == {}
        # what the twin does not make on purpose: alarms, the dashboard, the topic's policy (coffer_twin.twin)
        assert set(twin.not_emulated.values()) <= {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard",
                                                   "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription"}
