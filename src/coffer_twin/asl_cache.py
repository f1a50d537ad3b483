"""Parse each state machine definition once per process, not once per state machine and per execution.

moto's Step Functions engine parses a definition's ASL when the state machine is created (to validate it) and
again for every execution it starts (``ExecutionWorker._get_evaluation_entrypoint``): about 70 ms to 0.5 s of
ANTLR parsing in Python each time, which dominated a twin's deploy (seven workflows) and a short execution, and
serialised a burst of them (100 concurrent deliveries spent seconds parsing). The twin keeps the parsed program
per definition text, for every twin of the process (the same template is deployed by many tests), and hands
every execution its own copy, so an execution never shares a component with another, exactly as after a fresh
parse. The copy is unpickled from bytes pickled once (under 1 ms for the largest workflow; ``copy.deepcopy``
took 6.5 ms, which a plan run of thousands of nested executions felt). Validation at creation parses a text
once; one that failed is parsed (and refused) again. A program that cannot be pickled is deep-copied; one that
cannot be copied either is parsed as before.
"""

from __future__ import annotations

import copy
import pickle
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

__all__ = ["parsed_once"]

#: definition text -> moto's parsed program (never run: executions get copies)
_PROGRAMS: dict[str, Any] = {}
#: definition text -> its program pickled, or None when it cannot be
_PICKLED: dict[str, bytes | None] = {}
_LOCK = threading.Lock()


@contextmanager
def parsed_once() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original_entrypoint = ExecutionWorker._get_evaluation_entrypoint
    original_validate = StepFunctionsParserBackend._validate_definition

    def entrypoint(worker: Any) -> Any:
        definition = worker._evaluation_details.state_machine_details.definition
        with _LOCK:
            program = _PROGRAMS.get(definition)
        if program is None:
            program = original_entrypoint(worker)
            with _LOCK:
                _PROGRAMS.setdefault(definition, program)
        try:
            pickled = _pickled(definition, program)
            return pickle.loads(pickled) if pickled is not None else copy.deepcopy(program)
        except Exception:  # e.g. a component holding a lock: parse as moto does
            return original_entrypoint(worker)

    def validate(definition: str) -> None:
        with _LOCK:
            if definition in _PROGRAMS:
                return  # parsed (so valid) before
        try:
            program, _ = AmazonStateLanguageParser.parse(definition)
        except Exception:
            original_validate(definition)  # parses again and raises InvalidDefinition as moto does
            raise
        with _LOCK:
            _PROGRAMS.setdefault(definition, program)

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", entrypoint))
        stack.enter_context(mock.patch.object(StepFunctionsParserBackend, "_validate_definition",
                                              staticmethod(validate)))
        yield


def _pickled(definition: str, program: Any) -> bytes | None:
    with _LOCK:
        if definition in _PICKLED:
            return _PICKLED[definition]
    try:
        pickled: bytes | None = pickle.dumps(program, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # not picklable: executions get deep copies
        pickled = None
    with _LOCK:
        return _PICKLED.setdefault(definition, pickled)
