"""EventBridge on the twin: a matching event starts the workflow its rule targets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from twins import Twins

from coffer_twin import Twin
from coffer_twin.event_delivery import target_input

FIXTURE_APP = Path(__file__).resolve().parents[1] / "fixtures" / "twin"


@pytest.fixture(scope="module")
def twin(twins: Twins) -> Iterator[Twin]:
    with twins.deploy(FIXTURE_APP) as deployed:
        yield deployed


def test_matching_event_starts_the_target_workflow_with_the_event_as_input(twin: Twin) -> None:
    arns = twin.put_event("twin.fixture", "StartFlow", {"order": 7})
    assert len(arns) == 1
    result = twin.wait(arns[0])
    assert result["status"] == "SUCCEEDED"
    assert result["output"]["echoed"]["echo"]["input"] == {"order": 7}  # the ASL unwrapped $.detail

    started = twin.history(arns[0])[0]["executionStartedEventDetails"]
    event = json.loads(started["input"])
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert event["detail-type"] == "StartFlow" and event["source"] == "twin.fixture"
    assert event["detail"] == {"order": 7}
    assert event["time"].endswith("Z")


def test_event_that_matches_no_rule_starts_nothing(twin: Twin) -> None:
    assert twin.put_event("someone.else", "StartFlow", {}) == []
    assert twin.put_event("twin.fixture", "SomethingElse", {"a": 1}) == []


def test_disabled_rule_delivers_nothing(twin: Twin) -> None:
    events = twin.client("events")
    rule = twin.physical_id("FlowStateMachineStartFlow")  # SAM names the rule <machine><event>
    events.disable_rule(Name=rule)
    try:
        assert twin.put_event("twin.fixture", "StartFlow", {"order": 8}) == []
    finally:
        events.enable_rule(Name=rule)


def testtarget_input_options_shape_the_execution_input() -> None:
    moto_event = {
        "version": "0",
        "id": "e-1",
        "detail-type": "StartFlow",
        "source": "twin.fixture",
        "account": "123456789012",
        "time": 0.0,
        "region": "us-east-1",
        "resources": [],
        "detail": {"order": 9},
        "ingestion-time": 0.0,
    }
    assert json.loads(target_input({"Input": '{"fixed": 1}'}, moto_event)) == {"fixed": 1}
    assert json.loads(target_input({"InputPath": "$.detail"}, moto_event)) == {"order": 9}
    transformer = {"InputPathsMap": {"o": "$.detail.order"}, "InputTemplate": '{"order": <o>}'}
    assert json.loads(target_input({"InputTransformer": transformer}, moto_event)) == {"order": 9}
    whole = json.loads(target_input({}, moto_event))
    assert whole["time"] == "1970-01-01T00:00:00Z" and "ingestion-time" not in whole
