"""Step Functions' own waits, compressed on the twin: Wait states and Retry intervals sleep ``scale`` of their time.

A workflow on the twin waits for nothing real: moto's snapshots and backups finish at once, and an injected
fault is gone on the next attempt. Sleeping the ASL's seconds in full only makes tests and the demo slow (a
Retry with IntervalSeconds 1 and BackoffRate 2 sleeps 1+2+4+... s before a job may end FAILED). What runs is
unchanged: every Wait state is entered and left, every Retry attempt is made and counted in the history;
only how long the thread sleeps between them shrinks. ``scale=1.0`` keeps AWS's timing (bench uses it, so its
state transition counts of polls are those a real deployment sees with the same parameters).

Whoever waits *for* a workflow sleeps until it ends, not in a poll loop (:class:`ExecutionEnds`): moto runs an
execution in a thread of this process, and the twin has that thread say when it is done. Polling
DescribeExecution every few milliseconds took the interpreter from the workflow it waited for (each call a
serialised request, scanning every execution of the state machine: a third of a short backup's CPU time on a
busy machine), and slept past the end it was waiting for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any
from unittest import mock

__all__ = ["ExecutionEnds", "compressed_waits"]


@contextmanager
def compressed_waits(scale: float) -> Iterator[None]:
    """Within the block, moto's Wait states and Retry intervals sleep `scale` times their seconds."""
    if scale == 1.0:
        yield
        return
    if not 0 < scale <= 1:
        raise ValueError(f"wait_scale must be in (0, 1], got {scale}")
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def wait_body(self: Any, env: Any) -> None:
        seconds = self._get_wait_seconds(env=env)
        if seconds > 0:
            env.program_state_event.wait(seconds * scale)  # set early when the execution is stopped

    # retrier_decl calls time.sleep through its module's `time`: give it one whose sleep is scaled
    scaled_time = SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * scale), time=time.time)
    with mock.patch.object(WaitFunction, "_eval_body", wait_body), \
            mock.patch.object(retrier_decl, "time", scaled_time):
        yield


class ExecutionEnds:
    """The executions that have ended in this process's moto, and a way to sleep until one does.

    Installed, it wraps moto's ``ExecutionWorker._execution_logic`` (the execution's whole run, on its own thread,
    or inline for StartSyncExecution): when that returns or raises, the execution's status and output are final
    (moto's ``terminated`` set them) and every waiter wakes. Waiters check what they wait for themselves, so an
    end this misses (an ARN it could not read) costs a recheck at most `recheck` seconds later, never a hang.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._ended: set[str] = set()
        self._count = 0

    @property
    def count(self) -> int:
        """How many executions have ended since installation (to wait for the next: :meth:`wait_for_any`)."""
        with self._changed:
            return self._count

    def ended(self, execution_arn: str) -> bool:
        with self._changed:
            return execution_arn in self._ended

    def wait_for(self, execution_arn: str, timeout: float) -> bool:
        """Sleep until `execution_arn` has ended or `timeout` seconds pass; whether it has ended."""
        with self._changed:
            return self._changed.wait_for(lambda: execution_arn in self._ended, max(0.0, timeout))

    def wait_for_any(self, seen: int, timeout: float) -> None:
        """Sleep until more than `seen` executions (a :attr:`count`) have ended, or `timeout` seconds pass."""
        with self._changed:
            self._changed.wait_for(lambda: self._count > seen, max(0.0, timeout))

    def _record(self, execution_arn: str | None) -> None:
        with self._changed:
            if execution_arn:
                self._ended.add(execution_arn)
            self._count += 1
            self._changed.notify_all()

    @contextmanager
    def installed(self) -> Iterator[ExecutionEnds]:
        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

        original: Callable[[Any], None] = ExecutionWorker._execution_logic
        record = self._record

        def execution_logic(worker: Any) -> None:
            try:
                original(worker)
            finally:
                details = getattr(getattr(worker, "_evaluation_details", None), "execution_details", None)
                record(getattr(details, "arn", None))

        with mock.patch.object(ExecutionWorker, "_execution_logic", execution_logic):
            yield self
