"""SettlePage: each resource's outcome once its backup ended; a joiner lengthens the backup it joined."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.plan_steps import SettleStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

RUNS = cold_start_deps().plan_runs


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(SettleStep, event)
    return dump(RUNS.settle(step.run_id, step.seq))
