"""Every AWS call made while the twin is open, seen at one seam: moto's botocore ``before-send`` stubber.

moto answers a boto3 request from its ``BotocoreStubber`` (one instance, registered as a ``before-send``
handler on every botocore client created after moto was imported). the twin wraps its ``__call__``, so
each *attempt* of every call — by handlers, by moto's Step Functions engine, by tests — passes through the
interceptors and observers installed with :func:`intercepting` and :func:`observing`, inside botocore's
retry loop (an interceptor that answers with an error response or raises a connection error is seen by
botocore's retry handler like a real one).

Each attempt is described by an :class:`AwsCall`: the botocore service id and operation, and the
*caller*: the logical id of the function whose handler runs in that thread (see
:func:`coffer_twin.lambda_router.running_function`), :data:`ENGINE` for calls Step Functions makes on its
own (Lambda invokes, ``ItemReader`` listings, ``ResultWriter`` writes: moto signs them with the access
key ``ak``), or :data:`DRIVER` for everything else (tests, the demo, bench).

:class:`CallRecorder` keeps the calls (with the bytes of each request and response body, the S3 bucket
and key, and the DynamoDB tables) for bench and for deriving a fault matrix from a clean run.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import unquote, urlsplit

from .lambda_router import running_function

__all__ = ["DRIVER", "ENGINE", "AwsCall", "CallRecorder", "intercepting", "observing"]

ENGINE = "(engine)"
DRIVER = "(driver)"

#: An interceptor sees each attempt before moto answers it. It returns None to let moto answer, or a
#: botocore ``AWSResponse`` to answer in moto's place, or raises (e.g. a botocore connection error).
#: ``answer()`` has moto answer first (the request then takes effect) and returns moto's response.
Interceptor = Callable[["AwsCall", Callable[[], Any]], Any]
#: An observer is told about each attempt once it is over (status, sizes and error are filled in).
Observer = Callable[["AwsCall"], None]

_ENGINE_ACCESS_KEY = "ak"  # moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for


@dataclass
class AwsCall:
    """One attempt of one AWS API call."""

    service: str
    """botocore service id, hyphenated: ``s3``, ``dynamodb``, ``lambda``, ``sfn``, ``eventbridge`` ..."""
    operation: str
    caller: str
    """function logical id, :data:`ENGINE` or :data:`DRIVER`"""
    method: str
    url: str
    request_bytes: int
    headers: dict[str, str] = field(repr=False, default_factory=dict)
    body: bytes = field(repr=False, default=b"")
    status: int | None = None
    response_bytes: int = 0
    error: str | None = None
    """the exception an interceptor raised instead of an answer (e.g. ``ReadTimeoutError``)"""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """when the attempt was made (wall clock, as the handlers' SystemClock)"""

    @property
    def bucket_and_key(self) -> tuple[str | None, str | None]:
        """S3 only: (bucket, key) from a virtual-hosted or path-style URL."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        path = unquote(parts.path).lstrip("/")
        if ".s3." in host or ".s3-" in host:  # virtual-hosted style: <bucket>.s3[.<region>].amazonaws.com
            return host.split(".s3", 1)[0], path or None
        bucket, _, key = path.partition("/")
        return bucket or None, key or None

    @property
    def tables(self) -> tuple[str, ...]:
        """DynamoDB only: the tables a request names (TableName, RequestItems, TransactItems)."""
        if self.service != "dynamodb" or not self.body:
            return ()
        try:
            document = json.loads(self.body)
        except ValueError:
            return ()
        names: list[str] = []
        if isinstance(document.get("TableName"), str):
            names.append(document["TableName"])
        names.extend(document.get("RequestItems", {}) or {})
        for item in document.get("TransactItems", []) or []:
            for action in item.values():
                if isinstance(action, dict) and isinstance(action.get("TableName"), str):
                    names.append(action["TableName"])
        return tuple(dict.fromkeys(names))


def _caller(headers: dict[str, str]) -> str:
    function = running_function()
    if function is not None:
        return function
    authorization = headers.get("Authorization", "")
    if f"Credential={_ENGINE_ACCESS_KEY}/" in authorization:
        return ENGINE
    return DRIVER


def _body_bytes(body: Any) -> bytes:
    """The request body when botocore holds it in memory (JSON and query protocols); streamed uploads
    (file-like, possibly aws-chunked with a trailing checksum) are left alone: moto must read them."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return b""


def _request_size(headers: dict[str, str], body: bytes) -> int:
    for name in ("x-amz-decoded-content-length", "Content-Length"):
        for key, value in headers.items():
            if key.lower() == name.lower() and value.isdigit():
                return int(value)
    return len(body)


def _response_bytes(response: Any) -> int:
    raw = getattr(response, "raw", None)
    getbuffer = getattr(raw, "getbuffer", None)
    return len(getbuffer()) if getbuffer is not None else 0


class _Tap:
    """The one patch of moto's stubber; interceptors and observers come and go while it stays installed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._interceptors: list[Interceptor] = []
        self._observers: list[Observer] = []
        self._patch: Any = None

    def add(self, interceptor: Interceptor | None = None, observer: Observer | None = None) -> None:
        with self._lock:
            if self._patch is None:
                self._install()
            if interceptor is not None:
                self._interceptors.append(interceptor)
            if observer is not None:
                self._observers.append(observer)

    def remove(self, interceptor: Interceptor | None = None, observer: Observer | None = None) -> None:
        with self._lock:
            if interceptor is not None:
                self._interceptors.remove(interceptor)
            if observer is not None:
                self._observers.remove(observer)
            if not self._interceptors and not self._observers and self._patch is not None:
                self._patch.stop()
                self._patch = None

    def _install(self) -> None:
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.__call__
        tap = self

        def stubber_call(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            if not stubber.enabled:
                return original(stubber, event_name, request, **kwargs)
            return tap._dispatch(lambda: original(stubber, event_name, request, **kwargs), event_name, request)

        self._patch = mock.patch.object(BotocoreStubber, "__call__", stubber_call)
        self._patch.start()

    def _dispatch(self, answer: Callable[[], Any], event_name: str, request: Any) -> Any:
        _, service, operation = [*event_name.split(".", 2), "", ""][:3]
        headers = {str(k): v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()}
        body = _body_bytes(request.body)
        call = AwsCall(service=service, operation=operation, caller=_caller(headers), method=request.method,
                       url=request.url, request_bytes=_request_size(headers, body), headers=headers, body=body)
        answered: list[Any] = []

        def answer_once() -> Any:
            if not answered:
                answered.append(answer())
                call.status = getattr(answered[0], "status_code", None)
                call.response_bytes = _response_bytes(answered[0])
            return answered[0]

        with self._lock:
            interceptors, observers = list(self._interceptors), list(self._observers)
        response: Any = None
        try:
            for interceptor in interceptors:
                response = interceptor(call, answer_once)
                if response is not None:
                    break
            else:
                response = answer_once()
        except Exception as error:
            call.error = type(error).__name__
            raise
        finally:
            if response is not None:
                call.status = getattr(response, "status_code", None)
                call.response_bytes = _response_bytes(response)
            for observer in observers:
                observer(call)
        return response


_TAP = _Tap()


@contextmanager
def intercepting(interceptor: Interceptor) -> Iterator[None]:
    """Let ``interceptor`` see (and possibly answer) every attempt of every mocked AWS call for the duration."""
    _TAP.add(interceptor=interceptor)
    try:
        yield
    finally:
        _TAP.remove(interceptor=interceptor)


@contextmanager
def observing(observer: Observer) -> Iterator[None]:
    """Tell ``observer`` about every attempt of every mocked AWS call, once it is over, for the duration."""
    _TAP.add(observer=observer)
    try:
        yield
    finally:
        _TAP.remove(observer=observer)


class CallRecorder:
    """Records every attempt while open: ``with CallRecorder() as calls: ...; calls.count(caller=...)``."""

    def __init__(self, keep_bodies: bool = False) -> None:
        self.calls: list[AwsCall] = []
        self._keep_bodies = keep_bodies
        self._lock = threading.Lock()
        self._context: Any = None

    def __enter__(self) -> CallRecorder:
        self._context = observing(self._record)
        self._context.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)

    def _record(self, call: AwsCall) -> None:
        if not self._keep_bodies and call.service != "dynamodb":
            call.body = b""
        with self._lock:
            self.calls.append(call)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def snapshot(self) -> list[AwsCall]:
        with self._lock:
            return list(self.calls)

    def select(self, *, caller: str | None = None, service: str | None = None,
               operation: str | None = None) -> list[AwsCall]:
        return [c for c in self.snapshot()
                if (caller is None or c.caller == caller) and (service is None or c.service == service)
                and (operation is None or c.operation == operation)]

    def count(self, **criteria: str) -> int:
        return len(self.select(**criteria))

    def operations(self) -> Counter[tuple[str, str, str]]:
        """(caller, service, operation) -> attempts."""
        return Counter((c.caller, c.service, c.operation) for c in self.snapshot())
