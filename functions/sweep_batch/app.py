"""SweepBatch: one Distributed Map child - moves the due recovery points of one batch file to cold storage,
expires the due ones (finishing those left DELETING), records what it did and why."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.sweep import SweepBatchStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

SWEEPER = cold_start_deps().sweeper


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(SweepBatchStep, event)
    result = SWEEPER.sweep_batch(step.run_id, step.batch_key)
    metrics.add_metric(name="RecoveryPointsMovedToCold", unit="Count", value=result.moved)
    metrics.add_metric(name="RecoveryPointsExpired", unit="Count", value=result.expired)
    metrics.add_metric(name="RecoveryPointsSkipped", unit="Count", value=result.skipped)
    return dump(result)
