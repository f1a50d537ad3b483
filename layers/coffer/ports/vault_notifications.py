"""Each vault's notification settings, in AWS Backup's PutBackupVaultNotifications shape
(adapters/catalog/vault_notifications.py: one catalog record per vault)."""

from __future__ import annotations

from typing import Protocol

from coffer.domain.notifications import VaultNotifications


class VaultNotificationStore(Protocol):
    def get(self, vault_name: str) -> VaultNotifications | None:
        """The vault's settings; None: it has none (the defaults apply)."""
        ...

    def put(self, settings: VaultNotifications) -> None:
        """Replace the vault's settings (PutBackupVaultNotifications replaces them too)."""
        ...

    def delete(self, vault_name: str) -> bool:
        """Remove them (the defaults apply again); False when there were none."""
        ...
