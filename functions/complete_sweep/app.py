"""CompleteSweep: the sweep run's outcome and totals in the catalog (also the workflow's Catch target); then, once a
day after a sweep that ran, the schedule watch: plan rules whose schedule did not fire are told and counted."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.sweep import CompleteSweepStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, logger, metrics, parse

SWEEPER = cold_start_deps().sweeper
PLAN_RUNS = cold_start_deps().plan_runs


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(CompleteSweepStep, event)
    summary = SWEEPER.complete(step)
    if step.error is None:  # not again on the Catch's path: one watch a day
        try:
            PLAN_RUNS.silent_rules()
        except Exception:  # the sweep's recorded outcome stands; tomorrow's sweep watches again
            logger.exception("the schedule watch failed")
            metrics.add_metric(name="ScheduleWatchFailed", unit="Count", value=1)
    return dump(summary)
