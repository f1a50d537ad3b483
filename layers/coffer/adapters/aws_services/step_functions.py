"""Step Functions as the functions drive it: starting a workflow (the sweeper's ColdStorage executions) and resuming
a parked task (a queued backup's WaitForTurn, adapters/catalog/turns.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code, refusals_named

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

#: SendTaskSuccess answers for a token nobody waits on any more (its task timed out, its execution ended)
_GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


class StepFunctionsWorkflows:
    def __init__(self, client: SFNClient) -> None:
        self._sfn = client

    @refusals_named
    def start(self, state_machine_arn: str, name: str, document: dict[str, Any]) -> str:
        try:
            return self._sfn.start_execution(stateMachineArn=state_machine_arn, name=name,
                                             input=json.dumps(document))["executionArn"]
        except ClientError as error:
            if error_code(error) != "ExecutionAlreadyExists":
                raise
        # started before: an execution name is used once per state machine, so it is the same one
        return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        try:
            self._sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as error:
            if error_code(error) in _GONE:
                return False
            raise
        return True

    def fail_task(self, task_token: str, error: str, cause: str) -> bool:
        try:
            self._sfn.send_task_failure(taskToken=task_token, error=error[:256], cause=cause[:32768])
        except ClientError as error_:
            if error_code(error_) in _GONE:
                return False
            raise
        return True

    def stop(self, execution_arn: str, error: str, cause: str) -> bool:
        """StopExecution; False when the execution had ended (Step Functions then changes nothing) or is unknown."""
        try:
            if self._sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING":
                return False
            self._sfn.stop_execution(executionArn=execution_arn, error=error[:256], cause=cause[:32768])
        except ClientError as error_:
            if error_code(error_) in ("ExecutionDoesNotExist", "InvalidArn"):
                return False
            raise
        return True
