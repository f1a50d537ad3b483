"""Route moto Lambda invocations to the real Python handlers, in-process.

With Docker off, moto's Lambda backend is ``LambdaSimpleBackend`` and its ``invoke`` is the one place
every invocation passes through: boto3 ``Invoke`` from tests or handlers, and Step Functions Lambda tasks
(moto's ASL interpreter calls Lambda through boto3 too). Patching it there means a workflow run on the
twin calls the same handler files that SAM deploys, with the environment CloudFormation resolved.

The handler's result is JSON-encoded; an exception becomes the Lambda runtime's error payload
(``errorType`` = exception class name) with ``X-Amz-Function-Error: Unhandled``, which moto's Step
Functions turns into an error named ``errorType`` for Retry/Catch, as AWS does.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, cast
from unittest import mock

from .environment import EnvironmentGate
from .packaging import FunctionSource

__all__ = ["FakeLambdaContext", "InvocationStats", "LambdaRouter", "running_function"]

Handler = Callable[[Any, Any], Any]

# What the Lambda service sets for every function, plus switches for Powertools' cloud-only features.
_RUNTIME_DEFAULTS = {
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon in-process
    "POWERTOOLS_METRICS_DISABLED": "true",  # no EMF blobs on stdout (powertools >= 3.x)
}


@dataclass
class FakeLambdaContext:
    """The attributes of the Lambda Python runtime's context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: float
    _deadline: float = field(default=0.0, repr=False)
    identity: Any = None
    client_context: Any = None

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class InvocationStats:
    """Per-function counts and payload sizes (bytes of the JSON request/response), for bench."""

    invocations: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    max_request_bytes: dict[str, int] = field(default_factory=dict)
    max_response_bytes: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, logical_id: str, request: int, response: int, failed: bool) -> None:
        with self._lock:
            self.invocations[logical_id] += 1
            if failed:
                self.errors[logical_id] += 1
            self.max_request_bytes[logical_id] = max(request, self.max_request_bytes.get(logical_id, 0))
            self.max_response_bytes[logical_id] = max(response, self.max_response_bytes.get(logical_id, 0))


_RUNNING = threading.local()


def running_function() -> str | None:
    """Logical id of the function whose handler runs in the calling thread (the innermost one), else None.

    Handlers run in the thread that invoked them (a Step Functions worker, a test, an async worker), so
    code under a handler — e.g. a botocore hook of :mod:`.faults` — can tell which function it serves.
    """
    stack: list[str] = getattr(_RUNNING, "stack", [])
    return stack[-1] if stack else None


@contextmanager
def handler_threads() -> Iterator[None]:
    """Threads a handler starts through a ThreadPoolExecutor (CopyBatch copies a few objects at once) serve the
    same function: their calls are recorded, faulted and attributed to it as the handler's own are."""
    from concurrent.futures import ThreadPoolExecutor

    original = ThreadPoolExecutor.submit

    def submit(pool: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        stack = list(getattr(_RUNNING, "stack", []))
        if not stack:
            return original(pool, fn, *args, **kwargs)

        def serve(*inner: Any, **named: Any) -> Any:
            saved = list(getattr(_RUNNING, "stack", []))
            _RUNNING.stack = list(stack)
            try:
                return fn(*inner, **named)
            finally:
                _RUNNING.stack = saved

        return original(pool, serve, *args, **kwargs)

    with mock.patch.object(ThreadPoolExecutor, "submit", submit):
        yield


@contextmanager
def _running(logical_id: str) -> Iterator[None]:
    stack: list[str] = _RUNNING.__dict__.setdefault("stack", [])
    stack.append(logical_id)
    try:
        yield
    finally:
        stack.pop()


class HandlerLoadError(Exception):
    """The handler file or function could not be loaded (the runtime's Runtime.* init errors)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _json_default(value: Any) -> Any:
    # The Lambda Python runtime serialises Decimal (e.g. from DynamoDB) as a number.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


@contextmanager
def _first_on_path(directory: Path | None) -> Iterator[None]:
    """Like the Lambda runtime, let a handler import modules next to it while it is imported."""
    if directory is None:
        yield
        return
    entry = str(directory)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with suppress(ValueError):
            sys.path.remove(entry)


class LambdaRouter:
    """Runs the handlers of one deployed twin; install with :meth:`installed`."""

    def __init__(self, region: str, env_overrides: Mapping[str, str] | None = None) -> None:
        self._region = region
        self._env_overrides = dict(env_overrides or {})
        self._token = uuid.uuid4().hex[:8]
        self._sources: dict[tuple[str, str, str], FunctionSource] = {}
        self._handlers: dict[str, Handler] = {}
        self._import_lock = threading.RLock()  # reentrant: a handler may invoke another while importing
        self._background: list[threading.Thread] = []
        self._gate = EnvironmentGate()
        self.stats = InvocationStats()

    # -- wiring -----------------------------------------------------------------------------------
    def register(self, account_id: str, function_name: str, source: FunctionSource) -> None:
        """Route ``function_name`` (physical name in moto) to ``source``'s handler."""
        self._sources[(account_id, self._region, function_name)] = source

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Patch ``LambdaSimpleBackend.invoke`` for the duration; other functions keep moto's behaviour."""
        from moto.awslambda_simple.models import LambdaSimpleBackend

        original = LambdaSimpleBackend.invoke
        router = self

        def invoke(
            backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
        ) -> str | bytes | None:
            function = backend.get_function(function_name, qualifier)
            source = router._sources.get((backend.account_id, backend.region_name, function.function_name))
            if source is None or source.handler_file is None:
                return original(backend, function_name, qualifier, body, headers, response_headers)
            return router.invoke(function, source, body, headers, response_headers)

        with mock.patch.object(LambdaSimpleBackend, "invoke", invoke):
            try:
                yield
            finally:
                self._forget_modules()
                self._gate.close()

    def join_background(self, timeout: float) -> None:
        """Wait (bounded) for asynchronous invocations still running, before moto stops mocking."""
        deadline = time.monotonic() + timeout
        for worker in list(self._background):
            worker.join(max(0.0, deadline - time.monotonic()))

    # -- invocation -------------------------------------------------------------------------------
    def invoke(self, function: Any, source: FunctionSource, body: Any, headers: Any, response_headers: Any) -> bytes:
        """Run the handler for one moto ``Invoke``; returns the response payload bytes."""
        invocation_type = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        raw = body.decode("utf-8") if isinstance(body, bytes) else (body or "")
        event = json.loads(raw) if raw.strip() else {}
        if invocation_type == "Event":
            # Asynchronous: Lambda accepts and runs it later; the caller sees 202 and no payload.
            worker = threading.Thread(target=self._run, args=(function, source, event, len(raw), {}), daemon=True)
            self._background.append(worker)
            worker.start()
            return b""
        return self._run(function, source, event, len(raw), response_headers)

    def _run(
        self, function: Any, source: FunctionSource, event: Any, request_bytes: int, response_headers: Any
    ) -> bytes:
        context = FakeLambdaContext(
            function_name=function.function_name,
            function_version=str(getattr(function, "version", "$LATEST")),
            invoked_function_arn=function.function_arn,
            memory_limit_in_mb=int(function.memory_size or 128),
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{function.function_name}",
            log_stream_name=f"twin/{self._token}",
            timeout_seconds=float(function.timeout or 3),
        )
        with self._gate.applied(self._environment(function)), _running(source.logical_id):
            payload, failed = self._call(source, event, context)
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        encoded = payload.encode("utf-8")
        self.stats.record(source.logical_id, request_bytes, len(encoded), failed)
        return encoded

    def _call(self, source: FunctionSource, event: Any, context: FakeLambdaContext) -> tuple[str, bool]:
        """(payload, failed) as the Lambda Python runtime would produce them."""
        try:
            result = self._handler(source)(event, context)
        except HandlerLoadError as exc:
            return self._error_payload(exc.error_type, str(exc), exc, context), True
        except Exception as exc:
            return self._error_payload(type(exc).__name__, str(exc), exc, context), True
        try:
            return json.dumps(result, default=_json_default), False
        except (TypeError, ValueError) as exc:
            message = f"Unable to marshal response: {exc}"
            return self._error_payload("Runtime.MarshalError", message, exc, context), True

    def _environment(self, function: Any) -> dict[str, str]:
        env = {str(k): str(v) for k, v in (function.environment_vars or {}).items()}
        return {
            **_RUNTIME_DEFAULTS,
            **env,
            "AWS_REGION": self._region,
            "AWS_DEFAULT_REGION": self._region,
            **self._env_overrides,
        }

    @staticmethod
    def _error_payload(error_type: str, message: str, exc: BaseException, context: FakeLambdaContext) -> str:
        frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename != __file__]
        stack = traceback.format_list(frames)
        return json.dumps(
            {
                "errorMessage": message,
                "errorType": error_type,
                "requestId": context.aws_request_id,
                "stackTrace": stack,
            }
        )

    # -- handler modules --------------------------------------------------------------------------
    def _handler(self, source: FunctionSource) -> Handler:
        """Import the handler file once per twin, under a module name no other twin or function uses."""
        with self._import_lock:
            cached = self._handlers.get(source.logical_id)
            if cached is not None:
                return cached
            path, attribute = source.handler_file, source.handler_function
            if path is None or attribute is None:
                raise HandlerLoadError("Runtime.ImportModuleError", f"No handler file for {source.handler!r}")
            module = self._import(self._module_name(source), path, source.code_dir)
            handler = getattr(module, attribute, None)
            if not callable(handler):
                raise HandlerLoadError("Runtime.HandlerNotFound", f"Handler {source.handler!r} missing on module")
            self._handlers[source.logical_id] = handler
            return cast(Handler, handler)

    def _module_name(self, source: FunctionSource) -> str:
        return f"_coffer_twin_{self._token}_{source.logical_id}"

    @staticmethod
    def _import(name: str, path: Path, code_dir: Path | None) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise HandlerLoadError("Runtime.ImportModuleError", f"Cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses/pydantic look their module up while the file runs
        try:
            with _first_on_path(code_dir):
                spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise HandlerLoadError("Runtime.ImportModuleError", f"Unable to import module {path}: {exc}") from exc
        return module

    def cold_start(self) -> None:
        """The next invocation of every function starts cold: its handler file is imported again, so what a
        warm container keeps (clients, a copy destination resolved once) is made again, AWS calls included."""
        with self._import_lock:
            self._forget_modules()

    def _forget_modules(self) -> None:
        prefix = f"_coffer_twin_{self._token}_"
        for name in [name for name in sys.modules if name.startswith(prefix)]:
            del sys.modules[name]
        self._handlers.clear()
