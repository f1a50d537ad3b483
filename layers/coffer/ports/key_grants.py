"""KMS grants that let a copy's destination read what this account's keys encrypt
(adapters/aws_services/kms_grants.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class KeyGrants(Protocol):
    def aws_managed(self, key_arn: str) -> bool:
        """Whether the key is AWS managed (such a key cannot be shared with another account)."""
        ...

    def grant(self, key_arn: str, grantee: str, operations: Sequence[str], name: str) -> None:
        """Grant `grantee` the operations on the key; a repeated request (same name) makes no second grant."""
        ...

    def revoke(self, key_arn: str, name: str) -> None:
        """Revoke every grant of that name on the key (one revoked meanwhile is no error)."""
        ...
