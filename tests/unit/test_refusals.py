"""How a refused request leaves a workflow: the start handler answers with a refusal (never a raised error, whose
Lambda payload carries a stack trace into the execution's history), and each workflow routes it to a Fail state
whose cause is the refusal's one line. Every other error still propagates, for Retry and Catch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coffer.domain.errors import ConcurrentUpdate, IdempotencyConflict, InvalidInput, ResourceBusy
from coffer.entrypoints.lambda_runtime import refusals_returned

ROOT = Path(__file__).resolve().parents[2]
START_STATES = {"backup": "StartBackupJob", "restore": "StartRestoreJob", "copy": "StartCopyJob"}


def _raising(error: Exception) -> Any:
    def handler(event: dict[str, Any], context: Any) -> Any:
        raise error

    return refusals_returned(handler)


def test_a_refusal_is_answered_with_its_kind_and_one_line() -> None:
    refused = _raising(InvalidInput(["ResourceArn: 'x\ny' is not an ARN (arn:...)", "Lifecycle: bad"]))({}, None)
    assert refused == {"next": "refused", "error": {
        "Error": "InvalidInput", "Cause": "InvalidInput: ResourceArn: 'x\\ny' is not an ARN (arn:...); Lifecycle: bad"}}
    busy = _raising(ResourceBusy("arn:aws:s3:::b", "job-1"))({}, None)
    assert busy["error"]["Cause"] == "ResourceBusy: resource arn:aws:s3:::b is being backed up by job job-1"
    assert _raising(IdempotencyConflict("token reused"))({}, None)["error"]["Error"] == "IdempotencyConflict"


@pytest.mark.parametrize("error", [ConcurrentUpdate("retry me"), RuntimeError("a bug"), KeyError("k")])
def test_any_other_error_propagates_for_retry_and_catch(error: Exception) -> None:
    with pytest.raises(type(error)):
        _raising(error)({}, None)


@pytest.mark.parametrize("workflow", sorted(START_STATES))
def test_each_workflow_routes_a_refusal_to_a_fail_state_with_its_one_line_cause(workflow: str) -> None:
    states = json.loads((ROOT / "statemachines" / f"{workflow}.asl.json").read_text())["States"]
    route = states[states[START_STATES[workflow]]["Next"]]
    assert route["Type"] == "Choice"
    assert route["Choices"][0] == {"Variable": "$.next", "StringEquals": "refused", "Next": "EndStartedJob"}
    how = states[states["EndStartedJob"]["Next"]]
    refused = {"And": [{"Variable": "$.next", "IsPresent": True}, {"Variable": "$.next", "StringEquals": "refused"}]}
    targets = {c["Next"]: c for c in how["Choices"]}
    assert targets["Refused"] == {**refused, "Next": "Refused"}
    assert targets["JobFailedAtStart"]["And"][1:] == refused["And"]
    assert states["Refused"] == {**states["Refused"], "Type": "Fail", "Error": "RequestRefused",
                                 "CausePath": "$.error.Cause"}
    assert states["JobFailedAtStart"] == {**states["JobFailedAtStart"], "Type": "Fail", "Error": "JobFailed",
                                          "CausePath": "$.error.Cause"}
    # a raised error still takes the Catch (its payload is Lambda's, so its cause stays out of the Fail state)
    assert states[START_STATES[workflow]]["Catch"][0]["Next"] == "EndStartedJob"
    assert "CausePath" not in states["RequestRefused"]
