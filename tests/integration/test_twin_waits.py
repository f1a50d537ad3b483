"""What a twin costs to deploy again, and how it waits for a workflow: the suite's time goes here."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from twins import Twins

from coffer_twin import Twin

FIXTURE_APP = Path(__file__).resolve().parents[1] / "fixtures" / "twin"
ROLE = "arn:aws:iam::123456789012:role/waits"


def _names(twin: Twin) -> dict[str, str]:
    kinds = ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine", "AWS::S3::Bucket")
    return {k: twin.physical_id(k) for k, v in twin.template["Resources"].items() if v["Type"] in kinds}


def test_the_same_stack_deployed_again_has_the_same_names_and_parses_no_workflow_again(twins: Twins) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    with twins.deploy(FIXTURE_APP) as first:
        names = _names(first)
    assert len(set(names.values())) == len(names)  # still one name per resource, with CloudFormation's suffix
    assert all(name.rsplit("-", 1)[-1] for name in names.values())
    with mock.patch.object(AmazonStateLanguageParser, "parse", wraps=AmazonStateLanguageParser.parse) as parse, \
            twins.deploy(FIXTURE_APP) as again:
        assert _names(again) == names
        assert again.run("FlowStateMachine", {"x": 1})["status"] == "SUCCEEDED"
    assert parse.call_count == 0  # the definition text repeats, so its parse is the first twin's

    with twins.deploy(FIXTURE_APP, stack_name="another") as other:  # another stack: other names, as in AWS
        assert set(_names(other).values()).isdisjoint(names.values())


def _machine(twin: Twin, name: str, seconds: int) -> str:
    definition = {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": seconds, "End": True}}}
    return str(twin.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"])


def _describes(twin: Twin) -> list[float]:
    """The times DescribeExecution is sent from now on, by the twin's own client."""
    sent: list[float] = []

    def count(**_: Any) -> None:
        sent.append(time.monotonic())

    twin.client("stepfunctions").meta.events.register("before-call.sfn.DescribeExecution", count)
    return sent


def test_waiting_for_a_workflow_sleeps_until_it_ends_instead_of_polling(twins: Twins) -> None:
    with twins.deploy(FIXTURE_APP) as twin:
        sfn = twin.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=_machine(twin, "sleeps", 1), input="{}")["executionArn"]
        sent = _describes(twin)
        began = time.monotonic()
        result = twin.wait(arn, timeout=30)
        ended = time.monotonic()
        assert result["status"] == "SUCCEEDED" and result["output"] == {}
        assert ended - began >= 0.9  # the Wait state's second (wait_scale 1.0) was waited out ...
        assert len(sent) <= 2, f"{len(sent)} DescribeExecution calls in {ended - began:.2f}s"  # ... not polled
        assert ended - sent[-1] < 0.5  # and the answer is the one asked for once it had ended


def test_a_workflow_that_does_not_end_in_time_is_a_timeout_at_the_timeout(twins: Twins) -> None:
    with twins.deploy(FIXTURE_APP) as twin:
        sfn = twin.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=_machine(twin, "sleeps-long", 60), input="{}")["executionArn"]
        began = time.monotonic()
        with pytest.raises(TimeoutError, match=r"still RUNNING after 0\.5s"):
            twin.wait(arn, timeout=0.5)
        assert 0.5 <= time.monotonic() - began < 5
        sfn.stop_execution(executionArn=arn)
        assert twin.wait(arn, timeout=10)["status"] == "ABORTED"  # a stop ends the wait too


def test_the_factory_keeps_one_twin_per_configuration_and_prepares_it_once(twins: Twins) -> None:
    """tests/twins.py: a module asking for the configuration already open gets that twin, prepared once; another
    configuration, or a fresh twin, closes it first (one twin per process)."""
    prepared: list[str] = []

    def sample_bucket(coffer: Any) -> str:
        prepared.append("made")
        coffer.client("s3").create_bucket(Bucket="shared-sample")
        return "shared-sample"

    deploys = twins.deploys
    first, bucket = twins.shared({"BatchSize": "3"}, prepare=sample_bucket)
    again, same = twins.shared({"BatchSize": "3"}, prepare=sample_bucket)
    assert again is first and same == bucket == "shared-sample" and prepared == ["made"]
    assert twins.deploys == deploys + 1
    assert first.twin.function_env("ListBatchesFunction")["BATCH_SIZE"] == "3"

    other, _ = twins.shared({"BatchSize": "5"})
    assert other is not first and twins.deploys == deploys + 2
    assert other.twin.function_env("ListBatchesFunction")["BATCH_SIZE"] == "5"
    assert Twin._open is other.twin  # the first was closed: one twin per process
    with twins.fresh() as fresh:
        assert "shared-sample" not in {b["Name"] for b in fresh.client("s3").list_buckets()["Buckets"]}
