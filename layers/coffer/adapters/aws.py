"""boto3 clients with one retry policy: throttling and 5xx are retried with exponential backoff and jitter."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config


@functools.cache
def retry_config() -> Config:
    """botocore's "standard" mode retries throttling, 5xx and timeouts with jittered exponential backoff.

    Made with the first client, as boto3 itself is imported then: importing botocore's client machinery
    (urllib3, http.client, endpoints) costs about 100 ms, and a handler calls AWS only once invoked."""
    from botocore.config import Config

    return Config(retries={"max_attempts": 8, "mode": "standard"}, connect_timeout=5, read_timeout=60)


#: Creates AWS does not make idempotent (no client token). When such a request went out and no answer came
#: back, botocore must not send it again (a second backup would be made and the first forgotten): the call
#: fails instead, the workflow retries the step, and the adapter finds what the first request made (adapters
#: look their backups up by name or tag before creating one).
NOT_RESENT_WHEN_UNANSWERED = {"dynamodb": ("CreateBackup",), "ec2": ("CreateSnapshot", "CopySnapshot")}


def client(service: str, region: str | None = None, session: boto3.Session | None = None) -> Any:
    if session is None:
        import boto3

        session = boto3.Session()
    made = session.client(service, region_name=region, config=retry_config())
    if service == "s3":
        made.meta.events.register("before-sign.s3.CopyObject", _name_copy_checksum)
    for operation in NOT_RESENT_WHEN_UNANSWERED.get(service, ()):
        # registered for the operation, so it runs before botocore's retry handler (registered for the service)
        made.meta.events.register(f"needs-retry.{service}.{operation}", _not_resent_when_unanswered)
    return made


def _not_resent_when_unanswered(caught_exception: Exception | None = None, **_: Any) -> None:
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

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
_TRANSIENT_CLASSES = {name: type(name, (TransientAwsError,), {"__module__": __name__})
                      for name in TRANSIENT_ERROR_NAMES}
#: botocore's throttling codes (botocore.retries.standard) that the workflows do not list by name
_THROTTLING = {"Throttling", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
               "TransactionInProgressException", "BandwidthLimitExceeded", "RequestThrottled",
               "PriorRequestNotComplete", "EC2ThrottledException", "RequestTimeout", "RequestTimeoutException"}


def transient(error: BaseException) -> TransientAwsError | None:
    """The named transient error for `error`, or None when a retry would not help (or it is not AWS's)."""
    from botocore.exceptions import ConnectionError as BotocoreConnectionError
    from botocore.exceptions import HTTPClientError

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
