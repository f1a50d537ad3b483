"""SendTaskFailure's ``cause`` reaches the waiting task, as in Step Functions.

moto's ``SendTaskFailure`` handler reads ``taskToken`` and ``error`` and drops ``cause``: a Catch then sees the error
name alone (``$.error.Cause`` missing), and a job failed by a parked task's resumer (ResumeNative failing a backup
whose snapshot failed) loses AWS's reason. The twin passes the cause on; the backend already accepts it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

__all__ = ["task_failures_with_causes"]


@contextmanager
def task_failures_with_causes() -> Iterator[None]:
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(response: Any) -> Any:
        response.stepfunction_backend.send_task_failure(
            response._get_param("taskToken"), error=response._get_param("error"),
            cause=response._get_param("cause"))
        return EmptyResult()

    with mock.patch.object(StepFunctionResponse, "send_task_failure", send_task_failure):
        yield
