"""What RDS and Aurora do alike with their snapshots: share, copy, delete, describe and poll them.

The RDS API has two families of the same calls - DB snapshots (an instance's) and DB cluster snapshots (an Aurora
cluster's) - differing only in names (``copy_db_snapshot`` / ``copy_db_cluster_snapshot``,
``DBSnapshotIdentifier`` / ``DBClusterSnapshotIdentifier`` ...). `SnapshotApi` holds those names; `RdsSnapshots`
is the one implementation both adapters inherit, each with its own names and error table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coffer.adapters.aws import refusals_named
from coffer.adapters.resources.common import GIB, coffer_tags, last_part, refuse, region_of, tag_list, translated
from coffer.domain.errors import CofferError, InvalidInput, NativeOperationFailed, NotFound
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.resources import ResourceType
from coffer.ports.resources import Capability, CopyTarget, OperationStatus

#: snapshot statuses that end a backup or a copy as failed (others, such as creating or copying, are in progress)
FAILED_SNAPSHOT = {"failed", "error", "deleting"}


def snapshot_name(recovery_point_id: str) -> str:
    return f"coffer-{recovery_point_id}"


@dataclass(frozen=True)
class SnapshotApi:
    """The names the RDS API gives one family of snapshots."""

    noun: str  # DBSnapshot | DBClusterSnapshot: parameters, fields, errors
    snake: str  # db_snapshot | db_cluster_snapshot: boto3 method names
    label: str  # what messages call one
    encrypted_field: str  # Encrypted | StorageEncrypted

    @property
    def identifier(self) -> str:
        return f"{self.noun}Identifier"


DB_SNAPSHOT = SnapshotApi("DBSnapshot", "db_snapshot", "DB snapshot", "Encrypted")
DB_CLUSTER_SNAPSHOT = SnapshotApi("DBClusterSnapshot", "db_cluster_snapshot", "DB cluster snapshot", "StorageEncrypted")


class RdsSnapshots:
    """Copy, cold storage (refused: no cold tier), deletion and polling of an RDS-family adapter's snapshots."""

    resource_type: ResourceType
    refusals: Mapping[Capability, str]
    snapshots: SnapshotApi
    errors: Mapping[str, type[CofferError]]
    _rds: Any
    _region: str

    def share_for_copy(self, recovery_point: RecoveryPoint, account_id: str) -> None:
        self._restore_permission(recovery_point, account_id, "ValuesToAdd")

    def unshare_after_copy(self, recovery_point: RecoveryPoint, account_id: str) -> None:
        try:
            self._restore_permission(recovery_point, account_id, "ValuesToRemove")
        except NotFound:
            return  # deleted already: nothing left to restore

    def _restore_permission(self, recovery_point: RecoveryPoint, account_id: str, change: str) -> None:
        """`account_id` added to (or removed from) the snapshot's `restore` attribute: a cross-account copy's share."""
        api, name = self.snapshots, last_part(self._native_ref(recovery_point), ":")
        verb = "sharing" if change == "ValuesToAdd" else "unsharing"
        with translated(self.errors, f"{verb} {name} with {account_id}"):
            getattr(self._rds, f"modify_{api.snake}_attribute")(
                **{api.identifier: name}, AttributeName="restore", **{change: [account_id]})

    def start_copy(self, recovery_point: RecoveryPoint, target: CopyTarget) -> str:
        if target.region != self._region:
            raise InvalidInput([f"CopyTarget.region: {target.region}, but this adapter's client is in {self._region}"])
        api, source_ref = self.snapshots, self._native_ref(recovery_point)
        name = snapshot_name(target.recovery_point_id)
        params: dict[str, Any] = {
            f"Source{api.identifier}": source_ref, f"Target{api.identifier}": name,
            "Tags": tag_list(recovery_point.tags, coffer_tags(
                target.recovery_point_id, parent_recovery_point_id=recovery_point.recovery_point_id)),
        }
        if target.kms_key_arn:
            params["KmsKeyId"] = target.kms_key_arn
        if region_of(source_ref) != self._region:
            params["SourceRegion"] = region_of(source_ref)
        try:
            with translated(self.errors, f"Copy{api.noun} of {source_ref}"):
                copied = getattr(self._rds, f"copy_{api.snake}")(**params)[api.noun]
        except getattr(self._rds.exceptions, f"{api.noun}AlreadyExistsFault"):
            copied = self._snapshot(name)  # a retried copy: the one the first attempt started
        return str(copied[f"{api.noun}Arn"])

    def copy_status(self, native_ref: str) -> OperationStatus:
        return self._snapshot_status(native_ref)

    @refusals_named
    def start_cold(self, recovery_point: RecoveryPoint) -> None:
        refuse(self.resource_type, self.refusals, Capability.COLD_STORAGE)

    def cold_status(self, recovery_point: RecoveryPoint) -> OperationStatus:
        refuse(self.resource_type, self.refusals, Capability.COLD_STORAGE)

    @refusals_named
    def delete_recovery_point(self, recovery_point: RecoveryPoint) -> None:
        api, name = self.snapshots, last_part(self._native_ref(recovery_point), ":")
        try:
            with translated(self.errors, f"Delete{api.noun} of {name}"):
                getattr(self._rds, f"delete_{api.snake}")(**{api.identifier: name})
        except NotFound:
            return  # deleted already (a retried expiry)

    def _snapshot(self, name: str) -> dict[str, Any]:
        api = self.snapshots
        with translated(self.errors, f"{api.label} {name}"):
            [snapshot] = getattr(self._rds, f"describe_{api.snake}s")(**{api.identifier: name})[f"{api.noun}s"]
        return dict(snapshot)

    def _snapshot_status(self, native_ref: str) -> OperationStatus:
        api = self.snapshots
        snapshot = self._snapshot(last_part(native_ref, ":"))
        status, identifier = snapshot["Status"], snapshot[api.identifier]
        if status in FAILED_SNAPSHOT:
            raise NativeOperationFailed(f"{api.label} {identifier} is {status}")
        return OperationStatus(done=status == "available", size_bytes=int(snapshot.get("AllocatedStorage") or 0) * GIB,
                               details={api.snake: identifier, "status": status,
                                        "progress": snapshot.get("PercentProgress"),
                                        "encrypted": bool(snapshot.get(api.encrypted_field)),
                                        "kms_key_id": snapshot.get("KmsKeyId")})

    def _native_ref(self, recovery_point: RecoveryPoint) -> str:
        if not recovery_point.native_ref:
            raise NotFound(f"recovery point {recovery_point.recovery_point_id} has no {self.snapshots.label}")
        return recovery_point.native_ref
