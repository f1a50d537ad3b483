"""What the RDS family's adapters do alike: snapshot, share, copy, delete and poll, and restore into a database
that only this restore job may have made.

The RDS API has two families of the same calls - DB snapshots of DB instances and DB cluster snapshots of DB
clusters (Aurora, DocumentDB, Neptune) - differing only in names (``copy_db_snapshot`` /
``copy_db_cluster_snapshot``, ``DBInstanceIdentifier`` / ``DBClusterIdentifier`` ...). `SnapshotApi` and `DbApi`
hold those names; `RdsSnapshots` is the one implementation both adapters inherit (rds.py, aurora.py, and the
point-in-time restores in continuous.py), each with its own names, facts and error table.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coffer.adapters.aws import refusals_named
from coffer.adapters.resources.common import (
    GIB,
    TAG_RESTORE_JOB,
    NoColdStorage,
    coffer_tags,
    last_part,
    recorded,
    region_of,
    split_ids,
    tag_list,
    translated,
    user_tags,
)
from coffer.domain.errors import CofferError, InvalidInput, NativeOperationFailed, NotFound
from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.resources import ResourceType, resource_name
from coffer.ports.resources import Capability, CopyTarget, OperationStatus, StartedBackup

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

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


@dataclass(frozen=True)
class DbApi:
    """The names the RDS API gives one kind of database: what is backed up and what a restore makes."""

    noun: str  # DBInstance | DBCluster: parameters, fields, errors
    snake: str  # db_instance | db_cluster: boto3 method names
    label: str  # what messages call one
    status_field: str  # DBInstanceStatus | Status

    @property
    def identifier(self) -> str:
        """The API's parameter and the restore Metadata key naming one."""
        return f"{self.noun}Identifier"

    @property
    def arn_field(self) -> str:
        return f"{self.noun}Arn"


DB_INSTANCE = DbApi("DBInstance", "db_instance", "DB instance", "DBInstanceStatus")
DB_CLUSTER = DbApi("DBCluster", "db_cluster", "DB cluster", "Status")

#: A second translation inside the first (a point-in-time restore's refused time): errors and what it says.
ExtraErrors = tuple[Mapping[str, type[CofferError]], str]


class RdsSnapshots(NoColdStorage):
    """Backup, copy, cold storage (refused: no cold tier), deletion and polling of an RDS-family adapter's
    snapshots, and the parts of a restore every kind of database shares."""

    resource_type: ResourceType
    refusals: Mapping[Capability, str]
    snapshots: SnapshotApi
    databases: DbApi
    errors: Mapping[str, type[CofferError]]
    #: the database statuses that end a restore as failed (target_status; each kind's restore_status alike)
    failed_databases: Collection[str] = frozenset({"failed"})

    def __init__(self, client: RDSClient) -> None:
        self._rds = client
        self._region: str = client.meta.region_name

    # ---- backup ---------------------------------------------------------------------------------
    def start_backup(self, job: Job, fresh: bool = False) -> StartedBackup:
        """Create<snapshot> named for the recovery point (RDS refuses a name twice: a retried start finds it, so no
        look first, fresh or not). Its status is the create's own answer (as Describe<snapshots> would give it)."""
        api, source = self.snapshots, resource_name(job.resource_arn)
        name = snapshot_name(job.recovery_point_id)
        tags = tag_list(job.source.get("tags", {}), job.recovery_point_tags, coffer_tags(job.recovery_point_id))
        try:
            with translated(self.errors, f"Create{api.noun} of {source}"):
                created = getattr(self._rds, f"create_{api.snake}")(
                    **{self.databases.identifier: source, api.identifier: name}, Tags=tags)[api.noun]
        except getattr(self._rds.exceptions, f"{api.noun}AlreadyExistsFault"):
            created = self._snapshot(name)  # a retried start: the name is this recovery point's
        return StartedBackup(str(created[f"{api.noun}Arn"]), self._status_of(created))

    def backup_status(self, job: Job) -> OperationStatus:
        if not job.native_ref:
            raise NotFound(f"job {job.job_id} has no {self.snapshots.label} yet")
        return self._snapshot_status(job.native_ref)

    # ---- restore --------------------------------------------------------------------------------
    def _database(self, identifier: str) -> dict[str, Any]:
        api = self.databases
        with translated(self.errors, f"{api.label} {identifier}"):
            [found] = getattr(self._rds, f"describe_{api.snake}s")(**{api.identifier: identifier})[f"{api.noun}s"]
        return dict(found)

    def _restored(self, job: Job) -> dict[str, Any] | None:
        """The restore target if this restore job made it (its tag says so), None if there is none."""
        try:
            database = self._database(job.restore_target[self.databases.identifier])
        except NotFound:
            return None
        if user_tags(database.get("TagList")).get(TAG_RESTORE_JOB) != job.job_id:
            return None
        return database

    def target_status(self, native_ref: str) -> OperationStatus:
        """A restored DB instance's or cluster's state by its ARN (ports/restore_targets.py): one Describe."""
        api = self.databases
        database = self._database(last_part(native_ref, ":"))
        status, identifier = database[api.status_field], database[api.identifier]
        details = {api.snake: identifier, "status": status,
                   "restore_job_id": user_tags(database.get("TagList")).get(TAG_RESTORE_JOB)}
        if status in self.failed_databases:
            details["failed"] = f"restored {api.label} {identifier} is {status}"
        return OperationStatus(done=status == "available", details=details)

    def _expected(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        """Where the restored database goes: the recorded placement, unless the restore's Metadata overrides it."""
        source, metadata = recorded(manifest), job.restore_target
        groups = split_ids(metadata["VpcSecurityGroupIds"]) if "VpcSecurityGroupIds" in metadata else None
        return {
            "db_subnet_group_name": metadata.get("DBSubnetGroupName", source.get("db_subnet_group_name")),
            "vpc_security_group_ids": sorted(groups if groups is not None
                                             else source.get("vpc_security_group_ids", [])),
            "tags": source.get("tags", {}),
        }

    def _placement(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        """The restore call's parameters every kind shares: tags (the job's own among them), subnet group,
        security groups, public access and port, each only where recorded or asked for."""
        source, expected = recorded(manifest), self._expected(job, manifest)
        params: dict[str, Any] = {
            "Tags": tag_list(source.get("tags", {}), coffer_tags(job.recovery_point_id, restore_job_id=job.job_id)),
        }
        if expected["db_subnet_group_name"]:
            params["DBSubnetGroupName"] = expected["db_subnet_group_name"]
        if expected["vpc_security_group_ids"]:
            params["VpcSecurityGroupIds"] = expected["vpc_security_group_ids"]
        if source.get("publicly_accessible") is not None:
            params["PubliclyAccessible"] = bool(source["publicly_accessible"])
        if source.get("port"):
            params["Port"] = int(source["port"])
        return params

    def _start_restored(self, job: Job, call: str, start: Callable[..., Any], params: dict[str, Any],
                        extra_errors: ExtraErrors | None = None) -> str:
        """Start a restore into Metadata's identifier: the database this job made already (a retry) is used, one
        that someone else made is refused by name, never taken over."""
        api = self.databases
        mine = self._restored(job)
        if mine is not None:
            return str(mine[api.arn_field])
        target = job.restore_target[api.identifier]
        inner: AbstractContextManager[None] = translated(*extra_errors) if extra_errors else nullcontext()
        try:
            with translated(self.errors, f"{call} into {target}"), inner:
                restored = start(**params)[api.noun]
        except getattr(self._rds.exceptions, f"{api.noun}AlreadyExistsFault"):
            restored = self._restored(job)  # made by a call that timed out, or someone else's database
            if restored is None:
                raise InvalidInput([f"Metadata.{api.identifier}: {api.label} {target} already exists and this "
                                    "restore did not make it: choose a new identifier"]) from None
        return str(restored[api.arn_field])

    @staticmethod
    def _differences(restored: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
        """What the restored database has otherwise than expected (None: not recorded, not checked)."""
        differences = [f"{key}: {restored[key]!r} != {value!r}" for key, value in expected.items()
                       if key != "tags" and value is not None and restored[key] != value]
        missing = {k: v for k, v in expected["tags"].items() if restored["tags"].get(k) != v}
        if missing:
            differences.append(f"tags missing: {missing}")
        return differences

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
        return self._status_of(self._snapshot(last_part(native_ref, ":")))

    def _status_of(self, snapshot: Mapping[str, Any]) -> OperationStatus:
        """A snapshot's status from its description (Describe<snapshots>', or Create<snapshot>'s own answer)."""
        api = self.snapshots
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
