"""ClaimResources: claim each resource of one page for the run's window slot; return the backups to start."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.plan_steps import PageStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

RUNS = cold_start_deps().plan_runs


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(PageStep, event)
    result = RUNS.claim(step.run_id, step.page_key)
    metrics.add_metric(name="PlanBackupsStarted", unit="Count", value=len(result.backups))
    metrics.add_metric(name="PlanWindowsJoined", unit="Count", value=result.joined)
    return dump(result)
