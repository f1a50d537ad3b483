"""SelectResources: match a few pages of the account's resources against the plan's selections (bounded work)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.plan_steps import SelectStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

RUNS = cold_start_deps().plan_runs


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(SelectStep, event)
    return dump(RUNS.select(step.run_id, step.token, step.call, step.next_seq))
