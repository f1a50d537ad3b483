"""ResumeNative: AWS's own event that a snapshot ended (EventBridge rule) resumes the backup parked on it, once its
Describe confirms it (services/native_waits.py)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.native_waits import CompletionEvent
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

WAITS = cold_start_deps().native_waits


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    result = WAITS.on_event(parse(CompletionEvent, event))
    metrics.add_metric(name=f"NativeEvents{result.outcome.title()}", unit="Count", value=1)
    return dump(result)
