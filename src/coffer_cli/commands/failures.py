"""The one place where what went wrong becomes one line on stderr and an exit code.

Every command lets its errors propagate; `coffer_cli.cli.main` hands them to :func:`explain`. A user mistake
or an AWS error is never a traceback: the line says the cause and what to do. An exception nobody expected
(a bug) still shows its traceback, and `coffer --debug ...` shows it for every error.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from botocore import exceptions as botocore_errors
from botocore.exceptions import ClientError

from coffer.adapters.aws import TransientAwsError, error_code
from coffer.domain.errors import CofferError, InvalidInput
from coffer.domain.input_rules.text import one_line


class ExitCode(IntEnum):
    """What `coffer` exits with. Documented in `coffer --help` and docs/reference/cli.md (keep the three in step)."""

    OK = 0  # done; a job waited for or watched ended COMPLETED
    FAILED = 1  # Coffer refused the request or found a problem; a job ended FAILED, ABORTED or EXPIRED
    USAGE = 2  # the command line is wrong: unknown option, missing or malformed value
    PARTIAL = 3  # a job ended PARTIAL: some objects were not backed up, copied or restored
    SETUP = 4  # no region, no credentials, unknown profile, or no Coffer stack of that name
    DENIED = 5  # AWS refused the caller: access denied, or invalid or expired credentials
    UNAVAILABLE = 6  # AWS could not be reached or stayed busy: endpoint unreachable, timeout, throttled, 5xx
    AWS_REFUSED = 7  # AWS refused the request for another reason (a validation error, a limit)
    STILL_RUNNING = 8  # --wait or `jobs watch` ran out of --timeout before the job ended
    INTERRUPTED = 130  # Ctrl-C


#: the exit codes' table, as `coffer --help` prints it
EXIT_CODES_HELP = """exit codes:
  0  done; a job waited for (--wait) or watched ended COMPLETED
  1  Coffer refused the request or found a problem; a job ended FAILED, ABORTED or EXPIRED
  2  the command line is wrong (unknown option, missing or malformed value)
  3  a job ended PARTIAL (some objects were not backed up, copied or restored)
  4  setup: no region, no credentials, unknown profile, or no Coffer stack of that name
  5  AWS denied access, or rejected the credentials (invalid or expired)
  6  AWS unreachable or busy: endpoint unreachable, timeout, throttled after retries, service error
  7  AWS refused the request for another reason (validation error, limit exceeded)
  8  --wait or `jobs watch` ran out of --timeout before the job ended
  130 interrupted (Ctrl-C)"""


class CliError(Exception):
    """A failure the CLI explains itself: its message is the line printed, `code` the exit status."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.code = code


class UsageError(CliError):
    """A malformed option value (the argparse-level mistakes argparse cannot see itself)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


@dataclass(frozen=True)
class Failure:
    code: ExitCode
    message: str


REGION_HINT = "pass --region, or set AWS_REGION (or AWS_DEFAULT_REGION, or region in your AWS profile)"
CREDENTIALS_HINT = ("set AWS_PROFILE to a configured profile (aws configure, aws sso login), or AWS_ACCESS_KEY_ID "
                    "and AWS_SECRET_ACCESS_KEY")
DEPLOY_HINT = "deploy the stack first: sam build && sam deploy (or pass --stack NAME and --region)"

_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess",
           "AuthorizationError", "Forbidden", "403"}
_BAD_CREDENTIALS = {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId",
                    "SignatureDoesNotMatch", "IncompleteSignature", "ExpiredToken", "ExpiredTokenException",
                    "RequestExpired", "AuthFailure", "InvalidToken", "InvalidSignatureException"}
_THROTTLED = {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
              "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
              "SlowDown", "BandwidthLimitExceeded", "RequestThrottled", "LimitExceededException"}


def explain(error: BaseException) -> Failure | None:
    """The line and exit code for `error`; None for an exception nobody expected (a bug: let it show)."""
    if isinstance(error, CliError):
        return Failure(error.code, str(error))
    if isinstance(error, KeyboardInterrupt):
        return Failure(ExitCode.INTERRUPTED, "interrupted")
    if isinstance(error, InvalidInput):
        return Failure(ExitCode.FAILED, one_line("; ".join(error.problems)))
    if isinstance(error, CofferError):  # a refusal Coffer raised on purpose: its message, on one line
        return Failure(ExitCode.FAILED, one_line(f"{type(error).__name__}: {error}"))
    if isinstance(error, TransientAwsError):
        return Failure(ExitCode.UNAVAILABLE, f"AWS stayed busy ({error}): try again in a minute")
    if isinstance(error, ClientError):
        return _client_error(error)
    return _botocore_error(error)


def _client_error(error: ClientError) -> Failure:
    code = error_code(error)
    operation = getattr(error, "operation_name", "") or "the request"
    message = str(error.response.get("Error", {}).get("Message") or "").strip() or code
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _BAD_CREDENTIALS:
        return Failure(ExitCode.DENIED, f"AWS rejected the credentials ({code}: {message}): refresh them "
                                        f"(aws sso login, or new access keys) or {CREDENTIALS_HINT}")
    if code in _DENIED or status == 403:
        return Failure(ExitCode.DENIED, f"AWS denied {operation} ({code}: {message}): use an identity whose "
                                        "policy allows it (see docs/reference/cli.md, 'Permissions')")
    if code in _THROTTLED or status == 429:
        return Failure(ExitCode.UNAVAILABLE, f"AWS throttled {operation} after retries ({code}): try again in a "
                                             "minute, or raise AWS_MAX_ATTEMPTS")
    if status >= 500:
        return Failure(ExitCode.UNAVAILABLE, f"AWS failed {operation} ({code}: {message}): try again later")
    return Failure(ExitCode.AWS_REFUSED, f"AWS refused {operation} ({code}): {message}")


def _botocore_error(error: BaseException) -> Failure | None:
    if isinstance(error, botocore_errors.NoRegionError):
        return Failure(ExitCode.SETUP, f"no AWS region: {REGION_HINT}")
    if isinstance(error, botocore_errors.NoCredentialsError | botocore_errors.PartialCredentialsError):
        return Failure(ExitCode.SETUP, f"no AWS credentials ({error}): {CREDENTIALS_HINT}")
    if isinstance(error, botocore_errors.ProfileNotFound):
        return Failure(ExitCode.SETUP, f"{error}: check AWS_PROFILE or --profile against ~/.aws/config")
    if isinstance(error, botocore_errors.TokenRetrievalError | botocore_errors.SSOTokenLoadError
                  | botocore_errors.UnauthorizedSSOTokenError):
        return Failure(ExitCode.SETUP, f"AWS SSO session not usable ({error}): run aws sso login")
    if isinstance(error, botocore_errors.EndpointConnectionError):
        return Failure(ExitCode.UNAVAILABLE, f"cannot reach {getattr(error, 'kwargs', {}).get('endpoint_url', 'AWS')}"
                                             ": check the network, --region, and AWS_ENDPOINT_URL if you set it")
    if isinstance(error, botocore_errors.ConnectTimeoutError | botocore_errors.ReadTimeoutError
                  | botocore_errors.ConnectionClosedError):
        return Failure(ExitCode.UNAVAILABLE, f"AWS did not answer ({error}): check the network and try again")
    if isinstance(error, botocore_errors.HTTPClientError):
        return Failure(ExitCode.UNAVAILABLE, f"could not talk to AWS ({error}): check the network and try again")
    if isinstance(error, botocore_errors.ParamValidationError):
        return Failure(ExitCode.USAGE, f"{error}".replace("\n", " "))
    return None
