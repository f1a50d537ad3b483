"""StartCopyJob: the Copy workflow's first state. Creates the copy job once per idempotency token and starts it
(or, while the destination's copy quota is full, leaves it PENDING for the workflow to ask again)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.entrypoints.copy_events import StartCopyJobInvocation
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse, refusals_returned

JOBS = cold_start_deps().copy_jobs


@lambda_entry
@refusals_returned
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    invocation = parse(StartCopyJobInvocation, event)
    result = JOBS.start(invocation.event.detail, event_id=invocation.event.id, execution_arn=invocation.execution_arn,
                        requested_at=invocation.event.time)
    metrics.add_metric(name="DuplicateRequests" if result.duplicate else "CopyJobsStarted", unit="Count", value=1)
    return dump(result)
