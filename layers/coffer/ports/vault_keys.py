"""Vaults' KMS keys, made or adopted by `coffer vault create` (adapters/vault/admin.py)."""

from __future__ import annotations

from typing import Protocol


class VaultKeyStore(Protocol):
    def create(self, vault_name: str) -> str:
        """A new symmetric key for the vault, tagged for the stack; its ARN."""
        ...

    def adopt(self, key: str, vault_name: str) -> tuple[str, str | None]:
        """A customer managed key named by the operator: its ARN and a warning if it could not be tagged.
        NotFound, or InvalidInput naming --kms-key when it is not an enabled symmetric customer managed key."""
        ...
