"""Rebuild the catalog from the vault alone (DESIGN invariant 4), after the table or its items are lost.

- the vault itself from its descriptor, `vaults/<name>/vault.json` (the Default vault needs none);
- its recovery points from their manifests: a paginated, delimited ListObjectsV2 over
  `vaults/<name>/recovery-points/` gives one prefix per recovery point, and each manifest holds the whole
  RecoveryPoint as it was when the backup completed; the catalog's manifest_sha256 is the hash of the
  manifest's bytes, exactly as CompleteBackup recorded it;
- the audit log's chain head from the last record that verifies.

Writes are conditional creates: a rebuild never overwrites what the catalog still has; it reports where
the catalog and the vault disagree instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coffer.domain.errors import AlreadyExists, ConcurrentUpdate, NotFound
from coffer.domain.manifest import Manifest, sha256_hex
from coffer.domain.vaults import DEFAULT_VAULT, recovery_points_prefix
from coffer.ports.catalog import Catalog
from coffer.ports.vault import VaultStore
from coffer.services.audit_log import AuditLog
from coffer.services.vault_admin import read_descriptor
from coffer.services.vaults import Vaults


@dataclass
class RebuildReport:
    vault: str
    vault_restored: bool = False
    restored: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    audit_head: int | None = None


class CatalogRebuild:
    def __init__(self, catalog: Catalog, vault: VaultStore, vaults: Vaults, audit: AuditLog) -> None:
        self._catalog = catalog
        self._vault = vault
        self._vaults = vaults
        self._audit = audit

    def rebuild_vault(self, name: str) -> RebuildReport:
        report = RebuildReport(vault=name)
        if self._vaults.catalog.get_vault(name) is None:
            found = read_descriptor(self._vault, name)
            if found is not None and not found[1]:
                try:
                    self._vaults.catalog.put_vault(found[0].model_copy(update={"version": 0}))
                    report.vault_restored = True
                except AlreadyExists:
                    pass
            elif name == DEFAULT_VAULT:
                self._vaults.get(name)
                report.vault_restored = True
            else:
                raise NotFound(f"vault {name}: no descriptor vaults/{name}/vault.json in the vault"
                               + (" (it was deleted)" if found else ""))
        prefix, token = recovery_points_prefix(name), None
        while True:
            _, points, token = self._vault.list_page(prefix, token, delimiter="/")
            for point_prefix in points:
                self._restore_point(point_prefix, report)
            if token is None:
                break
        head = self._vaults.catalog.audit_head() or self._audit.restore_head()
        report.audit_head = head.seq if head else None
        return report

    def _restore_point(self, point_prefix: str, report: RebuildReport) -> None:
        key = point_prefix + "manifest.json"
        rp_id = point_prefix.rstrip("/").rsplit("/", 1)[-1]
        try:
            body = self._vault.get_bytes(key)
        except NotFound:
            report.skipped.append(f"{rp_id}: no manifest (a job that never completed)")
            return
        manifest = Manifest.model_validate_json(body)
        rp = manifest.recovery_point.model_copy(update={"manifest_sha256": sha256_hex(body), "version": 0})
        if rp.recovery_point_id != rp_id or rp.vault_name != report.vault:
            report.skipped.append(f"{rp_id}: its manifest describes {rp.vault_name}/{rp.recovery_point_id}")
            return
        try:
            self._catalog.put_recovery_point(rp)
            report.restored.append(rp_id)
        except ConcurrentUpdate:
            existing = self._catalog.get_recovery_point(rp_id)
            same = existing.manifest_sha256 == rp.manifest_sha256
            (report.present if same else report.differing).append(rp_id)
