"""CompleteSweep: the sweep run's outcome and totals in the catalog (also the workflow's Catch target)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.sweep import CompleteSweepStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

SWEEPER = cold_start_deps().sweeper


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    return dump(SWEEPER.complete(parse(CompleteSweepStep, event)))
