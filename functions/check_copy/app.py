"""CheckCopy: polls a native copy in the destination, or a DynamoDB copy's export (Wait + this, never a sleeping
Lambda)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.copies import CopyStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

JOBS = cold_start_deps().copy_jobs


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    return dump(JOBS.check(parse(CopyStep, event).job_id))
