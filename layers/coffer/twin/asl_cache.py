"""Parse each state machine definition once per twin, not once per execution.

moto's Step Functions engine parses the ASL of a state machine again for every execution it starts
(``ExecutionWorker._get_evaluation_entrypoint``): about 70 ms of ANTLR parsing in Python, which dominates a
short execution and serialises a burst of them (100 concurrent deliveries spent seconds parsing). The twin
keeps the parsed program per definition text and hands every execution its own deep copy (a few ms), so an
execution never shares a component with another, exactly as after a fresh parse. A definition the cache cannot
copy is parsed as before.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

__all__ = ["parsed_once"]


@contextmanager
def parsed_once() -> Iterator[None]:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original = ExecutionWorker._get_evaluation_entrypoint
    programs: dict[str, Any] = {}
    lock = threading.Lock()

    def entrypoint(worker: Any) -> Any:
        definition = worker._evaluation_details.state_machine_details.definition
        with lock:
            program = programs.get(definition)
        if program is None:
            program = original(worker)
            with lock:
                programs.setdefault(definition, program)
        try:
            return copy.deepcopy(program)
        except Exception:  # e.g. a component holding a lock: parse as moto does
            return original(worker)

    with mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", entrypoint):
        yield
