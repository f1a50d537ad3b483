"""CompleteRestore: checks the restored resource against the manifest, then ends the job COMPLETED."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.steps import JobStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

JOBS = cold_start_deps().restore_jobs


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    return dump(JOBS.complete(parse(JobStep, event).job_id))
