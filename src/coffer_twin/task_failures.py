"""Task failures named as Step Functions names them.

- moto's ``SendTaskFailure`` handler reads ``taskToken`` and ``error`` and drops ``cause``: a Catch then sees the
  error name alone (``$.error.Cause`` missing), and a job failed by a parked task's resumer (ResumeNative failing a
  backup whose snapshot failed) loses AWS's reason. The twin passes the cause on; the backend already accepts it.
- An ``aws-sdk:`` task whose call fails in the SDK client itself (a read timeout, a connection error: no service
  answer) is ``<Service>.SdkClientException`` on AWS, which a Retry can name (as ``Lambda.SdkClientException`` for
  Lambda tasks); moto ends it ``States.Runtime``, which no Retry may catch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

__all__ = ["sdk_client_errors_named", "task_failures_with_causes"]


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


@contextmanager
def sdk_client_errors_named() -> Iterator[None]:
    from botocore.exceptions import BotoCoreError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    original = StateTaskServiceAwsSdk._from_error

    def from_error(task: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, BotoCoreError):
            service = task._normalise_service_error_name(task.resource.api_name)
            return task._get_task_failure_event(env=env, error=f"{service}.SdkClientException", cause=str(ex))
        return original(task, env, ex)

    with mock.patch.object(StateTaskServiceAwsSdk, "_from_error", from_error):
        yield
