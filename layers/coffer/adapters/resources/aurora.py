"""Aurora DB clusters: a manual cluster snapshot per recovery point, restored to a new cluster.

`DbClusterAdapter` is the RDS family's cluster adapter: Aurora, DocumentDB (documentdb.py) and Neptune
(neptune.py) clusters are one RDS API (DescribeDBClusters, CreateDBClusterSnapshot, CopyDBClusterSnapshot,
RestoreDBClusterFromSnapshot) with one ARN form (cluster:<id>), told apart by the cluster's engine
(domain/resources.py DB_CLUSTER_ENGINES). A type of the family is a subclass naming its type and refusals.

- Backup: DescribeDBClusters (engine, version, subnet group, security groups, port, encryption, members,
  tags), CreateDBClusterSnapshot named `coffer-<recovery point id>` and tagged like the RDS adapter's.
  The workflow polls DescribeDBClusterSnapshots (creating -> available | failed).
- Copy: CopyDBClusterSnapshot in the destination region with the destination's KMS key. RDS refuses a KMS
  key for an unencrypted cluster snapshot (it cannot encrypt one while copying); that refusal is reported as
  the request's fault (InvalidInput).
- Restore: RestoreDBClusterFromSnapshot into Metadata's DBClusterIdentifier with the recorded engine and
  version, subnet group and security groups (DBSubnetGroupName, VpcSecurityGroupIds override them). As with
  AWS Backup, the new cluster has no DB instances: add them once it is available.
- Delete: DeleteDBClusterSnapshot. Cold: refused (see REFUSALS).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from coffer.adapters.resources.common import NO_OPTIONS, last_part, recorded, translated, user_tags
from coffer.adapters.resources.rds_snapshots import DB_CLUSTER, DB_CLUSTER_SNAPSHOT, RdsSnapshots
from coffer.domain.errors import (
    InvalidInput,
    NativeOperationFailed,
    NotFound,
    RestoreMismatch,
    UnsupportedResource,
)
from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest
from coffer.domain.resources import DB_CLUSTER_TYPES, ResourceType, cluster_type_of, resource_name
from coffer.ports.resources import BackupStrategy, Capability, DiscoveredResource, OperationStatus

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

ERRORS = {
    "DBClusterNotFoundFault": NotFound,
    "DBClusterSnapshotNotFoundFault": NotFound,
    "DBSubnetGroupNotFoundFault": InvalidInput,
    "InvalidParameterValue": InvalidInput,
    "InvalidParameterCombination": InvalidInput,
    "KMSKeyNotAccessibleFault": InvalidInput,
    "InvalidVPCNetworkStateFault": InvalidInput,
    "InvalidDBClusterStateFault": NativeOperationFailed,
    "InvalidDBClusterSnapshotStateFault": NativeOperationFailed,
    "SnapshotQuotaExceeded": NativeOperationFailed,
    "DBClusterQuotaExceededFault": NativeOperationFailed,
    "StorageQuotaExceeded": NativeOperationFailed,
}
REFUSALS: Mapping[Capability, str] = {
    Capability.COLD_STORAGE: "Aurora cluster snapshots have no cold storage tier",
}
FAILED_CLUSTER = {"failed", "inaccessible-encryption-credentials", "incompatible-restore", "incompatible-parameters",
                  "incompatible-network", "deleting"}


def cluster_engine(client: RDSClient, resource_arn: str) -> str | None:
    """The engine of the DB cluster an ARN names (None: no such cluster): which of the family it is."""
    try:
        with translated(ERRORS, f"DB cluster {resource_name(resource_arn)}"):
            [cluster] = client.describe_db_clusters(DBClusterIdentifier=resource_name(resource_arn))["DBClusters"]
    except NotFound:
        return None
    return str(cluster["Engine"])


class DbClusterAdapter(RdsSnapshots):
    """One cluster type of the RDS family: its clusters are those whose engine `cluster_type_of` says is it."""

    resource_type: ResourceType
    strategy = BackupStrategy.NATIVE
    backup_options = NO_OPTIONS
    snapshots = DB_CLUSTER_SNAPSHOT
    databases = DB_CLUSTER
    failed_databases = FAILED_CLUSTER
    errors = ERRORS
    #: DescribeDBClusters page size (AWS allows 20 to 100)
    page_size = 100

    # ---- discover -------------------------------------------------------------------------------
    def discover(self, account_id: str) -> Iterator[DiscoveredResource]:
        pages = self._rds.get_paginator("describe_db_clusters").paginate(
            PaginationConfig={"PageSize": self.page_size})
        for page in pages:
            for cluster in page["DBClusters"]:
                # DescribeDBClusters lists the whole family (and RDS's Multi-AZ DB clusters, which are none of it)
                if cluster_type_of(cluster["Engine"]) is self.resource_type:
                    yield DiscoveredResource(cluster["DBClusterArn"], self.resource_type,
                                             user_tags(cluster.get("TagList")))

    # ---- backup: RdsSnapshots.start_backup, backup_status -------------------------------------
    def describe_source(self, resource_arn: str) -> dict[str, Any]:
        cluster = self._cluster(resource_name(resource_arn))
        if cluster_type_of(cluster["Engine"]) is not self.resource_type:
            family = ", ".join(t.value for t in sorted(DB_CLUSTER_TYPES))
            raise UnsupportedResource(f"DB cluster {cluster['DBClusterIdentifier']} runs {cluster['Engine']}, "
                                      f"not {self.resource_type.value}: Coffer protects {family} clusters (each "
                                      "by its engine) and RDS instances")
        return self._facts(cluster)

    @staticmethod
    def _facts(cluster: dict[str, Any]) -> dict[str, Any]:
        return {
            "db_cluster_identifier": cluster["DBClusterIdentifier"],
            "engine": cluster["Engine"],
            "engine_version": cluster.get("EngineVersion"),
            "engine_mode": cluster.get("EngineMode"),
            "db_subnet_group_name": cluster.get("DBSubnetGroup"),
            "vpc_security_group_ids": sorted(g["VpcSecurityGroupId"] for g in cluster.get("VpcSecurityGroups", [])),
            "port": cluster.get("Port"),
            "storage_encrypted": bool(cluster.get("StorageEncrypted")),
            "kms_key_id": cluster.get("KmsKeyId"),
            "database_name": cluster.get("DatabaseName"),
            "members": [{"db_instance_identifier": m["DBInstanceIdentifier"], "writer": bool(m.get("IsClusterWriter"))}
                        for m in cluster.get("DBClusterMembers", [])],
            "tags": user_tags(cluster.get("TagList")),
        }

    # ---- restore --------------------------------------------------------------------------------
    def start_restore(self, job: Job, manifest: Manifest) -> str | None:
        source = recorded(manifest)
        params = {**self._placement(job, manifest), "Engine": source["engine"],
                  "DBClusterIdentifier": job.restore_target["DBClusterIdentifier"],
                  "SnapshotIdentifier": last_part(self._native_ref(manifest.recovery_point), ":")}
        if source.get("engine_version"):
            params["EngineVersion"] = source["engine_version"]
        return self._start_restored(job, "RestoreDBClusterFromSnapshot", self._rds.restore_db_cluster_from_snapshot,
                                    params)

    def restore_status(self, job: Job, manifest: Manifest) -> OperationStatus:
        cluster = self._restored(job)
        if cluster is None:
            raise NotFound(f"restore job {job.job_id} made no DB cluster")
        status = cluster["Status"]
        if status in FAILED_CLUSTER:
            raise NativeOperationFailed(f"restored DB cluster {cluster['DBClusterIdentifier']} is {status}")
        return OperationStatus(done=status == "available", details={
            "db_cluster": cluster["DBClusterIdentifier"], "status": status})

    def validate_restore(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        cluster = self._restored(job)
        if cluster is None:
            raise RestoreMismatch(f"restore job {job.job_id} made no DB cluster")
        restored, source = self._facts(cluster), recorded(manifest)
        expected = {**self._expected(job, manifest), "engine": source["engine"],
                    "engine_version": source.get("engine_version"), "storage_encrypted": source["storage_encrypted"]}
        differences = self._differences(restored, expected)
        if differences:
            raise RestoreMismatch(f"restored DB cluster {cluster['DBClusterIdentifier']}: " + "; ".join(differences))
        return {"db_cluster_arn": cluster["DBClusterArn"], "db_instances": len(restored["members"]),
                **{k: restored[k] for k in expected if k != "tags"}}

    # ---- copy, cold storage, delete: RdsSnapshots -------------------------------------------

    # ---- helpers --------------------------------------------------------------------------------
    def _cluster(self, identifier: str) -> dict[str, Any]:
        return self._database(identifier)


class AuroraAdapter(DbClusterAdapter):
    resource_type = ResourceType.AURORA
    capabilities = frozenset(Capability) - set(REFUSALS)
    refusals = REFUSALS
