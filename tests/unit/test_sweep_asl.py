"""statemachines/sweep.asl.json checked statically: every transition lands on a state, every step outside the
Distributed Maps records a failure before the execution fails, and the listing loops are bounded per call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from coffer.adapters import aws

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachines" / "sweep.asl.json").read_text())


def states(scope: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, state, the scope's states) for every state, nested ones included."""
    for name, state in scope.items():
        yield name, state, scope
        if "ItemProcessor" in state:
            yield from states(state["ItemProcessor"]["States"])


def targets(state: dict[str, Any]) -> list[str]:
    found = [state[k] for k in ("Next", "Default") if k in state]
    found += [c["Next"] for c in state.get("Choices", [])]
    found += [c["Next"] for c in state.get("Catch", [])]
    return found


def test_every_transition_lands_on_a_state_of_its_scope_and_names_are_unique() -> None:
    names = [name for name, _, _ in states(ASL["States"])]
    assert len(names) == len(set(names))
    for name, state, scope in states(ASL["States"]):
        for target in targets(state):
            assert target in scope, (name, target)
        if state["Type"] not in ("Choice", "Succeed", "Fail"):
            assert "Next" in state or state.get("End") is True, name


def test_every_step_records_a_failure_and_retries_what_aws_says_to_retry() -> None:
    for name, state, _ in states(ASL["States"]):
        if state["Type"] != "Task":
            continue
        retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
        assert set(aws.TRANSIENT_ERROR_NAMES) <= retried and "Lambda.TooManyRequestsException" in retried, name
    top = ASL["States"]
    for name, state in top.items():
        if state["Type"] in ("Task", "Map") and name != "RecordFailure":
            assert [c["Next"] for c in state["Catch"]] == ["RecordFailure"], name
    assert top["RecordFailure"]["Next"] == "SweepFailed" and top["SweepFailed"]["Type"] == "Fail"
    # a child that fails for good does not stop the run: its batch is missing from the totals (PARTIAL)
    for map_state in ("SweepBatches", "RenewLocks", "CollectBlobBatches"):
        assert top[map_state]["ToleratedFailurePercentage"] == 100
        assert top[map_state]["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"


def test_the_listing_loops_until_done_then_fans_out_phase_by_phase() -> None:
    top = ASL["States"]
    assert top["Prepare"]["Parameters"]["phase"] == "recovery_points"
    assert top["PrepareBlobs"]["Parameters"]["phase"] == "blobs"
    for listing, more in (("ListRecoveryPoints", "MoreRecoveryPoints"), ("ListBlobs", "MoreBlobs")):
        assert top[listing]["Next"] == more
        [loop] = top[more]["Choices"]
        assert (loop["Variable"], loop["BooleanEquals"], loop["Next"]) == ("$.more", True, listing)
    # the sweep stage, then the lock renewals it planned (kept-forever recovery points: domain/lock_renewal.py) -
    # before blob collection, which must see the renewed locks - then blob collection
    assert top["SweepBatches"]["Next"] == "PrepareRenewals" and top["CollectBlobBatches"]["Next"] == "CompleteSweep"
    assert top["PrepareRenewals"]["Parameters"]["phase"] == "renewals" and top["ListRenewals"]["Next"] == "AnyRenewals"
    [any_renewal] = top["AnyRenewals"]["Choices"]
    assert (any_renewal["Next"], top["AnyRenewals"]["Default"], top["RenewLocks"]["Next"]) == (
        "RenewLocks", "PrepareBlobs", "PrepareBlobs")
    child = top["RenewLocks"]["ItemProcessor"]["States"]["RenewLock"]
    assert child["Parameters"]["FunctionName"] == "${RenewLocksFunctionArn}"
    assert "25,000" in ASL["Comment"] and "7 events" in ASL["Comment"]
