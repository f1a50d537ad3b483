"""FailJob: every workflow's Catch. Ends the job with its cause (FAILED, or ABORTED/EXPIRED by window)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.steps import FailStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

FAILURES = cold_start_deps().job_failures


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    result = FAILURES.fail(parse(FailStep, event))
    metrics.add_metric(name="JobsFailed", unit="Count", value=1)
    return dump(result)
