"""The vault only ever extends a lock, reading the current date from S3 every time (moto-direct)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from coffer.adapters import aws
from coffer.adapters.vault.s3_vault import S3Vault
from coffer.domain.clock import SystemClock

SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
LATER = SOON + timedelta(days=30)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = aws.client("s3", "us-east-1", boto3.Session())
        client.create_bucket(Bucket="vault", ObjectLockEnabledForBucket=True)
        yield client


def retention_calls(client: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    client.meta.events.register("provide-client-params.s3.PutObjectRetention",
                                lambda params, **_: calls.append(params))
    return calls


def test_a_later_lock_is_never_shortened_and_not_even_asked_to_be(s3: Any) -> None:
    vault = S3Vault(s3, "vault", "COMPLIANCE", SystemClock())
    vault.put_locked("blob", b"data", LATER)
    calls = retention_calls(s3)
    assert vault.extend_retention("blob", SOON) is False
    assert calls == []
    assert vault.lock_of("blob") == (True, LATER)


def test_a_shorter_lock_is_extended(s3: Any) -> None:
    vault = S3Vault(s3, "vault", "GOVERNANCE", SystemClock())
    vault.put_locked("blob", b"data", SOON)
    assert vault.extend_retention("blob", LATER) is True
    assert vault.lock_of("blob") == (True, LATER)


def test_a_refused_extension_is_fine_when_someone_else_extended_further_meanwhile(s3: Any) -> None:
    vault = S3Vault(s3, "vault", "GOVERNANCE", SystemClock())
    vault.put_locked("blob", b"data", SOON)
    reads = iter([SOON, LATER + timedelta(days=1)])
    original = vault.lock_of
    vault.lock_of = lambda key: (True, next(reads))  # type: ignore[method-assign]

    def refuse(**_: Any) -> None:
        raise s3.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "shorten"}}, "PutObjectRetention")

    s3.meta.events.register("before-call.s3.PutObjectRetention", lambda **kw: refuse())
    assert vault.extend_retention("blob", LATER) is False
    vault.lock_of = original  # type: ignore[method-assign]


def test_a_refused_extension_that_is_still_needed_raises(s3: Any) -> None:
    vault = S3Vault(s3, "vault", "GOVERNANCE", SystemClock())
    vault.put_locked("blob", b"data", SOON)

    def refuse(**_: Any) -> None:
        raise s3.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObjectRetention")

    s3.meta.events.register("before-call.s3.PutObjectRetention", lambda **kw: refuse())
    with pytest.raises(s3.exceptions.ClientError):
        vault.extend_retention("blob", LATER)
