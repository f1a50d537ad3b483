"""CompletePlanRun: the run's outcome in the catalog (also the Catch target, with the error)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.plan_steps import CompletePlanRunStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

RUNS = cold_start_deps().plan_runs


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(CompletePlanRunStep, event)
    result = RUNS.complete(step.run_id, step.error)
    metrics.add_metric(name="PlanRunsFailed" if result.state == "FAILED" else "PlanRunsCompleted", unit="Count",
                       value=1)
    return dump(result)
