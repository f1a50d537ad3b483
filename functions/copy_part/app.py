"""CopyPart: one Distributed Map child of the Copy workflow - one manifest part (its blobs, then the part) or one
export file into the destination vault, server-side, locked and encrypted as the destination vault says; the
Copy workflow's part-range fan-out for blobs of more parts than one invocation copies (an event with `step`); and
the sealing of a part that waited for that fan-out (`step: seal`)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.copies import CopyPartStep, SealPartStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse
from coffer.entrypoints.large_object_steps import is_large_object_step, run_large_object_step

BATCHES = cold_start_deps().copy_batches


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    if isinstance(event, dict) and event.get("step") == "seal":
        seal = parse(SealPartStep, event)
        return dump(BATCHES.seal_part(seal.job_id, seal.key))
    if is_large_object_step(event):
        return run_large_object_step(BATCHES.large, event)
    step = parse(CopyPartStep, event)
    result = BATCHES.copy_part(step.job_id, step.key)
    metrics.add_metric(name="ObjectsCopied", unit="Count", value=result.copied)
    metrics.add_metric(name="ObjectsReused", unit="Count", value=result.reused)
    return dump(result)
