"""Nested workflows on moto: ``arn:aws:states:::states:startExecution(.sync|.sync:2)`` made to work as in AWS.

moto 5.2.5's interpreter has the Step Functions integration (``StateTaskServiceSfn``), but the request and
response normalisation it inherits was left empty when the interpreter was taken from LocalStack:

- the task's ``Parameters`` (``StateMachineArn``, ``Input``, ``Name``, as AWS documents them) reach boto3
  unchanged, and boto3 wants ``stateMachineArn``... - every such task failed with ``States.Runtime``
  ``'StateMachineArn'``;
- the responses stay in boto3's casing (``executionArn``), so the ``.sync`` resolvers, which read
  ``ExecutionArn``, could not have found the child even had it started, and a task's result would not have
  AWS's fields (``ExecutionArn``, ``Output``, ``Status``, ...).

The twin puts the normalisation back for this integration only, from botocore's own service model (the
helpers ``_to_boto_request``/``_from_boto_response`` are still in moto). A ``.sync`` task polls its child
from 10 ms, doubling up to 0.25 s (moto: every 0.5 s; AWS follows the child by events and charges nothing
for it), so a plan run of many short nested backups neither sleeps its time away nor spends it polling.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import Any
from unittest import mock

__all__ = ["SYNC_POLL_SECONDS", "nested_executions"]

#: how often a ``.sync`` task checks its child execution on the twin: first, and at most
SYNC_POLL_SECONDS = 0.01
SYNC_POLL_MAX_SECONDS = 0.25


@cache
def _operation(action: str) -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("stepfunctions")
    name = "".join(part.capitalize() for part in action.split("_"))
    return model.operation_model(name)


@contextmanager
def nested_executions() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    original_parameters = StateTaskServiceSfn._normalise_parameters

    def normalise_parameters(self: Any, parameters: dict[str, Any], boto_service_name: str | None = None,
                             service_action_name: str | None = None) -> None:
        original_parameters(self, parameters, boto_service_name, service_action_name)
        action = self._get_boto_service_action(service_action_name)
        self._to_boto_request(parameters, _operation(action).input_shape)

    def normalise_response(self: Any, response: Any, boto_service_name: str | None = None,
                           service_action_name: str | None = None) -> None:
        action = self._get_boto_service_action(service_action_name)
        self._from_boto_response(response, _operation(action).output_shape)

    original_sync = StateTaskServiceSfn._eval_sync

    def eval_sync(self: Any, env: Any, sync_resolver: Any, timeout_seconds: Any, callback_endpoint: Any,
                  heartbeat_endpoint: Any) -> Any:
        if sync_resolver is None:  # not a .sync pattern: moto's own loop
            return original_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint)
        delay = SYNC_POLL_SECONDS
        while env.is_running():
            result = sync_resolver()
            if result:
                return result
            time.sleep(delay)
            delay = min(delay * 2, SYNC_POLL_MAX_SECONDS)
        return None

    with ExitStack() as patches:
        patches.enter_context(mock.patch.object(StateTaskServiceSfn, "_normalise_parameters", normalise_parameters))
        patches.enter_context(mock.patch.object(StateTaskServiceSfn, "_normalise_response", normalise_response))
        patches.enter_context(mock.patch.object(StateTaskServiceSfn, "_eval_sync", eval_sync))
        yield
