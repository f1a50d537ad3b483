"""CollectBlobs: one Distributed Map child - deletes the blob versions of one batch file that no legal hold and
no Object Lock protects any more (never with a governance bypass: S3 refuses anything still locked)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.sweep import SweepBatchStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

SWEEPER = cold_start_deps().sweeper


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(SweepBatchStep, event)
    result = SWEEPER.collect_blobs(step.run_id, step.batch_key)
    metrics.add_metric(name="BlobVersionsCollected", unit="Count", value=result.deleted)
    metrics.add_metric(name="BlobBytesFreed", unit="Bytes", value=result.bytes_freed)
    return dump(result)
