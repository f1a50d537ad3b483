"""StartRestoreJob: the Restore workflow's first state."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.entrypoints.events import StartRestoreJobInvocation
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse, refusals_returned

JOBS = cold_start_deps().restore_jobs


@lambda_entry
@refusals_returned
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    invocation = parse(StartRestoreJobInvocation, event)
    return dump(JOBS.start(invocation.event.detail, event_id=invocation.event.id,
                           execution_arn=invocation.execution_arn, requested_at=invocation.event.time))
