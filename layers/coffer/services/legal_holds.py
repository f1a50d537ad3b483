"""Legal holds: create, list, release - S3 legal holds on every object of the held recovery points.

Create: the hold is written CREATING; for each recovery point its objects are gathered (manifest, parts,
every blob the parts reference), the catalog records which hold covers which object version, then S3's
legal hold is switched ON for each version; the hold becomes ACTIVE and the change is audited.

Release: the hold goes CANCELING; for each object version it covers, its membership is removed and S3's
legal hold is switched OFF only if no other hold still covers that version. The check is made again after
switching OFF and the hold put back ON if a concurrent create joined meanwhile (a create always records
membership *before* switching ON), so a release can never strip a hold another one needs.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterator

from coffer.domain.clock import Clock
from coffer.domain.errors import InvalidInput, NotFound
from coffer.domain.legal_holds import CreateLegalHoldRequest, LegalHold, LegalHoldStatus
from coffer.domain.manifest import Manifest, ManifestPart, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.ports.catalog import Catalog
from coffer.ports.vault import VaultStore
from coffer.ports.vault_records import VaultRecords
from coffer.services.audit_log import AuditLog
from coffer.services.pinned_reads import read_pinned

_HOLDABLE = (RecoveryPointStatus.COMPLETED, RecoveryPointStatus.PARTIAL)


class LegalHolds:
    def __init__(self, vault_catalog: VaultRecords, recovery_points: Catalog, vault: VaultStore, clock: Clock,
                 audit: AuditLog) -> None:
        self._holds = vault_catalog
        self._rps = recovery_points
        self._vault = vault
        self._clock = clock
        self._audit = audit

    # ---- create -----------------------------------------------------------------------------------
    def create(self, request: CreateLegalHoldRequest) -> LegalHold:
        points = self._resolve(request)
        now = self._clock.now()
        token = request.idempotency_token
        hold_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"coffer:legal-hold:{token}")) if token else str(uuid.uuid4())
        existing = self._holds.get_hold(hold_id)
        if existing is not None:
            return existing
        hold = self._holds.put_hold(LegalHold(
            legal_hold_id=hold_id, title=request.title, description=request.description, creation_date=now,
            selection=request.recovery_point_selection, recovery_point_ids=tuple(p.recovery_point_id for p in points)))
        held = 0
        for point in points:
            objects = list(self.objects_of(point))
            # Membership first, S3 second: a concurrent release of another hold then sees this one.
            self._holds.add_hold_members(hold_id, point.recovery_point_id, objects)
            for key, version in objects:
                self._vault.set_legal_hold(key, version, on=True)
            held += len(objects)
        hold = self._holds.put_hold(hold.to(LegalHoldStatus.ACTIVE, objects_held=held))
        self._audit.append("legalhold.create", hold_id, {
            "title": hold.title, "description": hold.description, "recovery_point_ids": list(hold.recovery_point_ids),
            "selection": hold.selection.model_dump(mode="json", by_alias=True), "objects_held": held},
            idempotency_key=f"legalhold.create:{hold_id}")
        return hold

    def _resolve(self, request: CreateLegalHoldRequest) -> list[RecoveryPoint]:
        selection = request.recovery_point_selection
        if selection.recovery_point_ids:
            points = []
            for rp_id in selection.recovery_point_ids:
                try:
                    points.append(self._rps.get_recovery_point(rp_id))
                except NotFound:
                    raise InvalidInput([f"RecoveryPointSelection.RecoveryPointIds: {rp_id} not found"]) from None
        else:
            assert selection.date_range is not None
            points = [p for vault in selection.vault_names
                      for p in self._holds.recovery_points_created(vault, selection.date_range.from_date,
                                                                  selection.date_range.to_date)]
        points = [p for p in points if p.status in _HOLDABLE]
        if not points:
            raise InvalidInput(["RecoveryPointSelection: selects no COMPLETED or PARTIAL recovery point"])
        return points

    def objects_of(self, point: RecoveryPoint) -> Iterator[tuple[str, str]]:
        """(key, version id) of every object of the recovery point, each once: the version it pins (DESIGN invariant
        6: a version written over a pinned one gets no hold), the current one only where nothing is pinned (written
        before versions were pinned)."""
        seen: set[str] = set()

        def version(key: str, pinned: str | None) -> tuple[str, str] | None:
            if key in seen:
                return None
            seen.add(key)
            found = self._vault.lock_of_version(key, pinned) if pinned else self._vault.lock_of(key)
            if not found[0] or not found.version_id:
                raise NotFound(f"recovery point {point.recovery_point_id}: s3://{self._vault.bucket}/{key} is "
                               f"missing{f' at version {pinned}' if pinned else ''}; run `coffer vault verify`")
            return key, found.version_id

        manifest_key = point.manifest_key or VaultLayout.manifest(point.vault_name, point.recovery_point_id)
        if (pair := version(manifest_key, point.manifest_version_id)) is not None:
            yield pair
        manifest = Manifest.model_validate_json(read_pinned(self._vault, manifest_key, point.manifest_version_id))
        for ref in manifest.parts:
            if (pair := version(ref.key, ref.version_id)) is not None:
                yield pair
            part = ManifestPart.model_validate_json(read_pinned(self._vault, ref.key, ref.version_id))
            for entry in part.entries:
                if (pair := version(VaultLayout.blob_of(point.vault_name, entry), entry.blob_version_id)) is not None:
                    yield pair

    # ---- read -------------------------------------------------------------------------------------
    def get(self, hold_id: str) -> LegalHold:
        hold = self._holds.get_hold(hold_id)
        if hold is None:
            raise NotFound(f"legal hold {hold_id} not found")
        return hold

    def list(self) -> builtins.list[LegalHold]:
        return list(self._holds.list_holds())

    def holds_on(self, recovery_point_id: str) -> builtins.list[str]:
        return self._holds.holds_on(recovery_point_id)

    # ---- release ----------------------------------------------------------------------------------
    def release(self, hold_id: str, cancel_description: str) -> LegalHold:
        if not cancel_description.strip():
            raise InvalidInput(["CancelDescription: required (why the hold is released)"])
        hold = self.get(hold_id)
        if hold.status is LegalHoldStatus.CANCELED:
            return hold
        if hold.status is not LegalHoldStatus.CANCELING:
            hold = self._holds.put_hold(hold.to(LegalHoldStatus.CANCELING, cancel_description=cancel_description))
        released = kept = 0
        points: set[str] = set()
        for key, version, rp_id in list(self._holds.hold_objects(hold_id)):
            points.add(rp_id)
            self._holds.drop_object_member(hold_id, key, version)
            if self._holds.object_holders(key, version):
                kept += 1  # another hold still covers this version: its S3 legal hold stays ON
                continue
            self._vault.set_legal_hold(key, version, on=False)
            if self._holds.object_holders(key, version):  # a create joined while we switched it OFF
                self._vault.set_legal_hold(key, version, on=True)
                kept += 1
                continue
            released += 1
        for rp_id in points | set(hold.recovery_point_ids):
            self._holds.drop_recovery_point_member(hold_id, rp_id)
        hold = self._holds.put_hold(hold.to(LegalHoldStatus.CANCELED, cancellation_date=self._clock.now()))
        self._audit.append("legalhold.release", hold_id, {
            "cancel_description": cancel_description, "objects_released": released,
            "objects_still_held_by_other_holds": kept}, idempotency_key=f"legalhold.release:{hold_id}")
        return hold
