"""Step Functions' own waits, compressed on the twin: Wait states and Retry intervals sleep ``scale`` of their time.

A workflow on the twin waits for nothing real: moto's snapshots and backups finish at once, and an injected
fault is gone on the next attempt. Sleeping the ASL's seconds in full only makes tests and the demo slow (a
Retry with IntervalSeconds 1 and BackoffRate 2 sleeps 1+2+4+... s before a job may end FAILED). What runs is
unchanged: every Wait state is entered and left, every Retry attempt is made and counted in the history;
only how long the thread sleeps between them shrinks. ``scale=1.0`` keeps AWS's timing (bench uses it, so its
state transition counts of polls are those a real deployment sees with the same parameters).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any
from unittest import mock

__all__ = ["compressed_waits"]


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
