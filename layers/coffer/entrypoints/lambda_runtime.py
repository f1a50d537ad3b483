"""What every handler shares: Powertools Logger/Tracer/Metrics, the composition root, and event parsing.

Handlers build their service once, at cold start, from Settings.from_env() (entrypoints/bootstrap.py): a
misconfigured function fails at once, not in the middle of a backup. What costs time and is not needed to build
it waits for the first invocation: the Tracer (entrypoints/tracing.py) and the SDK's clients (made on first use).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from coffer.adapters import aws
from coffer.domain.clock import Clock, SystemClock
from coffer.domain.errors import (
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    RecoveryPointDeleting,
    RecoveryPointInUse,
    ResourceBusy,
    RetentionOutsideVaultLock,
    UnsupportedOperation,
    UnsupportedResource,
)
from coffer.domain.input_rules.text import one_line
from coffer.domain.job_ids import job_id_for
from coffer.domain.steps import Refusal, StepError
from coffer.domain.validation import parse_model
from coffer.entrypoints.bootstrap import Root, bootstrap
from coffer.entrypoints.tracing import FirstInvocationTracer
from coffer.settings import Settings

logger = Logger()
tracer = FirstInvocationTracer()
# The namespace is the template's (POWERTOOLS_METRICS_NAMESPACE) with its value as fallback: on the twin this
# module is imported once per process, possibly outside any function's environment, and a Metrics without a
# namespace fails the invocation that adds a metric's 100th value (Powertools flushes then, even when
# POWERTOOLS_METRICS_DISABLED kept every earlier flush from clearing it).
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Coffer")

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[dict[str, Any], LambdaContext], Any]


class RuntimeClock:
    """The clock every handler reads: the wall clock in Lambda; the embedded twin swaps in its own
    (simulated) clock here, so a simulated week runs in seconds with the real handlers."""

    def __init__(self) -> None:
        self.source: Clock = SystemClock()

    def now(self) -> datetime:
        return self.source.now()


RUNTIME_CLOCK = RuntimeClock()


def cold_start_deps() -> Root:
    """The composition root of this function: its service is `cold_start_deps().<service>`."""
    return bootstrap(Settings.from_env(), clock=RUNTIME_CLOCK, metrics_namespace=metrics.namespace)


def parse(model: type[M], event: Any) -> M:
    """The event as `model`, or InvalidInput naming each bad field (Step Functions sees 'InvalidInput')."""
    return parse_model(model, event)


def lambda_entry(handler: Handler) -> Handler:
    """Logger with the Lambda context, Tracer around the call, Metrics flushed after it. Errors propagate:
    Step Functions' Retry and Catch must see them (a transient AWS error under the name its Retry lists)."""
    wrapped = logger.inject_lambda_context(clear_state=True)(_correlated(_transient_errors_named(handler)))
    wrapped = tracer.capture_lambda_handler(wrapped)
    return metrics.log_metrics(wrapped)


def correlation_id(event: Any) -> str | None:
    """The job an invocation works on, for every log line it writes: a step's `job_id`, the job a start request
    makes (its id derives from the idempotency token, else the event's id, as the start services derive it), or a
    job event's job."""
    if not isinstance(event, dict):
        return None
    if isinstance(event.get("job_id"), str):
        return str(event["job_id"])
    request = event.get("event")
    if isinstance(request, dict) and isinstance(request.get("detail"), dict):
        token = request["detail"].get("IdempotencyToken") or request.get("id")
        return job_id_for(str(token)) if token else None
    detail = event.get("detail")
    if isinstance(detail, dict):
        for key in ("backupJobId", "copyJobId", "restoreJobId"):
            if isinstance(detail.get(key), str):
                return str(detail[key])
    return None


def _correlated(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def call(event: dict[str, Any], context: LambdaContext) -> Any:
        logger.set_correlation_id(correlation_id(event))
        return handler(event, context)

    return call


def _transient_errors_named(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def call(event: dict[str, Any], context: LambdaContext) -> Any:
        try:
            return handler(event, context)
        except Exception as error:
            named = aws.transient(error)
            if named is None:
                raise
            raise named from error

    return call


#: what a start step refuses a request with: the request itself is wrong (or names what does not exist, or what is
#: busy); retrying cannot help and nothing has to be undone
REFUSALS = (InvalidInput, UnsupportedResource, UnsupportedOperation, IdempotencyConflict, ResourceBusy, NotFound,
            RecoveryPointDeleting, RecoveryPointInUse, RetentionOutsideVaultLock)


def refusals_returned(handler: Handler) -> Handler:
    """A start handler's refusal as its result (Refusal: next = "refused", the error and a one-line cause), not as
    a raised error: Lambda's error payload carries a stack trace, which Step Functions would copy into the
    execution's history. The workflow routes "refused" through the step that ends a job this execution may have
    made (so a refusal after a write still ends that job) to a Fail state whose cause is the line. Any other error
    propagates, for the workflow's Retry and Catch."""

    @functools.wraps(handler)
    def call(event: dict[str, Any], context: LambdaContext) -> Any:
        try:
            return handler(event, context)
        except REFUSALS as error:
            kind = type(error).__name__
            message = "; ".join(error.problems) if isinstance(error, InvalidInput) else str(error)
            cause = one_line(f"{kind}: {message}")
            logger.info("request refused", extra={"error": kind, "cause": cause})
            return dump(Refusal(error=StepError(Error=kind, Cause=cause)))

    return call


def dump(model: BaseModel | None) -> dict[str, Any] | None:
    return None if model is None else model.model_dump(mode="json")
