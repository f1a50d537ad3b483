"""CopyBatch: one Distributed Map child — copies one batch of objects into the vault, server-side."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.steps import BatchStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

BATCHES = cold_start_deps().object_batches


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(BatchStep, event)
    result = BATCHES.copy_batch(step.job_id, step.batch_key)
    metrics.add_metric(name="ObjectsCopied", unit="Count", value=result.copied)
    metrics.add_metric(name="ObjectsReused", unit="Count", value=result.reused)
    return dump(result)
