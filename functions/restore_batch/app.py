"""RestoreBatch: one Distributed Map child — restores one manifest part's objects; and the Restore workflow's
part-range fan-out for objects of more parts than one invocation copies (an event with `step`)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.steps import BatchStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse
from coffer.entrypoints.large_object_steps import is_large_object_step, run_large_object_step

RESTORES = cold_start_deps().object_restores


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    if is_large_object_step(event):
        return run_large_object_step(RESTORES.large, event)
    step = parse(BatchStep, event)
    return dump(RESTORES.restore_part(step.job_id, step.batch_key))
