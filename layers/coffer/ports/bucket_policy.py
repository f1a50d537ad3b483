"""The vault bucket's policy, read and replaced by `coffer vault ...` (adapters/vault/admin.py)."""

from __future__ import annotations

from typing import Any, Protocol


class BucketPolicyStore(Protocol):
    bucket: str
    bucket_arn: str

    def get(self) -> dict[str, Any] | None:
        """The policy document, or None when the bucket has none."""
        ...

    def put(self, policy: dict[str, Any]) -> None: ...
