"""RenewLocks: one Distributed Map child of the Sweep workflow - extends the Object Lock of one renewal item of a
kept-forever recovery point (a manifest part and its blobs, or other objects under its prefix) to the item's
date; the child that completes the recovery point renews its manifest and records the new date in the catalog
(domain/lock_renewal.py). Only ever extends a lock: S3 refuses shortening one, and so does the vault adapter."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.sweep import SweepBatchStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

RENEWALS = cold_start_deps().lock_renewals


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(SweepBatchStep, event)
    result = RENEWALS.renew_batch(step.run_id, step.batch_key)
    metrics.add_metric(name="ObjectLocksExtended", unit="Count", value=result.extended)
    return dump(result)
