"""The lifecycle sweeper (issue 7): page through a vault's recovery points, move the due ones to cold storage,
expire the due ones, and record per page what was moved, expired and skipped, and why.

Each page is one catalog Query (DynamoCatalog.recovery_points_page, never a Scan), so a workflow can fan pages
out and no call outlives a Lambda. The decision is domain/sweep.py `decide` with the catalog's facts
(RetentionGuard: the vault's Object Lock mode once a page, the legal holds of the ones due for deletion). Applying it:

- TRANSITION_TO_COLD: the adapter's `start_cold` (EBS: the archive tier), then the catalog says COLD.
- EXPIRE: RestoreLeases.begin_expiry first (refused while a restore holds the recovery point: skipped, reason
  given), which marks it DELETING; then the native artefact (adapter `delete_recovery_point`) or, for the
  objects strategy (S3), the manifest and its parts - each version deleted only once its own Object Lock has
  passed and no legal hold is on it (domain/object_lock.py, checked before S3 refuses it anyway); then the
  catalog says EXPIRED, storage class DELETED (the record stays: what was kept, and when it went).
- Blobs (content-addressed, shared) are NOT deleted here: a blob is unreferenced exactly when its own lock
  has passed (every recovery point extends its blobs' lock to its own delete date), so blob GC is a separate
  follow-up sweep over `vaults/<name>/blobs/` that deletes versions whose lock has passed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from coffer.adapters.catalog_restore_leases import RestoreLeases
from coffer.adapters.catalog_sweeps import SweepRecords
from coffer.domain.errors import CofferError, RecoveryPointInUse
from coffer.domain.manifest import Manifest
from coffer.domain.object_lock import LockMode
from coffer.domain.object_lock import deletion_refusal as version_deletion_refusal
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus, StorageClass
from coffer.domain.sweep import SweepAction, SweepDecision, decide
from coffer.ports import BackupStrategy, Capability
from coffer.services.retention_guard import RetentionGuard
from coffer.services.wiring import Deps


@dataclass
class SweepReport:
    """One page of one run: recovery point id -> reason, per outcome."""

    run_id: str
    vault: str
    seq: int
    moved: dict[str, str] = field(default_factory=dict)
    expired: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    kept: int = 0
    next_token: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Sweeper:
    def __init__(self, deps: Deps, guard: RetentionGuard, leases: RestoreLeases, records: SweepRecords,
                 page_size: int = 100) -> None:
        self._d = deps
        self._guard = guard
        self._leases = leases
        self._records = records
        self._page_size = page_size

    def sweep_page(self, run_id: str, vault: str, seq: int, token: str | None) -> SweepReport:
        """Sweep one page of the vault's recovery points; record and return what happened."""
        points, next_token = self._d.catalog.recovery_points_page(vault, token, self._page_size)
        report = SweepReport(run_id, vault, seq, next_token=next_token)
        now = self._d.clock.now()
        modes: dict[str, LockMode] = {}
        for rp in points:
            if rp.vault_name not in modes:
                modes[rp.vault_name] = self._guard.object_mode(rp.vault_name)
            # holds matter only to a deletion: asked only for the recovery points whose delete date has come
            due = rp.delete_at is not None and now >= rp.delete_at
            holds = self._guard.holds_on(rp.recovery_point_id) if due else []
            adapter = self._d.adapter(rp.resource_type)
            cold_refusal = None if Capability.COLD_STORAGE in adapter.capabilities else \
                adapter.refusals.get(Capability.COLD_STORAGE, "no cold storage tier")
            decision = decide(rp, holds, modes[rp.vault_name], now, cold_refusal)
            self._apply(run_id, rp, decision, report)
        self._records.put_page(run_id, vault, seq, report.as_json())
        return report

    def sweep_vault(self, run_id: str, vault: str) -> list[SweepReport]:
        """Every page in turn (what the workflow fans out; the twin and tests call it directly)."""
        reports, token, seq = [], None, 0
        while True:
            report = self.sweep_page(run_id, vault, seq, token)
            reports.append(report)
            if report.next_token is None:
                return reports
            token, seq = report.next_token, seq + 1

    # ---- applying a decision --------------------------------------------------------------------
    def _apply(self, run_id: str, rp: RecoveryPoint, decision: SweepDecision, report: SweepReport) -> None:
        rid = rp.recovery_point_id
        if decision.action is SweepAction.KEEP:
            if decision.skipped:
                report.skipped[rid] = decision.reason
            else:
                report.kept += 1
            return
        try:
            if decision.action is SweepAction.TRANSITION_TO_COLD:
                self._to_cold(rp)
                report.moved[rid] = decision.reason
            else:
                refusal = self._expire(run_id, rp)
                if refusal is None:
                    report.expired[rid] = decision.reason
                else:
                    report.skipped[rid] = refusal
        except RecoveryPointInUse as error:
            report.skipped[rid] = f"due ({decision.reason}) but a restore holds it: {error}"
        except CofferError as error:  # refused or failed for this one (ConcurrentUpdate, NativeOperationFailed...)
            report.skipped[rid] = f"due ({decision.reason}) but {type(error).__name__}: {error}"

    def _to_cold(self, rp: RecoveryPoint) -> None:
        self._d.adapter(rp.resource_type).start_cold(rp)
        self._d.catalog.put_recovery_point(rp.model_copy(update={"storage_class": StorageClass.COLD}))

    def _expire(self, run_id: str, rp: RecoveryPoint) -> str | None:
        """Delete the recovery point's data; None when done, else why it is left DELETING for a later run."""
        deleting = self._leases.begin_expiry(rp, by=f"sweeper:{run_id}")
        adapter = self._d.adapter(rp.resource_type)
        if adapter.strategy is BackupStrategy.OBJECTS or not rp.native_ref:
            locked = self._delete_manifest(rp)
            if locked:
                return f"left DELETING: {locked}"
        else:
            adapter.delete_recovery_point(deleting)
        self._d.catalog.put_recovery_point(deleting.model_copy(update={
            "status": RecoveryPointStatus.EXPIRED, "storage_class": StorageClass.DELETED}))
        return None

    def _delete_manifest(self, rp: RecoveryPoint) -> str | None:
        """Delete the manifest's parts, then the manifest, each version only once its lock has passed."""
        if rp.manifest_key is None:
            return None
        vault, now = self._d.vault, self._d.clock.now()
        facts = vault.lock_of(rp.manifest_key)
        if not facts[0]:
            return None  # gone already (a retried expiry)
        manifest = Manifest.model_validate_json(vault.get_bytes(rp.manifest_key))
        present = []
        for key in [part.key for part in manifest.parts] + [rp.manifest_key]:  # parts first, manifest last
            facts = vault.lock_of(key)
            if not facts[0]:
                continue
            refusal = version_deletion_refusal(facts.lock, now)
            if refusal is not None:
                return f"{key}: {refusal}"  # nothing deleted yet: all or nothing
            assert facts.version_id is not None
            present.append((key, facts.version_id))
        for key, version_id in present:
            vault.delete_version(key, version_id)
        return None
