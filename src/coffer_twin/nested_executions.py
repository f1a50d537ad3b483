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
helpers ``_to_boto_request``/``_from_boto_response`` are still in moto). A ``.sync`` task watches its
child by reading the child execution's status in moto's backend, whenever an execution ends (the twin's
:class:`.waits.ExecutionEnds`) and at the latest after 10 ms, doubling up to 0.25 s (moto: every 0.5 s),
and calls DescribeExecution once, when the child has ended, for AWS's result. AWS follows the child by
events and charges nothing for it; moto polled DescribeExecution, each call scanning every execution of the
child's state machine, which made a plan run over thousands of nested backups quadratic (93 % of a
3,000-resource run's API calls were these polls).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import Any
from unittest import mock

from .waits import ExecutionEnds

__all__ = ["SYNC_POLL_SECONDS", "nested_executions"]

_RUNNING = "RUNNING"

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
def nested_executions(ends: ExecutionEnds | None = None) -> Iterator[None]:
    """`ends`: wake a ``.sync`` task when an execution ends (else it only sleeps its backoff)."""
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

    def ended_first(build: Any) -> Any:
        """A ``.sync`` resolver that asks moto's backend, not the API, whether the child is still running."""

        def build_resolver(self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: Any,
                           state_credentials: Any) -> Any:
            child = _child_execution(resource_runtime_part, env.stack[-1]["ExecutionArn"])
            resolve = build(self, env, resource_runtime_part, normalised_parameters, state_credentials)

            def resolver() -> Any:
                return None if child.status == _RUNNING else resolve()

            return resolver

        return build_resolver

    original_sync = StateTaskServiceSfn._eval_sync

    def eval_sync(self: Any, env: Any, sync_resolver: Any, timeout_seconds: Any, callback_endpoint: Any,
                  heartbeat_endpoint: Any) -> Any:
        if sync_resolver is None:  # not a .sync pattern: moto's own loop
            return original_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint)
        delay = SYNC_POLL_SECONDS
        while env.is_running():
            seen = ends.count if ends is not None else 0  # before the check: an end after it wakes the wait
            result = sync_resolver()
            if result:
                return result
            if ends is not None:
                ends.wait_for_any(seen, delay)
            else:
                time.sleep(delay)
            delay = min(delay * 2, SYNC_POLL_MAX_SECONDS)
        return None

    with ExitStack() as patches:
        patches.enter_context(mock.patch.object(StateTaskServiceSfn, "_normalise_parameters", normalise_parameters))
        patches.enter_context(mock.patch.object(StateTaskServiceSfn, "_normalise_response", normalise_response))
        patches.enter_context(mock.patch.object(StateTaskServiceSfn, "_eval_sync", eval_sync))
        for builder in ("_build_sync_resolver", "_build_sync2_resolver"):
            patches.enter_context(mock.patch.object(
                StateTaskServiceSfn, builder, ended_first(getattr(StateTaskServiceSfn, builder))))
        yield


def _child_execution(runtime_part: Any, execution_arn: str) -> Any:
    """The child's execution object in moto's Step Functions backend (looked up once; its status is live)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return stepfunctions_parser_backends[runtime_part.account][runtime_part.region].describe_execution(execution_arn)
