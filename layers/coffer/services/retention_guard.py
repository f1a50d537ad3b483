"""The check every expiry and deletion path calls before it deletes anything (domain/expiry.py's rules
with the catalog's facts: the legal holds covering the recovery point and its vault's lock mode)."""

from __future__ import annotations

from datetime import datetime

from coffer.domain.expiry import deletion_refusal, due_for_expiry
from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import RecoveryPoint
from coffer.ports.vault_records import VaultRecords
from coffer.services.vaults import Vaults


class RetentionGuard:
    def __init__(self, vault_catalog: VaultRecords, vaults: Vaults) -> None:
        self._holds = vault_catalog
        self._vaults = vaults

    def refusal(self, rp: RecoveryPoint, now: datetime, bypass_governance: bool = False) -> str | None:
        vault = self._vaults.find(rp.vault_name)
        mode = vault.object_lock_mode(self._vaults.stack_mode) if vault else self._vaults.stack_mode
        return deletion_refusal(rp, self._holds.holds_on(rp.recovery_point_id), mode, now, bypass_governance)

    def object_mode(self, vault_name: str) -> LockMode:
        """The Object Lock mode of the vault's objects (the sweeper asks once per page)."""
        vault = self._vaults.find(vault_name)
        return vault.object_lock_mode(self._vaults.stack_mode) if vault else self._vaults.stack_mode

    def holds_on(self, recovery_point_id: str) -> list[str]:
        """The legal holds covering the recovery point (the sweeper asks only for the ones due for deletion)."""
        return self._holds.holds_on(recovery_point_id)

    def may_expire(self, rp: RecoveryPoint, now: datetime) -> bool:
        """What the lifecycle sweeper calls for each candidate: False for a held or still-locked one."""
        vault = self._vaults.find(rp.vault_name)
        mode = vault.object_lock_mode(self._vaults.stack_mode) if vault else self._vaults.stack_mode
        return due_for_expiry(rp, self._holds.holds_on(rp.recovery_point_id), mode, now)
