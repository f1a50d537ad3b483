"""A failure at every step of every workflow, in turn: each workflow still completes, with nothing left behind.

What can fail is derived, not listed: the Task states come from the ASL (those the workflow visits in a clean
run), and the AWS calls from a clean run recorded at botocore's ``before-send``: every (caller, service,
operation) made by a Task state's handler or by Step Functions itself (Lambda invokes, ItemReader listings,
ResultWriter writes). Then each step in turn is run with one failure of each kind of call it makes
(one run per step keeps the suite fast; each failure is injected exactly once, which the test checks):

- a write gets a TIMEOUT: S3/DynamoDB carried it out and the answer was lost, so botocore repeats it (a
  non-idempotent create made twice is exactly what this finds);
- a read gets a refusal, cycling throttling, 5xx and connection errors (nothing happened; botocore retries);
- Step Functions' own calls get throttling or a 5xx, as the Lambda and S3 services would answer it: its
  invoke of the step's function (the ASL's Retry on Lambda.* errors), and for a Map state its ItemReader and
  ResultWriter calls (the ASL's Retry on States.ItemReaderFailed/ResultWriterFailed).

Every run must end SUCCEEDED with the job COMPLETED and the data right, and leave nothing behind. All failing
steps of a workflow are reported together.
"""

from __future__ import annotations

import itertools

import pytest

from coffer_twin.calls import ENGINE
from coffer_twin.faults import Fault, FaultKind

from .conftest import WORKFLOWS, World

_READS = ("Get", "List", "Describe", "Head", "Query", "BatchGet", "Scan")


def _kind_for(caller: str, operation: str, refusals: itertools.cycle[FaultKind]) -> FaultKind:
    if caller == ENGINE:
        return FaultKind.SERVER_ERROR if next(refusals) is FaultKind.SERVER_ERROR else FaultKind.THROTTLING
    if operation.startswith(_READS):
        return next(refusals)
    return FaultKind.TIMEOUT


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_a_failure_of_each_call_of_any_step_is_absorbed(world: World, workflow: str) -> None:
    visited, operations = world.steps(workflow)
    refusals = itertools.cycle([FaultKind.THROTTLING, FaultKind.SERVER_ERROR, FaultKind.CONNECTION])
    steps: dict[str, list[Fault]] = {}
    for state, function in sorted(visited.items()):
        steps[state] = [Fault(_kind_for(ENGINE, "Invoke", refusals), "lambda", "Invoke", ENGINE,
                              url_contains=world.physical_name(function))]
        steps[state] += [Fault(_kind_for(c, o, refusals), s, o, c) for c, s, o in operations if c == function]
    map_calls = [Fault(_kind_for(c, o, refusals), s, o, c) for c, s, o in operations if c == ENGINE and s != "lambda"]
    if map_calls:
        steps["(Distributed Map: ItemReader, ResultWriter)"] = map_calls
    covered = {(f.caller, f.service, f.operation) for faults in steps.values() for f in faults}
    assert covered == set(operations), f"calls no step accounts for: {set(operations) - covered}"
    problems: list[str] = []
    for step, faults in steps.items():
        for fault in faults:
            world.faults.add(fault)
        run = world.run(workflow)
        world.faults.clear()
        what = f"{step} [{'; '.join(f.describe() for f in faults)}]"
        problems += [f"{step}: {f.describe()} injected {f.injected} times" for f in faults if f.injected != 1]
        if run.status != "SUCCEEDED":
            reason = world.job(run.job_id).status_message if run.result.get("output") else run.result.get("cause")
            problems.append(f"{what}: execution {run.status} {run.result.get('error')}: {reason}")
            continue
        try:
            run.check()
        except AssertionError as error:
            problems.append(f"{what}: wrong result: {error}")
        problems += [f"{what}: {left}" for left in world.left_behind()]
    assert not problems, "\n".join(problems)
