"""ListBatches: writes the next pages of an S3 bucket's listing as batch files (bounded work per call)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.steps import ListBatchesStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

BATCHES = cold_start_deps().object_batches


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(ListBatchesStep, event)
    return dump(BATCHES.list_batches(step.job_id, step.token, step.next_seq))
