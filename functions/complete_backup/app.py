"""CompleteBackup: manifest into the vault under Object Lock, then the recovery point and the job's end (a native
backup found still running: how to wait for it, and nothing written)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.steps import JobStep, PollResult
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

JOBS = cold_start_deps().backup_jobs


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    result = JOBS.complete(parse(JobStep, event).job_id)
    if isinstance(result, PollResult):
        metrics.add_metric(name="BackupsStillRunningAtComplete", unit="Count", value=1)
        return dump(result)
    metrics.add_metric(name=f"BackupJobs{result.state.title()}", unit="Count", value=1)
    return dump(result)
