"""CheckBackup: polled by the workflow (Wait + this), never by a sleeping Lambda."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.steps import JobStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

JOBS = cold_start_deps().backup_jobs


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    return dump(JOBS.check(parse(JobStep, event).job_id))
