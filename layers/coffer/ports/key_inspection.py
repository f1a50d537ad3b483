"""What verify reads of a vault's KMS key: its state and its policy (adapters/vault/inspection.py). Read-only."""

from __future__ import annotations

from typing import Any, Protocol

#: the state reported for a key KMS does not know (deleted, or never there)
KEY_GONE = "NotFound"


class KeyInspection(Protocol):
    def state(self, key_arn: str) -> str:
        """KMS's KeyState (Enabled, Disabled, PendingDeletion ...), or KEY_GONE."""
        ...

    def policy(self, key_arn: str) -> dict[str, Any] | None:
        """The key's default policy, or None when the key is gone."""
        ...
