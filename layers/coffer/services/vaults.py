"""Vaults as the backup path sees them: does the vault exist, and how are its recovery points sealed?

The Default vault is part of the stack: it uses the stack's VaultKey and is written to the catalog the
first time anything asks for it (a conditional create, so concurrent first uses agree). Its creation is the
stack's deployment (CloudTrail has it), so it adds no audit record; every other vault is created, changed
and deleted by `coffer vault ...` (services/vault_admin.py), each change audited.
"""

from __future__ import annotations

from datetime import datetime

from coffer.domain.clock import Clock
from coffer.domain.errors import AlreadyExists, InvalidInput, NotFound, RetentionOutsideVaultLock
from coffer.domain.jobs import Job
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.object_lock import LockMode
from coffer.domain.vaults import DEFAULT_VAULT, KeyOwner, Seal, Vault
from coffer.ports.vault_records import VaultRecords
from coffer.settings import Settings


class Vaults:
    def __init__(self, catalog: VaultRecords, settings: Settings, clock: Clock) -> None:
        self.catalog = catalog
        self._settings = settings
        self._clock = clock

    @property
    def stack_mode(self) -> LockMode:
        return LockMode(self._settings.vault_lock_mode)

    def find(self, name: str) -> Vault | None:
        vault = self.catalog.get_vault(name)
        if vault is None and name == DEFAULT_VAULT:
            vault = self._materialise_default()
        return vault

    def get(self, name: str) -> Vault:
        vault = self.find(name)
        if vault is None:
            raise NotFound(f"vault {name} does not exist (create it with `coffer vault create {name}`)")
        return vault

    def all(self) -> list[Vault]:
        vaults = {v.name: v for v in self.catalog.list_vaults()}
        if DEFAULT_VAULT not in vaults:
            vaults[DEFAULT_VAULT] = self.get(DEFAULT_VAULT)
        return [vaults[name] for name in sorted(vaults)]

    def admit(self, vault_name: str, lifecycle: Lifecycle, created: datetime) -> Vault:
        """The vault a new backup goes into - refused, naming the field, if it does not exist or the
        recovery point's retention does not fit the vault lock."""
        vault = self.find(vault_name)
        if vault is None:
            raise InvalidInput([f"BackupVaultName: vault '{vault_name}' does not exist "
                                f"(create it with `coffer vault create {vault_name}`)"])
        try:
            vault.retain_until(lifecycle, created, self._settings.default_retention_days)
        except RetentionOutsideVaultLock as error:
            raise InvalidInput([f"Lifecycle.DeleteAfterDays: {error}"]) from None
        return vault

    def seal_for(self, job: Job) -> Seal:
        """Mode, retain-until date and KMS key of every object of the job's recovery point."""
        vault = self.get(job.vault_name)
        return Seal(vault=vault.name, mode=vault.object_lock_mode(self.stack_mode),
                    retain_until=vault.retain_until(job.lifecycle, job.created_at,
                                                    self._settings.default_retention_days),
                    kms_key_arn=vault.key_arn)

    def _materialise_default(self) -> Vault:
        default = Vault(name=DEFAULT_VAULT, key_arn=self._settings.vault_key_arn, key_owner=KeyOwner.STACK,
                        created_at=self._clock.now())
        try:
            return self.catalog.put_vault(default)
        except AlreadyExists:
            found = self.catalog.get_vault(DEFAULT_VAULT)
            assert found is not None
            return found
