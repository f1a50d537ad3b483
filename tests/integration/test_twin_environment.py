"""The twin's process-wide pieces that need no deployment: the environment gate and substitutions."""

from __future__ import annotations

import os
import threading

import pytest

from coffer_twin.environment import EnvironmentGate
from coffer_twin.fixups import substitute_definition


def test_same_environment_runs_together_stays_while_the_twin_is_open_and_is_removed_by_close() -> None:
    gate = EnvironmentGate()
    inside = threading.Barrier(2, timeout=5)
    seen: list[str | None] = []

    def call() -> None:
        with gate.applied({"TWIN_GATE_TEST": "a"}):
            inside.wait()  # both threads are inside at once, or this times out
            seen.append(os.environ.get("TWIN_GATE_TEST"))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == ["a", "a"]
    # Idle, the environment stays applied: a thread outside an invocation never sees it vanish...
    assert os.environ.get("TWIN_GATE_TEST") == "a"
    gate.close()  # ...until the twin closes.
    assert "TWIN_GATE_TEST" not in os.environ


def test_other_environment_waits_for_the_first_to_finish() -> None:
    gate = EnvironmentGate()
    first_in, first_may_leave = threading.Event(), threading.Event()
    seen: list[tuple[str, str | None]] = []

    def first() -> None:
        with gate.applied({"TWIN_GATE_TEST": "first"}):
            first_in.set()
            first_may_leave.wait(5)
            seen.append(("first", os.environ.get("TWIN_GATE_TEST")))

    def second() -> None:
        with gate.applied({"TWIN_GATE_TEST": "second"}):
            seen.append(("second", os.environ.get("TWIN_GATE_TEST")))

    one = threading.Thread(target=first)
    one.start()
    first_in.wait(5)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.05)
    assert two.is_alive()  # waiting: the first call still needs its environment
    first_may_leave.set()
    one.join()
    two.join()
    assert seen == [("first", "first"), ("second", "second")]
    gate.close()
    assert "TWIN_GATE_TEST" not in os.environ


def test_nested_call_in_the_same_thread_swaps_and_restores() -> None:
    gate = EnvironmentGate()
    with gate.applied({"TWIN_GATE_TEST": "outer"}):
        with gate.applied({"TWIN_GATE_TEST": "inner"}):
            assert os.environ["TWIN_GATE_TEST"] == "inner"
        assert os.environ["TWIN_GATE_TEST"] == "outer"
    assert os.environ["TWIN_GATE_TEST"] == "outer"
    gate.close()
    assert "TWIN_GATE_TEST" not in os.environ


def test_definition_substitution() -> None:
    definition = '{"FunctionName": "${FnArn}", "Flag": "${On}", "Keep": "States.Format(\'{}\', $.x)"}'
    substituted = substitute_definition(definition, {"FnArn": "arn:aws:lambda:::function:f", "On": True})
    assert (
        substituted
        == '{"FunctionName": "arn:aws:lambda:::function:f", "Flag": "true", "Keep": "States.Format(\'{}\', $.x)"}'
    )
    with pytest.raises(KeyError, match="Missing"):
        substitute_definition('{"A": "${Missing}"}', {})
