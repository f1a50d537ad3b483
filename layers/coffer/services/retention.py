"""Lengthening a recovery point's retention: when a second rule joins a window another rule's backup took,
the backup is kept under the longer lifecycle (AWS Backup's overlap rule).

Order matters, for the vault's promises: first every object of the recovery point (data, manifest parts,
manifest) is locked until the new date, then an amendment is written Object-Locked beside the manifest (so
a catalog rebuilt from the vault knows the longer lifecycle: DESIGN invariant 4), and only then the catalog
says so. A crash in between leaves locks longer than the catalog claims, never shorter. Locks are only ever
extended (the vault refuses to shorten one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from coffer.domain.errors import ConcurrentUpdate
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.manifest import Manifest, ManifestPart, VaultLayout
from coffer.domain.plan_runs import longer_lifecycle
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.vaults import Seal
from coffer.ports.catalog import Catalog
from coffer.ports.vault import VaultStore
from coffer.services.vaults import Vaults
from coffer.settings import Settings

_ATTEMPTS = 5


def amendment_key(rp: RecoveryPoint, lifecycle: Lifecycle) -> str:
    digest = hashlib.sha256(lifecycle.model_dump_json().encode()).hexdigest()[:16]
    return f"{VaultLayout.recovery_point_prefix(rp.vault_name, rp.recovery_point_id)}amendments/lifecycle-{digest}.json"


@dataclass(frozen=True)
class Lengthened:
    recovery_point_id: str
    changed: bool
    lifecycle: Lifecycle


class RecoveryPointRetention:
    def __init__(self, catalog: Catalog, vault: VaultStore, vaults: Vaults, settings: Settings) -> None:
        self._catalog = catalog
        self._vault = vault
        self._vaults = vaults
        self._settings = settings

    def lengthen(self, recovery_point_id: str, lifecycle: Lifecycle, reason: str) -> Lengthened:
        """Keep the recovery point at least as long as `lifecycle` would; never shorter than it is."""
        for _ in range(_ATTEMPTS):
            rp = self._catalog.get_recovery_point(recovery_point_id)
            wanted = longer_lifecycle(rp.lifecycle, lifecycle)
            if wanted == rp.lifecycle:
                return Lengthened(recovery_point_id, False, rp.lifecycle)
            until = max(rp.retain_until, wanted.retain_until(rp.creation_date, self._settings.default_retention_days))
            self._lock_everything(rp, until)
            vault = self._vaults.get(rp.vault_name)
            # Written like every object of the vault: its lock mode and its own KMS key (the vault's bucket
            # policy refuses a write under the vault's prefix that does not name that key).
            seal = Seal(vault=vault.name, mode=vault.object_lock_mode(self._vaults.stack_mode), retain_until=until,
                        kms_key_arn=vault.key_arn)
            self._vault.put_json_locked(amendment_key(rp, wanted), {
                "recovery_point_id": rp.recovery_point_id,
                "lifecycle": wanted.model_dump(mode="json", by_alias=True, exclude_none=True),
                "retain_until": until.isoformat(), "reason": reason}, until, seal)
            updated = rp.model_copy(update={
                "lifecycle": wanted, "cold_at": wanted.cold_at(rp.creation_date),
                "delete_at": wanted.delete_at(rp.creation_date), "retain_until": until})
            try:
                self._catalog.put_recovery_point(updated)
            except ConcurrentUpdate:
                continue  # someone else changed it (another joiner): read again, lengthen again if still shorter
            return Lengthened(recovery_point_id, True, wanted)
        raise ConcurrentUpdate(f"recovery point {recovery_point_id} kept changing while its retention was lengthened")

    def _lock_everything(self, rp: RecoveryPoint, until: datetime) -> None:
        vault = self._vault
        if rp.manifest_key is None:
            return
        manifest = Manifest.model_validate_json(vault.get_bytes(rp.manifest_key))
        for part in manifest.parts:
            contents = ManifestPart.model_validate(vault.get_json(part.key))
            for blob in sorted({VaultLayout.blob_of(rp.vault_name, e) for e in contents.entries}):
                vault.extend_retention(blob, until)
            vault.extend_retention(part.key, until)
        vault.extend_retention(rp.manifest_key, until)
