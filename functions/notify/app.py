"""Notify: the notification rule's target. Tells the stack's topic (or a vault's own) about a job event its vault's
settings ask for - by default what went wrong - and about a Verify run that did not succeed."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics

NOTIFIER = cold_start_deps().notifier


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    result = NOTIFIER.notify(event)
    # every invocation counts itself (a flush never finds nothing to publish): notices sent, or events told to nobody
    metrics.add_metric(name="NotificationsSent" if result.sent_to else "NotificationsNotNeeded", unit="Count",
                       value=1)
    return dump(result)
