"""KMS grants on this account's keys for a copy's destination (services/copy_jobs.py shares and withdraws them)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_kms.literals import GrantOperationType


class KmsKeyGrants:
    def __init__(self, client: KMSClient) -> None:
        self._kms = client

    def aws_managed(self, key_arn: str) -> bool:
        return self._kms.describe_key(KeyId=key_arn)["KeyMetadata"].get("KeyManager") == "AWS"

    def grant(self, key_arn: str, grantee: str, operations: Sequence[str], name: str) -> None:
        # KMS returns the same grant for a repeated request with the same name, grantee and operations; it refuses
        # an operation it does not know (the port names them as KMS does).
        self._kms.create_grant(KeyId=key_arn, GranteePrincipal=grantee,
                               Operations=cast("Sequence[GrantOperationType]", operations), Name=name)

    def revoke(self, key_arn: str, name: str) -> None:
        for page in self._kms.get_paginator("list_grants").paginate(KeyId=key_arn):
            for grant in page.get("Grants", []):
                if grant.get("Name") == name:
                    with contextlib.suppress(self._kms.exceptions.NotFoundException):  # revoked by a retry
                        self._kms.revoke_grant(KeyId=key_arn, GrantId=grant["GrantId"])
