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

from coffer.adapters.resources.common import (
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
from coffer.adapters.resources.rds_snapshots import DB_CLUSTER_SNAPSHOT, RdsSnapshots, snapshot_name
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
    errors = ERRORS
    #: DescribeDBClusters page size (AWS allows 20 to 100)
    page_size = 100

    def __init__(self, client: RDSClient) -> None:
        self._rds = client
        self._region: str = client.meta.region_name

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

    # ---- backup ---------------------------------------------------------------------------------
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

    def start_backup(self, job: Job) -> str | None:
        cluster = resource_name(job.resource_arn)
        name = snapshot_name(job.recovery_point_id)
        tags = tag_list(job.source.get("tags", {}), job.recovery_point_tags, coffer_tags(job.recovery_point_id))
        try:
            with translated(ERRORS, f"CreateDBClusterSnapshot of {cluster}"):
                created = self._rds.create_db_cluster_snapshot(
                    DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier=name, Tags=tags)["DBClusterSnapshot"]
        except self._rds.exceptions.DBClusterSnapshotAlreadyExistsFault:
            created = self._snapshot(name)
        return str(created["DBClusterSnapshotArn"])

    def backup_status(self, job: Job) -> OperationStatus:
        if not job.native_ref:
            raise NotFound(f"job {job.job_id} has no cluster snapshot yet")
        return self._snapshot_status(job.native_ref)

    # ---- restore --------------------------------------------------------------------------------
    def start_restore(self, job: Job, manifest: Manifest) -> str | None:
        target = job.restore_target["DBClusterIdentifier"]
        mine = self._restored(job)
        if mine is not None:
            return str(mine["DBClusterArn"])
        source = recorded(manifest)
        expected = self._expected(job, manifest)
        params: dict[str, Any] = {
            "DBClusterIdentifier": target,
            "SnapshotIdentifier": last_part(self._native_ref(manifest.recovery_point), ":"),
            "Engine": source["engine"],
            "Tags": tag_list(source.get("tags", {}), coffer_tags(job.recovery_point_id, restore_job_id=job.job_id)),
        }
        if source.get("engine_version"):
            params["EngineVersion"] = source["engine_version"]
        if expected["db_subnet_group_name"]:
            params["DBSubnetGroupName"] = expected["db_subnet_group_name"]
        if expected["vpc_security_group_ids"]:
            params["VpcSecurityGroupIds"] = expected["vpc_security_group_ids"]
        if source.get("port"):
            params["Port"] = int(source["port"])
        try:
            with translated(ERRORS, f"RestoreDBClusterFromSnapshot into {target}"):
                restored = self._rds.restore_db_cluster_from_snapshot(**params)["DBCluster"]
        except self._rds.exceptions.DBClusterAlreadyExistsFault:
            restored = self._restored(job)
            if restored is None:
                raise InvalidInput([f"Metadata.DBClusterIdentifier: DB cluster {target} already exists and this "
                                    "restore did not make it: choose a new identifier"]) from None
        return str(restored["DBClusterArn"])

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
        differences = [f"{key}: {restored[key]!r} != {value!r}" for key, value in expected.items()
                       if key != "tags" and value is not None and restored[key] != value]
        missing = {k: v for k, v in expected["tags"].items() if restored["tags"].get(k) != v}
        if missing:
            differences.append(f"tags missing: {missing}")
        if differences:
            raise RestoreMismatch(f"restored DB cluster {cluster['DBClusterIdentifier']}: " + "; ".join(differences))
        return {"db_cluster_arn": cluster["DBClusterArn"], "db_instances": len(restored["members"]),
                **{k: restored[k] for k in expected if k != "tags"}}

    # ---- copy, cold storage, delete: RdsSnapshots -------------------------------------------

    # ---- helpers --------------------------------------------------------------------------------
    def _cluster(self, identifier: str) -> dict[str, Any]:
        with translated(ERRORS, f"DB cluster {identifier}"):
            [cluster] = self._rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
        return dict(cluster)

    def _restored(self, job: Job) -> dict[str, Any] | None:
        try:
            cluster = self._cluster(job.restore_target["DBClusterIdentifier"])
        except NotFound:
            return None
        if user_tags(cluster.get("TagList")).get(TAG_RESTORE_JOB) != job.job_id:
            return None
        return cluster

    @staticmethod
    def _expected(job: Job, manifest: Manifest) -> dict[str, Any]:
        source, metadata = recorded(manifest), job.restore_target
        groups = split_ids(metadata["VpcSecurityGroupIds"]) if "VpcSecurityGroupIds" in metadata else None
        return {
            "db_subnet_group_name": metadata.get("DBSubnetGroupName", source.get("db_subnet_group_name")),
            "vpc_security_group_ids": sorted(groups if groups is not None
                                             else source.get("vpc_security_group_ids", [])),
            "tags": source.get("tags", {}),
        }


class AuroraAdapter(DbClusterAdapter):
    resource_type = ResourceType.AURORA
    capabilities = frozenset(Capability) - set(REFUSALS)
    refusals = REFUSALS
