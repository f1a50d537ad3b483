"""Vault administration: create, describe, list, delete (only when empty), lock, access policy, and the one
audited way to bypass governance retention. Run by `coffer vault ...` with the operator's credentials.

Every change is (1) written to the catalog with a conditional write, (2) written to the vault as a new
Object-Locked version of `vaults/<name>/vault.json` - so a lost catalog can be rebuilt with its vaults - and
(3) appended to the audit log.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from coffer.domain.clock import Clock
from coffer.domain.errors import AlreadyExists, InvalidInput, NotFound, UnderLegalHold, VaultNotEmpty
from coffer.domain.manifest import VaultLayout
from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus, StorageClass
from coffer.domain.validation import parse_model
from coffer.domain.vault_policy import (
    has_template_policy,
    merge_vault_statements,
    template_policy_notes,
    vault_statements,
)
from coffer.domain.vaults import (
    DEFAULT_VAULT,
    KeyOwner,
    Vault,
    VaultLockRequest,
    change_lock,
    recovery_points_prefix,
    validate_access_statement,
)
from coffer.ports.bucket_policy import BucketPolicyStore
from coffer.ports.catalog import Catalog
from coffer.ports.vault import VaultStore
from coffer.ports.vault_keys import VaultKeyStore
from coffer.ports.vault_records import VaultRecords
from coffer.services.audit_log import AuditLog
from coffer.services.retention_guard import RetentionGuard
from coffer.services.vaults import Vaults

DESCRIPTOR_FORMAT = "coffer.vault/1"


def descriptor_key(name: str) -> str:
    return f"vaults/{name}/vault.json"


@dataclass
class Outcome:
    vault: Vault | None
    notes: list[str] = field(default_factory=list)


class VaultAdmin:
    def __init__(self, vaults: Vaults, catalog: Catalog, vault_store: VaultStore, keys: VaultKeyStore | None,
                 policy: BucketPolicyStore, audit: AuditLog, clock: Clock, default_retention_days: int) -> None:
        self._vaults = vaults
        self._catalog = catalog
        self._store = vault_store
        self._keys = keys
        self._policy = policy
        self._audit = audit
        self._clock = clock
        self._retention = timedelta(days=default_retention_days)
        self.guard = RetentionGuard(vaults.catalog, vaults)

    @property
    def _vc(self) -> VaultRecords:
        return self._vaults.catalog

    # ---- create / read / delete --------------------------------------------------------------------
    def create(self, name: str, kms_key: str | None = None,
               access_policy: list[dict[str, Any]] | None = None) -> Outcome:
        if name == DEFAULT_VAULT or self._vc.get_vault(name) is not None:
            raise InvalidInput([f"BackupVaultName: vault {name} already exists"])
        statements = tuple(validate_access_statement(s, i) for i, s in enumerate(access_policy or []))
        parse_model(Vault, {"name": name, "key_arn": "-", "key_owner": "coffer", "created_at": self._clock.now()})
        notes: list[str] = []
        if self._keys is None:
            raise InvalidInput(["vault create: no KMS client (run through `coffer vault create`)"])
        if kms_key:
            key_arn, warning = self._keys.adopt(kms_key, name)
            owner = KeyOwner.CUSTOMER
            notes += [warning] if warning else []
        else:
            key_arn, owner = self._keys.create(name), KeyOwner.COFFER
        try:
            vault = self._vc.put_vault(Vault(name=name, key_arn=key_arn, key_owner=owner, created_at=self._clock.now(),
                                             access_policy=statements))
        except AlreadyExists:
            raise InvalidInput([f"BackupVaultName: vault {name} already exists"]) from None
        notes += self._after_change(vault, "vault.create", {"key_arn": key_arn, "key_owner": owner.value})
        return Outcome(vault, notes)

    def describe(self, name: str) -> dict[str, Any]:
        vault = self._vaults.get(name)
        policy = self._policy.get()
        installed = has_template_policy(policy) and all(
            s in (policy or {}).get("Statement", []) for s in vault_statements(self._policy.bucket_arn, vault))
        now = self._clock.now()
        return {**vault.model_dump(mode="json"),
                "object_lock_mode": vault.object_lock_mode(self._vaults.stack_mode).value,
                "lock_state": None if vault.lock is None else
                ("immutable" if vault.lock.immutable(now) else
                 "cooling-off" if vault.lock.mode is LockMode.COMPLIANCE else "governance"),
                "bucket_policy_statements_installed": installed,
                "recovery_points": sum(1 for _ in self._catalog.list_recovery_points(name))}

    def list(self) -> builtins.list[Vault]:
        return self._vaults.all()

    def delete(self, name: str) -> Outcome:
        """AWS Backup's rule: only an empty vault is deleted. Its KMS key is kept (schedule its deletion
        yourself once nothing encrypted with it is left - old object versions may still be)."""
        if name == DEFAULT_VAULT:
            raise InvalidInput([f"BackupVaultName: {DEFAULT_VAULT} is part of the stack and is not deleted"])
        vault = self._vaults.get(name)
        in_catalog = self._vc.any_recovery_point(name)
        if in_catalog:
            raise VaultNotEmpty(f"vault {name} holds recovery point {in_catalog} (and maybe more)")
        in_vault, _, _ = self._store.list_page(recovery_points_prefix(name), None, 1)
        if in_vault:
            raise VaultNotEmpty(f"vault {name} holds {in_vault[0].key}, unknown to the catalog "
                                f"(`coffer catalog rebuild --vault {name}`)")
        self._vc.delete_vault(vault)
        notes = self._apply_policy(vault, remove=True)
        self._write_descriptor(vault, deleted=True)
        self._audit.append("vault.delete", name, {"key_arn": vault.key_arn, "key_kept": True})
        return Outcome(None, notes)

    # ---- lock ---------------------------------------------------------------------------------------
    def put_lock(self, name: str, request: VaultLockRequest) -> Outcome:
        vault = self._vaults.get(name)
        lock = change_lock(name, vault.lock, request, self._clock.now())
        saved = self._vc.put_vault(vault.model_copy(update={"lock": lock}))
        notes = self._after_change(saved, "vault.lock.put", {
            "previous": vault.lock.model_dump(mode="json") if vault.lock else None,
            "lock": lock.model_dump(mode="json") if lock else None})
        return Outcome(saved, notes)

    def delete_lock(self, name: str) -> Outcome:
        vault = self._vaults.get(name)
        change_lock(name, vault.lock, None, self._clock.now())
        saved = self._vc.put_vault(vault.model_copy(update={"lock": None}))
        notes = self._after_change(saved, "vault.lock.delete", {
            "previous": vault.lock.model_dump(mode="json") if vault.lock else None})
        if vault.lock is not None and vault.lock.mode is LockMode.COMPLIANCE:
            notes.append("objects written under the COMPLIANCE lock keep their COMPLIANCE retention (S3 cannot "
                         "take it back); new recovery points are written GOVERNANCE")
        return Outcome(saved, notes)

    # ---- access policy ------------------------------------------------------------------------------
    def set_policy(self, name: str, statements: builtins.list[dict[str, Any]]) -> Outcome:
        vault = self._vaults.get(name)
        checked = tuple(validate_access_statement(s, i) for i, s in enumerate(statements))
        saved = self._vc.put_vault(vault.model_copy(update={"access_policy": checked}))
        return Outcome(saved, self._after_change(saved, "vault.policy.put", {"statements": list(checked)}))

    def apply_policies(self) -> builtins.list[str]:
        """Re-install every vault's bucket policy statements (after `sam deploy` replaced the policy); also say
        when the template's own statements on the bucket are out of date."""
        notes = [note for vault in self._vaults.all() for note in self._apply_policy(vault)]
        return notes + template_policy_notes(self._policy.get())

    def _apply_policy(self, vault: Vault, remove: bool = False) -> builtins.list[str]:
        policy = self._policy.get()
        if not has_template_policy(policy):
            return [f"vault {vault.name}: bucket policy statements not installed - s3://{self._policy.bucket} has no "
                    "Coffer template policy (the twin installs none: moto ignores policy conditions; in an account "
                    "redeploy the stack, then `coffer vault apply-policies`)"]
        assert policy is not None
        statements = [] if remove else vault_statements(self._policy.bucket_arn, vault)
        merged = merge_vault_statements(policy, vault.name, statements)
        if merged != policy:
            self._policy.put(merged)
        return []

    # ---- the audited governance bypass ----------------------------------------------------------------
    def bypass_governance(self, recovery_point_id: str, reason: str) -> RecoveryPoint:
        """Delete a recovery point's manifest and parts before their GOVERNANCE retention ends.

        Refused for a recovery point under a legal hold or in a COMPLIANCE vault (S3 would refuse anyway).
        The audit record is appended *before* anything is deleted: no unaudited bypass, even if the deletion
        then fails half-way. Blobs are shared with other recovery points and are left to the sweeper.
        """
        if len(reason.strip()) < 10:
            raise InvalidInput(["--reason: say why (at least 10 characters); it goes into the audit log"])
        rp = self._catalog.get_recovery_point(recovery_point_id)
        now = self._clock.now()
        refusal = self.guard.refusal(rp, now, bypass_governance=True)
        if refusal:
            raise UnderLegalHold(refusal) if "legal hold" in refusal else InvalidInput([refusal])
        prefix = VaultLayout.recovery_point_prefix(rp.vault_name, rp.recovery_point_id)
        versions = list(self._store.versions(prefix))
        self._audit.append("governance.bypass", recovery_point_id, {
            "reason": reason, "vault": rp.vault_name, "retain_until": rp.retain_until.isoformat(),
            "objects": [f"{key}?versionId={version}" for key, version in versions]})
        for key, version in versions:
            self._store.delete_version_bypassing_governance(key, version)
        deleted = rp.model_copy(update={"status": RecoveryPointStatus.EXPIRED, "storage_class": StorageClass.DELETED})
        self._catalog.put_recovery_point(deleted)
        return self._catalog.get_recovery_point(recovery_point_id)

    # ---- helpers --------------------------------------------------------------------------------------
    def _after_change(self, vault: Vault, action: str, details: dict[str, Any]) -> builtins.list[str]:
        self._write_descriptor(vault)
        notes = self._apply_policy(vault)
        self._audit.append(action, vault.name, {**details, "vault": vault.model_dump(mode="json")})
        return notes

    def _write_descriptor(self, vault: Vault, deleted: bool = False) -> None:
        """The vault's configuration as a new Object-Locked version of vaults/<name>/vault.json.

        Encrypted with the vault's own key like everything under its prefix (its bucket policy statement
        refuses any other); a rebuild reads it without knowing the key - S3 finds it - in the stack's mode.
        """
        now = self._clock.now()
        self._store.put_locked(descriptor_key(vault.name), json.dumps({
            "format": DESCRIPTOR_FORMAT, "vault": vault.model_dump(mode="json"), "deleted": deleted,
            "written_at": now.isoformat()}, sort_keys=True).encode(), now + self._retention,
            kms_key_id=vault.key_arn)


def read_descriptor(store: VaultStore, name: str) -> tuple[Vault, bool] | None:
    """(vault, deleted) from the vault's descriptor, or None if it has none."""
    try:
        document = store.get_json(descriptor_key(name))
    except NotFound:
        return None
    return Vault.model_validate(document["vault"]), bool(document.get("deleted"))
