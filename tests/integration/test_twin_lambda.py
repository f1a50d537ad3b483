"""Lambda on the twin: invocations run the real handler files, and Step Functions sees their errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from twins import Twins

from coffer_twin import Twin, TwinInvokeError

FIXTURE_APP = Path(__file__).resolve().parents[1] / "fixtures" / "twin"


@pytest.fixture(scope="module")
def twin(twins: Twins) -> Iterator[Twin]:
    with twins.deploy(FIXTURE_APP, env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as deployed:
        yield deployed


def test_invoke_runs_the_handler_with_its_environment_and_a_context(twin: Twin) -> None:
    result = twin.invoke("EchoFunction", {"hello": "world"})
    assert result["input"] == {"hello": "world"}
    assert result["stage_at_import"] == "test"  # the environment was set before the module was imported
    assert result["data_bucket"] == twin.physical_id("DataBucket")
    assert result["function_name"] == twin.physical_id("EchoFunction")
    assert result["remaining_ms_positive"] is True
    assert result["trace_disabled"] == "true"


def test_handler_exception_is_a_function_error_named_after_its_class(twin: Twin) -> None:
    with pytest.raises(TwinInvokeError) as failed:
        twin.invoke("BoomFunction", {"fail": "now"})
    assert failed.value.error_type == "BoomError"
    assert failed.value.error_message == "boom: now"
    assert any("functions/boom/app.py" in line for line in failed.value.stack_trace)


def test_workflow_calls_the_handler_through_a_substituted_function_name(twin: Twin) -> None:
    result = twin.run("FlowStateMachine", {"x": 1})
    assert result["status"] == "SUCCEEDED"
    assert result["output"]["echoed"]["echo"]["input"] == {"x": 1}


def test_catch_on_the_handler_error_type(twin: Twin) -> None:
    before = twin.invocations["BoomFunction"]
    result = twin.run("FlowStateMachine", {"fail": "in a workflow"})
    assert result["status"] == "SUCCEEDED"
    assert result["output"]["caught"] == "BoomError"
    assert result["output"]["cause"]["errorMessage"] == "boom: in a workflow"
    assert twin.invocations["BoomFunction"] == before + 1


def test_history_shows_the_lambda_task(twin: Twin) -> None:
    arn = twin.start_execution("FlowStateMachine", {"x": 2})
    assert twin.wait(arn)["status"] == "SUCCEEDED"
    types = [event["type"] for event in twin.history(arn)]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert types.count("TaskSucceeded") == 1


def test_asynchronous_invoke_is_accepted_then_runs(twin: Twin) -> None:
    before = twin.invocations["EchoFunction"]
    response = twin.client("lambda").invoke(
        FunctionName=twin.physical_id("EchoFunction"), InvocationType="Event", Payload=b"{}"
    )
    assert response["StatusCode"] == 202
    deadline = time.monotonic() + 5
    while twin.invocations["EchoFunction"] == before and time.monotonic() < deadline:
        time.sleep(0.005)
    assert twin.invocations["EchoFunction"] == before + 1


def test_invocation_stats_record_payload_sizes(twin: Twin) -> None:
    twin.invoke("EchoFunction", {"pad": "x" * 1000})
    assert twin.stats.max_request_bytes["EchoFunction"] > 1000
    assert twin.stats.max_response_bytes["EchoFunction"] > 1000
    assert twin.stats.errors["EchoFunction"] == 0
