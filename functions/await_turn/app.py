"""AwaitTurn: a queued backup's WaitForTurn task (lambda:invoke.waitForTaskToken) - park until woken, never poll."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.steps import AwaitTurnStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

JOBS = cold_start_deps().backup_jobs


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(AwaitTurnStep, event)
    return dump(JOBS.await_turn(step.job_id, step.waiting_for, step.task_token))
