"""What AWS's error codes become, decided in one place per kind (adapters/aws.py, adapters/catalog/conditions.py):
services branch on these types, and what a retry may cure is never translated, so Step Functions still sees it under
the name its Retry lists."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from coffer.adapters.aws import refusals_named, refuses_objects, transient
from coffer.adapters.catalog.conditions import condition_held
from coffer.domain.errors import AwsRefusal, ObjectArchived, ObjectRefused


def error(code: str, status: int = 400, operation: str = "CopyObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "said AWS"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       operation)


def raising(raised: ClientError) -> Callable[[], None]:
    def call() -> None:
        raise raised
    return call


@pytest.mark.parametrize(("code", "status", "kind"), [
    ("AccessDenied", 403, ObjectRefused), ("403", 403, ObjectRefused), ("KMS.DisabledException", 400, ObjectRefused),
    ("KMS.AccessDeniedException", 400, ObjectRefused), ("InvalidObjectState", 403, ObjectArchived),
    ("ObjectNotInActiveTierError", 403, ObjectArchived)])
def test_s3_refusing_one_object_for_good_names_the_object_refused_with_s3s_code(code: str, status: int,
                                                                                 kind: type[ObjectRefused]) -> None:
    with pytest.raises(kind) as refused:
        refuses_objects(raising(error(code, status)))()
    assert refused.value.code == code and str(refused.value) == str(error(code, status))


@pytest.mark.parametrize(("code", "status"), [("SlowDown", 503), ("InternalError", 500), ("NoSuchKey", 404),
                                              ("NoSuchUpload", 404), ("Throttling", 400)])
def test_anything_else_reaches_the_caller_as_botocore_raised_it(code: str, status: int) -> None:
    with pytest.raises(ClientError) as passed:
        refuses_objects(raising(error(code, status)))()
    assert not isinstance(passed.value, AwsRefusal) and passed.value.response["Error"]["Code"] == code


def test_a_refusal_for_good_is_named_and_what_a_retry_may_cure_is_not() -> None:
    with pytest.raises(AwsRefusal) as refused:
        refusals_named(raising(error("UnauthorizedOperation", 403, "DeleteSnapshot")))()
    assert refused.value.code == "UnauthorizedOperation"
    assert str(refused.value) == str(error("UnauthorizedOperation", 403, "DeleteSnapshot"))
    for code, status, name in (("RequestLimitExceeded", 503, "RequestLimitExceeded"), ("Throttling", 400,
                               "ThrottlingException"), ("InternalFailure", 500, "ServiceUnavailable")):
        with pytest.raises(ClientError) as passed:
            refusals_named(raising(error(code, status, "DeleteSnapshot")))()
        named = transient(passed.value)
        assert named is not None and type(named).__name__ == name  # as the function's runtime names it


def test_a_refused_condition_is_false_and_nothing_else_is_swallowed() -> None:
    assert condition_held(lambda: None) is True
    assert condition_held(raising(error("ConditionalCheckFailedException", operation="PutItem"))) is False
    assert condition_held(raising(error("TransactionCanceledException", operation="TransactWriteItems"))) is False
    for code, status in (("ProvisionedThroughputExceededException", 400), ("ValidationException", 400),
                         ("InternalServerError", 500)):
        with pytest.raises(ClientError):
            condition_held(raising(error(code, status, "PutItem")))
