"""MovePartToCold: one Distributed Map child of the ColdStorage workflow - tags one manifest part's blobs for the
vault's archive lifecycle rule (those no newer recovery point needs warm)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.cold_tier import ColdPartStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

TIERING = cold_start_deps().tiering


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(ColdPartStep, event)
    result = TIERING.move_part(step.recovery_point_id, step.part_key)
    metrics.add_metric(name="BlobsMovedToCold", unit="Count", value=result.moved)
    return dump(result)
