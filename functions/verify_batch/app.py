"""VerifyBatch: one Distributed Map child - checks one file of work items against the manifests' SHA-256."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.verify import VerifyBatchStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

VERIFIER = cold_start_deps().verifier


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(VerifyBatchStep, event)
    result = VERIFIER.verify_batch(step.run_id, step.batch_key)
    metrics.add_metric(name="VaultObjectsVerified", unit="Count", value=result.objects_checked)
    metrics.add_metric(name="VaultProblemsFound", unit="Count", value=result.problems)
    return dump(result)
