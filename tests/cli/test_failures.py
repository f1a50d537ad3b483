"""The errors the HTTP tests cannot provoke from an endpoint (an SSO session, Ctrl-C, a bug), explained by
the one function that turns every error into a line and an exit code."""

from __future__ import annotations

import pytest
from botocore import exceptions as botocore_errors

from coffer.adapters.aws import transient
from coffer.domain.errors import InvalidInput, ResourceBusy
from coffer_cli.commands.failures import ExitCode, explain


@pytest.mark.parametrize(("error", "code", "fragment"), [
    (botocore_errors.TokenRetrievalError(provider="sso", error_msg="expired"), ExitCode.SETUP, "run aws sso login"),
    (botocore_errors.ProfileNotFound(profile="ops"), ExitCode.SETUP, "check AWS_PROFILE or --profile"),
    (botocore_errors.ReadTimeoutError(endpoint_url="https://x"), ExitCode.UNAVAILABLE, "AWS did not answer"),
    (KeyboardInterrupt(), ExitCode.INTERRUPTED, "interrupted"),
    (InvalidInput(["A: bad", "B: worse"]), ExitCode.FAILED, "A: bad; B: worse"),
    (ResourceBusy("arn:aws:s3:::b", "job-1"), ExitCode.FAILED, "ResourceBusy: resource arn:aws:s3:::b is being"),
])
def test_each_error_is_one_line_with_its_exit_code(error: BaseException, code: ExitCode, fragment: str) -> None:
    failure = explain(error)
    assert failure is not None and failure.code == code and fragment in failure.message
    assert "\n" not in failure.message


def test_a_transient_aws_error_a_handler_named_is_unavailable() -> None:
    named = transient(botocore_errors.EndpointConnectionError(endpoint_url="https://x"))
    assert named is not None
    failure = explain(named)
    assert failure is not None and failure.code == ExitCode.UNAVAILABLE


def test_a_bug_is_not_explained_away() -> None:
    assert explain(ZeroDivisionError("a bug")) is None  # main() lets it show its traceback
