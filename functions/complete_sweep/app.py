"""CompleteSweep: the sweep run's outcome and totals in the catalog (also the workflow's Catch target); then, once a
day with the sweep, the schedule watch: plan rules whose schedule did not fire are told and counted."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.sweep import CompleteSweepStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

SWEEPER = cold_start_deps().sweeper
PLAN_RUNS = cold_start_deps().plan_runs


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    summary = SWEEPER.complete(parse(CompleteSweepStep, event))
    PLAN_RUNS.silent_rules()  # after the run's outcome is recorded: a notice that cannot go out fails only this
    return dump(summary)
