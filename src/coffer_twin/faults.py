"""Fault injection on the twin: make any AWS call of any step fail once, N times, or for good.

Usage::

    with Twin.deploy(root) as twin, FaultInjector(backoff_scale=0.01) as faults:
        rule = faults.fail(FaultKind.THROTTLING, "s3", "CopyObject", caller="CopyBatchFunction", times=1)
        ... run a workflow ...
        assert rule.injected == 1

A :class:`Fault` matches attempts by botocore service id (``s3``, ``dynamodb``, ``lambda``, ``sfn`` ...),
operation name (``CopyObject``), caller — the logical id of the function in whose invocation the call
happens, :data:`~coffer_twin.calls.ENGINE` (Step Functions' own calls: Lambda invokes, ItemReader
listings, ResultWriter writes) or :data:`~coffer_twin.calls.DRIVER` (the test itself) — and optionally a
substring of the URL (a bucket, a function name). It lets ``skip`` matching attempts through, then fails the
next ``times`` ones (``None``: every one from then on).

The failure is produced where a real one would be: at botocore's ``before-send`` (see :mod:`.calls`),
inside botocore's retry loop, so the SDK's retries, the handler's error handling and the workflow's
``Retry``/``Catch`` all see it as they would see AWS's:

- ``THROTTLING``, ``SERVER_ERROR``, ``ACCESS_DENIED``: the service's own error response (status, code and
  body in the service's protocol: S3 ``503 SlowDown``, DynamoDB ``ThrottlingException``, Lambda ``429
  TooManyRequestsException`` ...); the request does not take effect. HEAD requests get no body, as from S3.
- ``CONNECTION``: ``EndpointConnectionError`` before the request is sent; it does not take effect.
- ``TIMEOUT``: ``ReadTimeoutError`` *after* moto carried the request out: the call took effect and the
  answer was lost, the case that makes a retried non-idempotent call run twice. EC2 calls made idempotent by a
  ClientToken (CreateVolume, RunInstances, CopyImage) are answered as AWS answers a repeat, which moto does not
  (:mod:`.client_tokens`, installed by every twin).

botocore sleeps between retries (up to 20 s for throttling); ``backoff_scale`` multiplies those sleeps
(e.g. 0.01 in tests). The retries themselves still happen and are counted. Step Functions ``Retry``
intervals are not scaled: the twin's engine really waits them.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from unittest import mock

from .calls import DRIVER, ENGINE, AwsCall, intercepting

__all__ = ["DRIVER", "ENGINE", "Fault", "FaultInjector", "FaultKind", "asl_task_functions"]

ANY = "*"


class FaultKind(StrEnum):
    THROTTLING = "throttling"
    SERVER_ERROR = "server-error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    ACCESS_DENIED = "access-denied"

    @property
    def transient(self) -> bool:
        """What a retry may cure (botocore retries all of these); access denied is not."""
        return self is not FaultKind.ACCESS_DENIED


@dataclass
class Fault:
    kind: FaultKind
    service: str = ANY
    operation: str = ANY
    caller: str = ANY
    url_contains: str | None = None
    times: int | None = 1
    """how many matching attempts fail; None = every one (for good)"""
    skip: int = 0
    """matching attempts let through before the first failure"""
    seen: int = 0
    injected: int = 0
    calls: list[AwsCall] = field(default_factory=list, repr=False)
    """the attempts that were failed"""

    def matches(self, call: AwsCall) -> bool:
        return (
            self.service in (ANY, call.service)
            and self.operation in (ANY, call.operation)
            and self.caller in (ANY, call.caller)
            and (self.url_contains is None or self.url_contains in call.url)
        )

    def _take(self) -> bool:
        """Count one matching attempt; True if this one fails."""
        self.seen += 1
        if self.seen <= self.skip:
            return False
        if self.times is not None and self.injected >= self.times:
            return False
        self.injected += 1
        return True

    def describe(self) -> str:
        times = "for good" if self.times is None else f"{self.times}x"
        where = f"{self.service}.{self.operation} in {self.caller}"
        return f"{self.kind} {times} on {where}" + (f" ({self.url_contains})" if self.url_contains else "")


# -- error responses in each protocol -------------------------------------------------------------------
_SERVICE_NAMES = {"sfn": "stepfunctions", "eventbridge": "events"}
_PROTOCOLS: dict[str, str] = {}

#: (status, code) per kind; per service where it differs from the protocol's usual answer
_ERRORS: dict[FaultKind, dict[str, tuple[int, str]]] = {
    FaultKind.THROTTLING: {"s3": (503, "SlowDown"), "lambda": (429, "TooManyRequestsException"),
                           "ec2": (503, "RequestLimitExceeded"), "query": (400, "Throttling"),
                           "*": (400, "ThrottlingException")},
    FaultKind.SERVER_ERROR: {"s3": (500, "InternalError"), "lambda": (500, "ServiceException"),
                             "ec2": (503, "Unavailable"), "query": (503, "ServiceUnavailable"),
                             "*": (500, "InternalServerError")},
    FaultKind.ACCESS_DENIED: {"s3": (403, "AccessDenied"), "ec2": (403, "UnauthorizedOperation"),
                              "query": (403, "AccessDenied"), "lambda": (403, "AccessDeniedException"),
                              "*": (400, "AccessDeniedException")},
}


def _protocol(service: str) -> str:
    if service not in _PROTOCOLS:
        import botocore.session

        try:
            model = botocore.session.get_session().get_service_model(_SERVICE_NAMES.get(service, service))
            _PROTOCOLS[service] = str(model.protocol)
        except Exception:  # an unknown service id: answer as most services do
            _PROTOCOLS[service] = "json"
    return _PROTOCOLS[service]


def error_response(call: AwsCall, kind: FaultKind, message: str | None = None) -> Any:
    """The botocore response AWS would send for this kind of failure of this call."""
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders
    from moto.core.botocore_stubber import MockRawResponse

    protocol = _protocol(call.service)
    table = _ERRORS[kind]
    status, code = table.get(call.service) or table.get(protocol) or table["*"]
    message = message or f"injected by the twin's fault harness ({kind})"
    request_id = str(uuid.uuid4())
    headers: dict[str, str] = {"x-amzn-RequestId": request_id, "x-amz-request-id": request_id}
    if protocol in ("json", "rest-json"):
        headers["Content-Type"] = "application/x-amz-json-1.0" if protocol == "json" else "application/json"
        headers["x-amzn-ErrorType"] = code
        body = json.dumps({"__type": code, "message": message})
    elif protocol == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>")
    elif protocol == "query":
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
                f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    else:  # rest-xml (S3)
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                f"<RequestId>{request_id}</RequestId></Error>")
    if call.method == "HEAD":
        body = ""  # S3 answers HEAD without a body: the SDK then only knows the status code
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    return AWSResponse(call.url, status, http_headers, MockRawResponse(body))


class FaultInjector:
    """Injects the faults added to it into every mocked AWS call while open (process-wide)."""

    def __init__(self, backoff_scale: float = 1.0) -> None:
        self.backoff_scale = backoff_scale
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._contexts: list[Any] = []

    def __enter__(self) -> FaultInjector:
        self._contexts = [intercepting(self._intercept)]
        if self.backoff_scale != 1.0:
            self._contexts.append(_scaled_botocore_backoff(self.backoff_scale))
        for context in self._contexts:
            context.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        for context in reversed(self._contexts):
            context.__exit__(*exc)
        self._contexts = []

    # -- rules --------------------------------------------------------------------------------------
    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail(self, kind: FaultKind, service: str = ANY, operation: str = ANY, *, caller: str = ANY,
             url_contains: str | None = None, times: int | None = 1, skip: int = 0) -> Fault:
        """Add a fault: the matching attempts after the first `skip` fail, `times` of them (None: all)."""
        return self.add(Fault(kind, service, operation, caller, url_contains, times, skip))

    def remove(self, fault: Fault) -> None:
        with self._lock:
            self._faults.remove(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    # -- the interceptor ----------------------------------------------------------------------------
    def _intercept(self, call: AwsCall, answer: Callable[[], Any]) -> Any:
        with self._lock:
            fault = next((f for f in self._faults if f.matches(call) and f._take()), None)
            if fault is not None:
                fault.calls.append(call)
        if fault is None:
            return None
        from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

        if fault.kind is FaultKind.CONNECTION:
            raise EndpointConnectionError(endpoint_url=call.url)
        if fault.kind is FaultKind.TIMEOUT:
            answer()  # the service did it; the answer is lost on the way back
            raise ReadTimeoutError(endpoint_url=call.url)
        return error_response(call, fault.kind)


def _scaled_botocore_backoff(scale: float) -> Any:
    from botocore.retries.standard import ExponentialBackoff

    original = ExponentialBackoff.delay_amount

    def delay_amount(backoff: Any, context: Any) -> float:
        return float(original(backoff, context)) * scale

    return mock.patch.object(ExponentialBackoff, "delay_amount", delay_amount)


# -- what can fail: the Task states of a workflow ----------------------------------------------------------
def asl_task_functions(definition: dict[str, Any]) -> dict[str, str]:
    """Task state name -> logical id of the Lambda function it invokes (``${<LogicalId>Arn}``), at every
    depth (Map ItemProcessor/Iterator, Parallel branches). Tasks of other services (e.g. a nested
    ``states:startExecution``) are not listed."""
    found: dict[str, str] = {}

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            if state.get("Type") == "Task":
                function = str(state.get("Parameters", {}).get("FunctionName", state.get("Resource", "")))
                if function.startswith("${") and function.endswith("Arn}"):
                    found[name] = function[2:-4]
            for nested in (state.get("ItemProcessor"), state.get("Iterator")):
                if nested:
                    walk(nested["States"])
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(definition["States"])
    return found

