"""CheckRestore: polled by the Restore workflow until the new resource is ready."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.steps import JobStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse
from coffer.services.restore_jobs import RestoreJobs

JOBS = RestoreJobs(cold_start_deps())


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    return dump(JOBS.check(parse(JobStep, event).job_id))
