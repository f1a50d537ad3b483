"""ListSweepItems: writes the next pages of a lifecycle sweep's work as batch files (bounded work per call):
live recovery point ids of every vault, then (phase blobs) the vaults' blob versions."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.sweep import ListSweepItemsStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

SWEEPER = cold_start_deps().sweeper


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    return dump(SWEEPER.list_items(parse(ListSweepItemsStep, event)))
