"""RDS DB instances: a manual DB snapshot per recovery point, restored to a new DB instance.

- Backup: DescribeDBInstances (the facts the manifest records: engine, class, storage, subnet group, security
  groups, tags), CreateDBSnapshot named `coffer-<recovery point id>` (so a retried start finds it: RDS refuses
  the name twice) and tagged with the instance's tags, the recovery point's tags and its id. The workflow
  polls DescribeDBSnapshots (creating -> available | failed). An instance that belongs to an Aurora cluster
  is refused: back up the cluster (aurora.py).
- Copy: CopyDBSnapshot in the destination region with the destination's KMS key (SourceRegion makes boto3
  presign the cross-region request).
- Restore: RestoreDBInstanceFromDBSnapshot into Metadata's DBInstanceIdentifier, with the recorded instance
  class, subnet group and security groups unless Metadata overrides them (DBInstanceClass, DBSubnetGroupName,
  VpcSecurityGroupIds). An existing instance of that name is used only if this restore job made it.
- Delete: DeleteDBSnapshot. Cold: refused (see REFUSALS).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from coffer.adapters.resources.common import (
    GIB,
    NO_OPTIONS,
    TAG_RESTORE_JOB,
    coffer_tags,
    last_part,
    recorded,
    split_ids,
    tag_list,
    translated,
    user_tags,
)
from coffer.adapters.resources.rds_snapshots import DB_SNAPSHOT, RdsSnapshots, snapshot_name
from coffer.domain.errors import (
    InvalidInput,
    NativeOperationFailed,
    NotFound,
    RestoreMismatch,
    UnsupportedResource,
)
from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest
from coffer.domain.resources import ResourceType, resource_name
from coffer.ports.resources import BackupStrategy, Capability, DiscoveredResource, OperationStatus

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

ERRORS = {
    "DBInstanceNotFound": NotFound,
    "DBInstanceNotFoundFault": NotFound,
    "DBSnapshotNotFound": NotFound,
    "DBSnapshotNotFoundFault": NotFound,
    "DBSubnetGroupNotFoundFault": InvalidInput,
    "InvalidParameterValue": InvalidInput,
    "InvalidParameterCombination": InvalidInput,
    "KMSKeyNotAccessibleFault": InvalidInput,
    "InvalidVPCNetworkStateFault": InvalidInput,
    "InvalidDBInstanceState": NativeOperationFailed,
    "InvalidDBInstanceStateFault": NativeOperationFailed,
    "InvalidDBSnapshotState": NativeOperationFailed,
    "InvalidDBSnapshotStateFault": NativeOperationFailed,
    "SnapshotQuotaExceeded": NativeOperationFailed,
    "InstanceQuotaExceeded": NativeOperationFailed,
    "StorageQuotaExceeded": NativeOperationFailed,
    "InsufficientDBInstanceCapacity": NativeOperationFailed,
}
REFUSALS: Mapping[Capability, str] = {
    Capability.COLD_STORAGE: "RDS snapshots have no cold storage tier",
}
#: instance statuses that end a restore as failed
FAILED_INSTANCE = {"failed", "incompatible-restore", "incompatible-parameters", "incompatible-network",
                   "incompatible-option-group", "inaccessible-encryption-credentials", "storage-full",
                   "deleting"}


class RdsAdapter(RdsSnapshots):
    resource_type = ResourceType.RDS
    strategy = BackupStrategy.NATIVE
    capabilities = frozenset(Capability) - set(REFUSALS)
    refusals = REFUSALS
    backup_options = NO_OPTIONS
    snapshots = DB_SNAPSHOT
    errors = ERRORS
    #: DescribeDBInstances page size (AWS allows 20 to 100)
    page_size = 100

    def __init__(self, client: RDSClient) -> None:
        self._rds = client
        self._region: str = client.meta.region_name

    # ---- discover -------------------------------------------------------------------------------
    def discover(self, account_id: str) -> Iterator[DiscoveredResource]:
        pages = self._rds.get_paginator("describe_db_instances").paginate(
            PaginationConfig={"PageSize": self.page_size})
        for page in pages:
            for db in page["DBInstances"]:
                if not db.get("DBClusterIdentifier"):  # cluster members are protected with their cluster
                    yield DiscoveredResource(db["DBInstanceArn"], self.resource_type, user_tags(db.get("TagList")))

    # ---- backup ---------------------------------------------------------------------------------
    def describe_source(self, resource_arn: str) -> dict[str, Any]:
        db = self._instance(resource_name(resource_arn))
        if db.get("DBClusterIdentifier"):
            raise UnsupportedResource(
                f"RDS instance {db['DBInstanceIdentifier']} belongs to Aurora cluster {db['DBClusterIdentifier']}: "
                "back up the cluster (its ARN ends in cluster:<name>)")
        return self._facts(db)

    @staticmethod
    def _facts(db: dict[str, Any]) -> dict[str, Any]:
        return {
            "db_instance_identifier": db["DBInstanceIdentifier"],
            "engine": db["Engine"],
            "engine_version": db.get("EngineVersion"),
            "db_instance_class": db["DBInstanceClass"],
            "allocated_storage_gib": db.get("AllocatedStorage"),
            "storage_type": db.get("StorageType"),
            "storage_encrypted": bool(db.get("StorageEncrypted")),
            "kms_key_id": db.get("KmsKeyId"),
            "db_subnet_group_name": (db.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
            "vpc_security_group_ids": sorted(g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", [])),
            "availability_zone": db.get("AvailabilityZone"),
            "multi_az": bool(db.get("MultiAZ")),
            "port": (db.get("Endpoint") or {}).get("Port") or db.get("DbInstancePort") or None,
            "publicly_accessible": db.get("PubliclyAccessible"),
            "tags": user_tags(db.get("TagList")),
        }

    def start_backup(self, job: Job) -> str | None:
        instance = resource_name(job.resource_arn)
        name = snapshot_name(job.recovery_point_id)
        tags = tag_list(job.source.get("tags", {}), job.recovery_point_tags, coffer_tags(job.recovery_point_id))
        try:
            with translated(ERRORS, f"CreateDBSnapshot of {instance}"):
                created = self._rds.create_db_snapshot(DBInstanceIdentifier=instance, DBSnapshotIdentifier=name,
                                                       Tags=tags)["DBSnapshot"]
        except self._rds.exceptions.DBSnapshotAlreadyExistsFault:
            created = self._snapshot(name)  # a retried start: the name is this recovery point's
        arn: str = created["DBSnapshotArn"]
        return arn

    def backup_status(self, job: Job) -> OperationStatus:
        if not job.native_ref:
            raise NotFound(f"job {job.job_id} has no DB snapshot yet")
        return self._snapshot_status(job.native_ref)

    # ---- restore --------------------------------------------------------------------------------
    def start_restore(self, job: Job, manifest: Manifest) -> str | None:
        target = job.restore_target["DBInstanceIdentifier"]
        mine = self._restored(job)
        if mine is not None:
            return str(mine["DBInstanceArn"])
        source = recorded(manifest)
        expected = self._expected(job, manifest)
        params: dict[str, Any] = {
            "DBInstanceIdentifier": target,
            # The snapshot is in this region and account (a copy is restored where it was copied to).
            "DBSnapshotIdentifier": last_part(self._native_ref(manifest.recovery_point), ":"),
            "DBInstanceClass": expected["db_instance_class"],
            "MultiAZ": bool(source.get("multi_az")),
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
        try:
            with translated(ERRORS, f"RestoreDBInstanceFromDBSnapshot into {target}"):
                restored = self._rds.restore_db_instance_from_db_snapshot(**params)["DBInstance"]
        except self._rds.exceptions.DBInstanceAlreadyExistsFault:
            restored = self._restored(job)  # made by a call that timed out, or someone else's instance
            if restored is None:
                raise InvalidInput([f"Metadata.DBInstanceIdentifier: DB instance {target} already exists and this "
                                    "restore did not make it: choose a new identifier"]) from None
        return str(restored["DBInstanceArn"])

    def restore_status(self, job: Job, manifest: Manifest) -> OperationStatus:
        db = self._restored(job)
        if db is None:
            raise NotFound(f"restore job {job.job_id} made no DB instance")
        status = db["DBInstanceStatus"]
        if status in FAILED_INSTANCE:
            raise NativeOperationFailed(f"restored DB instance {db['DBInstanceIdentifier']} is {status}")
        return OperationStatus(done=status == "available", size_bytes=int(db.get("AllocatedStorage") or 0) * GIB,
                               details={"db_instance": db["DBInstanceIdentifier"], "status": status})

    def validate_restore(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        db = self._restored(job)
        if db is None:
            raise RestoreMismatch(f"restore job {job.job_id} made no DB instance")
        restored, source = self._facts(db), recorded(manifest)
        expected = {**self._expected(job, manifest), "engine": source["engine"],
                    "engine_version": source.get("engine_version"), "storage_encrypted": source["storage_encrypted"]}
        differences = [f"{key}: {restored[key]!r} != {value!r}" for key, value in expected.items()
                       if key != "tags" and value is not None and restored[key] != value]
        if (restored["allocated_storage_gib"] or 0) < (source.get("allocated_storage_gib") or 0):
            differences.append(f"allocated_storage_gib: {restored['allocated_storage_gib']} < "
                               f"{source['allocated_storage_gib']}")
        missing = {k: v for k, v in expected["tags"].items() if restored["tags"].get(k) != v}
        if missing:
            differences.append(f"tags missing: {missing}")
        if differences:
            raise RestoreMismatch(f"restored DB instance {db['DBInstanceIdentifier']}: " + "; ".join(differences))
        return {"db_instance_arn": db["DBInstanceArn"], **{k: restored[k] for k in expected if k != "tags"}}

    # ---- copy, cold storage, delete: RdsSnapshots -------------------------------------------

    # ---- helpers --------------------------------------------------------------------------------
    def _instance(self, identifier: str) -> dict[str, Any]:
        with translated(ERRORS, f"DB instance {identifier}"):
            [db] = self._rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
        return dict(db)

    def _restored(self, job: Job) -> dict[str, Any] | None:
        """The restore target if this restore job made it (its tag says so), None if there is none."""
        try:
            db = self._instance(job.restore_target["DBInstanceIdentifier"])
        except NotFound:
            return None
        if user_tags(db.get("TagList")).get(TAG_RESTORE_JOB) != job.job_id:
            return None
        return db

    @staticmethod
    def _expected(job: Job, manifest: Manifest) -> dict[str, Any]:
        source, metadata = recorded(manifest), job.restore_target
        groups = split_ids(metadata["VpcSecurityGroupIds"]) if "VpcSecurityGroupIds" in metadata else None
        return {
            "db_instance_class": metadata.get("DBInstanceClass", source["db_instance_class"]),
            "db_subnet_group_name": metadata.get("DBSubnetGroupName", source.get("db_subnet_group_name")),
            "vpc_security_group_ids": sorted(groups if groups is not None
                                             else source.get("vpc_security_group_ids", [])),
            "tags": source.get("tags", {}),
        }
