"""Step Functions as Coffer drives it from a function: start a workflow, resume a parked task
(adapters/aws_services/step_functions.py)."""

from __future__ import annotations

from typing import Any, Protocol


class Workflows(Protocol):
    def start(self, state_machine_arn: str, name: str, document: dict[str, Any]) -> str:
        """Start execution `name` (or find it: a name is used once); its ARN. AwsRefusal when Step Functions
        refuses it for good."""
        ...

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        """SendTaskSuccess for a parked task; False when nobody waits on that token any more."""
        ...

    def fail_task(self, task_token: str, error: str, cause: str) -> bool:
        """SendTaskFailure for a parked task (its Catch sees `error`); False when nobody waits on that token."""
        ...

    def stop(self, execution_arn: str, error: str, cause: str) -> bool:
        """StopExecution; False when it had ended already (or does not exist)."""
        ...
