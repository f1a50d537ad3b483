"""StartBackupJob: the Backup workflow's first state. Creates the job once per idempotency token and starts it."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.entrypoints.events import StartBackupJobInvocation
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse, refusals_returned

JOBS = cold_start_deps().backup_jobs


@lambda_entry
@refusals_returned
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    invocation = parse(StartBackupJobInvocation, event)
    result = JOBS.start(invocation.event.detail, event_id=invocation.event.id, requested_at=invocation.event.time,
                        execution_arn=invocation.execution_arn)
    metrics.add_metric(name="DuplicateRequests" if result.duplicate else "BackupJobsStarted", unit="Count", value=1)
    return dump(result)
