"""ListPitrBatches: a point-in-time S3 restore - the next pages of the base backup merged with the change
journal, written as batch files of what the bucket held at the restore time (bounded work per call)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.steps import ListBatchesStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

CONTINUOUS = cold_start_deps().continuous


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(ListBatchesStep, event)
    return dump(CONTINUOUS.list_batches(step.job_id, step.token, step.next_seq))
