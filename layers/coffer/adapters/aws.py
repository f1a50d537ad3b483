"""boto3 clients with one retry policy (throttling and 5xx retried with exponential backoff and jitter), made once and
only when first used; and what AWS's error codes mean to Coffer, in one place.

The adapters own the SDK: they turn the codes they know into Coffer's exceptions (domain/errors.py), so services
branch on exception types only. An error a retry may cure is never translated: it reaches the function's runtime as
botocore raised it, and `transient` names it as the workflows' Retry lists it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from botocore.exceptions import ClientError, ConnectionClosedError, HTTPClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from coffer.domain.errors import AwsRefusal, ObjectArchived, ObjectRefused
from coffer.settings import MAX_COPY_CONCURRENCY

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config


@functools.cache
def retry_config() -> Config:
    """botocore's "standard" mode retries throttling, 5xx and timeouts with jittered exponential backoff.

    Made with the first client, as boto3 itself is imported then: importing botocore's client machinery
    (urllib3, http.client, endpoints) costs about 100 ms, and a handler calls AWS only once invoked."""
    from botocore.config import Config

    # the pool holds what CopyBatch's threads may use at once (botocore's default of 10 would drop and reopen)
    return Config(retries={"max_attempts": 8, "mode": "standard"}, connect_timeout=5, read_timeout=60,
                  max_pool_connections=MAX_COPY_CONCURRENCY)


#: Creates AWS does not make idempotent (no client token). When such a request went out and no answer came
#: back, botocore must not send it again (a second backup would be made and the first forgotten): the call
#: fails instead, the workflow retries the step, and the adapter finds what the first request made (adapters
#: look their backups up by name or tag before creating one).
NOT_RESENT_WHEN_UNANSWERED = {"dynamodb": ("CreateBackup",), "ec2": ("CreateSnapshot", "CopySnapshot", "CreateImage")}


def client(service: str, region: str | None = None, session: boto3.Session | None = None) -> Any:
    """A client of `service`, named at run time (each adapter types the client it is given, mypy-boto3's)."""
    if session is None:
        import boto3

        session = boto3.Session()
    maker: Any = session
    made = maker.client(service, region_name=region, config=retry_config())
    if service == "s3":
        made.meta.events.register("before-sign.s3.CopyObject", _name_copy_checksum)
    for operation in NOT_RESENT_WHEN_UNANSWERED.get(service, ()):
        # registered for the operation, so it runs before botocore's retry handler (registered for the service)
        made.meta.events.register(f"needs-retry.{service}.{operation}", _not_resent_when_unanswered)
    return made


class Clients:
    """The clients of one session and region, each made once, on first use: a function's cold start makes only the
    clients its own calls need (the composition root hands adapters `lazy` ones)."""

    def __init__(self, region: str | None, session: boto3.Session | None = None) -> None:
        self.region = region
        self._session = session
        self._made: dict[str, Any] = {}
        # one client made at a time: a boto3 Session is not thread-safe, and the twin runs invocations on threads
        self._lock = threading.RLock()

    @property
    def session(self) -> boto3.Session:
        """The session, made with the first client (boto3 is imported then, not at a handler's import)."""
        with self._lock:
            if self._session is None:
                import boto3

                self._session = boto3.Session()
            return self._session

    def __call__(self, service: str) -> Any:
        with self._lock:
            if service not in self._made:
                self._made[service] = client(service, self.region, self.session)
            return self._made[service]

    def lazy(self, service: str) -> Any:
        """A stand-in that makes the client on its first attribute access (an adapter may hold one unused)."""
        return _LazyClient(functools.partial(self, service))


class _LazyClient:
    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make

    def __getattr__(self, name: str) -> Any:  # only for names the stand-in itself lacks
        if name == "_make":  # not set yet (a copy or unpickling in progress): no recursion
            raise AttributeError(name)
        return getattr(self._make(), name)


def _not_resent_when_unanswered(caught_exception: Exception | None = None, **_: Any) -> None:
    if isinstance(caught_exception, (ReadTimeoutError, ConnectionClosedError)):
        raise caught_exception  # the request may have been carried out: do not repeat it blindly


def _name_copy_checksum(request: Any, **_: Any) -> None:
    """Repeat CopyObject's checksum algorithm in the SDK's header.

    A copy into an Object Lock bucket must prove integrity with Content-MD5 or a checksum algorithm;
    botocore sends CopyObject's as x-amz-checksum-algorithm only, which moto (and the older S3 rule)
    does not accept. S3 reads the same value from either header.
    """
    algorithm = request.headers.get("x-amz-checksum-algorithm")
    if algorithm and "x-amz-sdk-checksum-algorithm" not in request.headers:
        request.headers["x-amz-sdk-checksum-algorithm"] = algorithm


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_not_found(error: ClientError) -> bool:
    return error_code(error) in {"404", "NoSuchKey", "NotFound", "NoSuchBucket", "ResourceNotFoundException",
                                 "TableNotFoundException", "BackupNotFoundException"}


class TransientAwsError(Exception):
    """An AWS error that means "try again later" and outlasted botocore's retries. Handlers re-raise it under
    the error name the workflows' Retry lists (the subclass's name), so Step Functions tries the step again:
    unmodelled codes (S3's SlowDown, a HEAD's bare 503) would otherwise reach it as plain ``ClientError``."""


#: the names the workflows' Retry lists for "try again later" (statemachines/*.asl.json, checked by tests)
TRANSIENT_ERROR_NAMES = ("ThrottlingException", "ProvisionedThroughputExceededException", "SlowDown",
                         "RequestLimitExceeded", "ServiceUnavailable", "InternalError", "InternalServerError")
_TRANSIENT_CLASSES: dict[str, type[TransientAwsError]] = {
    name: type(name, (TransientAwsError,), {"__module__": __name__}) for name in TRANSIENT_ERROR_NAMES}
#: botocore's throttling codes (botocore.retries.standard) that the workflows do not list by name
_THROTTLING = {"Throttling", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
               "TransactionInProgressException", "BandwidthLimitExceeded", "RequestThrottled",
               "PriorRequestNotComplete", "EC2ThrottledException", "RequestTimeout", "RequestTimeoutException"}


def transient(error: BaseException) -> TransientAwsError | None:
    """The named transient error for `error`, or None when a retry would not help (or it is not AWS's)."""
    if isinstance(error, ClientError):
        code = error_code(error)
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _TRANSIENT_CLASSES:
            name = code
        elif code in _THROTTLING or status == 429:
            name = "ThrottlingException"
        elif status >= 500 or code in ("500", "502", "503", "504", "InternalFailure"):
            name = "ServiceUnavailable"
        else:
            return None
    elif isinstance(error, (HTTPClientError, BotocoreConnectionError)):
        name = "ServiceUnavailable"  # no answer (connection refused, read timeout ...) after every retry
    else:
        return None
    return _TRANSIENT_CLASSES[name](f"{type(error).__name__}: {error}")


# ---- AWS's refusals as Coffer's exceptions ------------------------------------------------------------------
P = ParamSpec("P")
R = TypeVar("R")

#: S3's refusals of one object that no retry cures ("403": a HEAD has no body, so botocore knows only the status;
#: KMS: the object's key may not be used)
OBJECT_REFUSALS = frozenset({"AccessDenied", "403", "KMS.DisabledException", "KMS.AccessDeniedException"})
#: what S3 answers a read of an archived version not restored yet (moto names it ObjectNotInActiveTierError)
ARCHIVED = frozenset({"InvalidObjectState", "ObjectNotInActiveTierError"})


def refuses_objects(method: Callable[P, R]) -> Callable[P, R]:
    """For an adapter method that touches one object of a batch: S3 refusing that object for good raises
    ObjectRefused (ObjectArchived for bytes in an archive tier) with S3's code; anything else passes unchanged."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ClientError as error:
            code = error_code(error)
            if code in ARCHIVED:
                raise ObjectArchived(code, str(error)) from error
            if code in OBJECT_REFUSALS:
                raise ObjectRefused(code, str(error)) from error
            raise

    return call


def refusals_named(method: Callable[P, R]) -> Callable[P, R]:
    """For an adapter method whose caller goes on past a refusal (the lifecycle sweeper skips one recovery point):
    AWS refusing for good raises AwsRefusal with AWS's code and words; what a retry may cure passes unchanged."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ClientError as error:
            if transient(error) is not None:
                raise
            raise AwsRefusal(error_code(error), str(error)) from error

    return call
