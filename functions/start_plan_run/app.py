"""StartPlanRun: the PlanRun workflow's first state. Records the run once per rule and scheduled time."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.plan_steps import StartPlanRunStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

RUNS = cold_start_deps().plan_runs


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(StartPlanRunStep, event)
    result = RUNS.start(step.input, step.execution_arn)
    metrics.add_metric(name="PlanRunsStarted" if result.next == "select" else "PlanRunsSkipped", unit="Count", value=1)
    return dump(result)
