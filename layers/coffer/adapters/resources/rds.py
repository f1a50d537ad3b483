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
from typing import Any

from coffer.adapters.resources.common import GIB, NO_OPTIONS, last_part, recorded, user_tags
from coffer.adapters.resources.rds_snapshots import DB_INSTANCE, DB_SNAPSHOT, RdsSnapshots
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
    databases = DB_INSTANCE
    failed_databases = FAILED_INSTANCE
    errors = ERRORS
    #: DescribeDBInstances page size (AWS allows 20 to 100)
    page_size = 100

    # ---- discover -------------------------------------------------------------------------------
    def discover(self, account_id: str) -> Iterator[DiscoveredResource]:
        pages = self._rds.get_paginator("describe_db_instances").paginate(
            PaginationConfig={"PageSize": self.page_size})
        for page in pages:
            for db in page["DBInstances"]:
                if not db.get("DBClusterIdentifier"):  # cluster members are protected with their cluster
                    yield DiscoveredResource(db["DBInstanceArn"], self.resource_type, user_tags(db.get("TagList")))

    # ---- backup: RdsSnapshots.start_backup, backup_status -------------------------------------
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

    # ---- restore --------------------------------------------------------------------------------
    def start_restore(self, job: Job, manifest: Manifest) -> str | None:
        return self._start_restored(job, "RestoreDBInstanceFromDBSnapshot",
                                    self._rds.restore_db_instance_from_db_snapshot, {
            **self._instance_params(job, manifest),
            "DBInstanceIdentifier": job.restore_target["DBInstanceIdentifier"],
            # The snapshot is in this region and account (a copy is restored where it was copied to).
            "DBSnapshotIdentifier": last_part(self._native_ref(manifest.recovery_point), ":"),
        })

    def _instance_params(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        """A new instance's class and Multi-AZ, with the family's placement: from a snapshot or to a time."""
        return {**self._placement(job, manifest), "DBInstanceClass": self._expected(job, manifest)["db_instance_class"],
                "MultiAZ": bool(recorded(manifest).get("multi_az"))}

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
        differences = self._differences(restored, expected)
        if (restored["allocated_storage_gib"] or 0) < (source.get("allocated_storage_gib") or 0):
            differences.append(f"allocated_storage_gib: {restored['allocated_storage_gib']} < "
                               f"{source['allocated_storage_gib']}")
        if differences:
            raise RestoreMismatch(f"restored DB instance {db['DBInstanceIdentifier']}: " + "; ".join(differences))
        return {"db_instance_arn": db["DBInstanceArn"], **{k: restored[k] for k in expected if k != "tags"}}

    # ---- copy, cold storage, delete: RdsSnapshots -------------------------------------------

    # ---- helpers --------------------------------------------------------------------------------
    def _instance(self, identifier: str) -> dict[str, Any]:
        return self._database(identifier)

    def _expected(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        placement = super()._expected(job, manifest)
        return {"db_instance_class": job.restore_target.get("DBInstanceClass",
                                                            recorded(manifest)["db_instance_class"]), **placement}
