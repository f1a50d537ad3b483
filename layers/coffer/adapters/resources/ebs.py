"""EBS volumes: a snapshot per recovery point (CreateSnapshot), restored as a new volume (CreateVolume).

- Backup: DescribeVolumes (the facts the manifest records), DescribeSnapshots by Coffer's tag (a retried
  start finds the snapshot it made), CreateSnapshot tagged with the volume's tags, the recovery point's tags
  and its id. An encrypted volume's snapshot is encrypted with the volume's key (EBS keeps it).
  The workflow polls DescribeSnapshots (pending -> completed | error).
- Copy: CopySnapshot, called in the destination region (and account), re-encrypted with the given key.
- Cold: ModifySnapshotTier to the archive tier; DescribeSnapshotTierStatus says when it is done.
- Restore: CreateVolume from the snapshot, in the recorded availability zone and with the recorded type
  unless Metadata overrides them. An archived snapshot is first brought back (RestoreSnapshotTier,
  temporary) and the volume is made by the poll once it is usable.
- Delete: DeleteSnapshot.
IAM for backup and restore is in template.yaml; copy, cold, delete and discover need ec2:CopySnapshot,
ec2:ModifySnapshotTier, ec2:DeleteSnapshot and ec2:DescribeVolumes for the functions that will call them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from coffer.adapters.aws import refusals_named
from coffer.adapters.resources.common import (
    GIB,
    NO_OPTIONS,
    NO_REFUSALS,
    TAG_RECOVERY_POINT,
    TAG_RESTORE_JOB,
    coffer_tags,
    int_metadata,
    last_part,
    recorded,
    region_of,
    snapshot_permission,
    tag_filter,
    tag_list,
    translated,
    user_tags,
)
from coffer.domain.errors import InvalidInput, NativeOperationFailed, NotFound, RestoreMismatch
from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.resources import ResourceType, resource_name
from coffer.ports.resources import (
    BackupStrategy,
    Capability,
    CopyTarget,
    DiscoveredResource,
    OperationStatus,
    StartedBackup,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

ERRORS = {
    "InvalidVolume.NotFound": NotFound,
    "InvalidSnapshot.NotFound": NotFound,
    "InvalidVolumeID.Malformed": InvalidInput,
    "InvalidSnapshotID.Malformed": InvalidInput,
    "InvalidParameterValue": InvalidInput,
    "InvalidParameterCombination": InvalidInput,
    "InvalidZone.NotFound": InvalidInput,
    "KMSKeyNotAccessibleFault": InvalidInput,
    "InvalidKMSKey.Id": InvalidInput,
    "IncorrectState": NativeOperationFailed,
    "SnapshotLimitExceeded": NativeOperationFailed,
    "InvalidSnapshot.InUse": NativeOperationFailed,
}
#: volume types whose IOPS / throughput are set, not derived from the size
IOPS_TYPES = {"io1", "io2", "gp3"}
#: LastTieringOperationStatus of an archived snapshot that is back in the standard tier (for a while or for good)
RESTORED_TIERING = {"temporary-restore-completed", "permanent-restore-completed"}
#: how long a snapshot brought back from the archive tier for a restore stays in the standard tier
TEMPORARY_RESTORE_DAYS = 2


def snapshot_arn(partition: str, region: str, snapshot_id: str) -> str:
    # EBS snapshot ARNs carry no account (AWS Backup names its EBS recovery points the same way).
    return f"arn:{partition}:ec2:{region}::snapshot/{snapshot_id}"


class EbsAdapter:
    resource_type = ResourceType.EBS
    strategy = BackupStrategy.NATIVE
    capabilities = frozenset(Capability)
    refusals = NO_REFUSALS
    backup_options = NO_OPTIONS
    #: DescribeVolumes page size (AWS allows 5 to 500)
    page_size = 500

    def __init__(self, client: EC2Client) -> None:
        self._ec2 = client
        self._region: str = client.meta.region_name
        self._partition: str = client.meta.partition

    # ---- discover -------------------------------------------------------------------------------
    def discover(self, account_id: str) -> Iterator[DiscoveredResource]:
        pages = self._ec2.get_paginator("describe_volumes").paginate(PaginationConfig={"PageSize": self.page_size})
        for page in pages:
            for volume in page["Volumes"]:
                arn = f"arn:{self._partition}:ec2:{self._region}:{account_id}:volume/{volume['VolumeId']}"
                yield DiscoveredResource(arn, self.resource_type, user_tags(volume.get("Tags")))

    # ---- backup ---------------------------------------------------------------------------------
    def describe_source(self, resource_arn: str) -> dict[str, Any]:
        return self._facts(self._volume(resource_name(resource_arn)))

    @staticmethod
    def _facts(volume: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "volume_id": volume["VolumeId"],
            "availability_zone": volume["AvailabilityZone"],
            "size_gib": volume["Size"],
            "volume_type": volume.get("VolumeType"),
            "iops": volume.get("Iops"),
            "throughput": volume.get("Throughput"),
            "encrypted": bool(volume.get("Encrypted")),
            "kms_key_id": volume.get("KmsKeyId"),
            "multi_attach": bool(volume.get("MultiAttachEnabled")),
            "tags": user_tags(volume.get("Tags")),
        }

    def start_backup(self, job: Job, fresh: bool = False) -> StartedBackup:
        existing = None if fresh else self._find_snapshot(job.recovery_point_id)
        if existing:
            return StartedBackup(snapshot_arn(self._partition, self._region, existing["SnapshotId"]),
                                 self._status_of(existing))
        volume_id = resource_name(job.resource_arn)
        tags = tag_list(job.source.get("tags", {}), job.recovery_point_tags, coffer_tags(job.recovery_point_id))
        with translated(ERRORS, f"CreateSnapshot of {volume_id}"):
            snapshot = self._ec2.create_snapshot(
                VolumeId=volume_id, Description=f"Coffer recovery point {job.recovery_point_id}",
                TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}])
        # CreateSnapshot answers with the snapshot as DescribeSnapshots would (its State): no look needed
        return StartedBackup(snapshot_arn(self._partition, self._region, snapshot["SnapshotId"]),
                             self._status_of(snapshot))

    def backup_status(self, job: Job) -> OperationStatus:
        if not job.native_ref:
            raise NotFound(f"job {job.job_id} has no EBS snapshot yet")
        return self._snapshot_status(job.native_ref)

    # ---- restore --------------------------------------------------------------------------------
    def start_restore(self, job: Job, manifest: Manifest) -> str | None:
        existing = self._restored_volume(job.job_id)
        if existing:
            return self._volume_arn(manifest, existing["VolumeId"])
        snapshot_id = self._snapshot_id(manifest)
        if not self._usable(snapshot_id):
            with translated(ERRORS, f"RestoreSnapshotTier of {snapshot_id}"):
                self._ec2.restore_snapshot_tier(SnapshotId=snapshot_id, TemporaryRestoreDays=TEMPORARY_RESTORE_DAYS)
            return None  # restore_status makes the volume once the snapshot is back in the standard tier
        return self._volume_arn(manifest, self._create_volume(job, manifest, snapshot_id))

    def restore_status(self, job: Job, manifest: Manifest) -> OperationStatus:
        volume = self._restored_volume(job.job_id)
        if volume is None:
            snapshot_id = self._snapshot_id(manifest)
            if not self._usable(snapshot_id):
                return OperationStatus(done=False, details={"snapshot": snapshot_id, "waiting": "archive tier"})
            self._create_volume(job, manifest, snapshot_id)
            return OperationStatus(done=False, details={"snapshot": snapshot_id, "volume": "creating"})
        state = volume["State"]
        if state == "error":
            raise NativeOperationFailed(f"restored volume {volume['VolumeId']} is in state error")
        return OperationStatus(done=state in ("available", "in-use"), size_bytes=volume["Size"] * GIB,
                               details={"volume_id": volume["VolumeId"], "state": state})

    def target_status(self, native_ref: str) -> OperationStatus:
        """A restored volume's state by its ARN (ports/restore_targets.py): one DescribeVolumes."""
        volume = self._volume(last_part(native_ref, "/"))
        state = volume["State"]
        details = {"volume_id": volume["VolumeId"], "state": state,
                   "restore_job_id": user_tags(volume.get("Tags")).get(TAG_RESTORE_JOB)}
        if state == "error":
            details["failed"] = f"restored volume {volume['VolumeId']} is in state error"
        return OperationStatus(done=state in ("available", "in-use"), size_bytes=volume["Size"] * GIB,
                               details=details)

    def validate_restore(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        volume = self._restored_volume(job.job_id)
        if volume is None:
            raise RestoreMismatch(f"restore job {job.job_id} made no volume")
        expected = self._expected(job, manifest)
        restored = self._facts(volume)
        differences = [f"{key}: {restored[key]!r} != {value!r}" for key, value in expected.items()
                       if key != "tags" and restored[key] != value]
        missing = {k: v for k, v in expected["tags"].items() if restored["tags"].get(k) != v}
        if missing:
            differences.append(f"tags missing: {missing}")
        if differences:
            raise RestoreMismatch(f"restored volume {volume['VolumeId']}: " + "; ".join(differences))
        return {"volume_id": volume["VolumeId"], **{k: restored[k] for k in expected if k != "tags"}}

    # ---- copy, cold, delete ---------------------------------------------------------------------
    def share_for_copy(self, recovery_point: RecoveryPoint, account_id: str) -> None:
        snapshot_permission(self._ec2, ERRORS, self._snapshot_id_of(recovery_point.native_ref), account_id, "add")

    def unshare_after_copy(self, recovery_point: RecoveryPoint, account_id: str) -> None:
        snapshot_permission(self._ec2, ERRORS, self._snapshot_id_of(recovery_point.native_ref), account_id, "remove")

    def start_copy(self, recovery_point: RecoveryPoint, target: CopyTarget) -> str:
        self._check_region(target)
        existing = self._find_snapshot(target.recovery_point_id)
        if existing:
            return snapshot_arn(self._partition, self._region, existing["SnapshotId"])
        source_ref = recovery_point.native_ref or ""
        params: dict[str, Any] = {
            "SourceSnapshotId": self._snapshot_id_of(source_ref), "SourceRegion": region_of(source_ref),
            "Description": f"Coffer recovery point {target.recovery_point_id} "
                           f"(copy of {recovery_point.recovery_point_id})",
            "TagSpecifications": [{"ResourceType": "snapshot", "Tags": tag_list(
                recovery_point.tags,
                coffer_tags(target.recovery_point_id, parent_recovery_point_id=recovery_point.recovery_point_id))}],
        }
        if target.kms_key_arn:
            params.update(Encrypted=True, KmsKeyId=target.kms_key_arn)
        with translated(ERRORS, f"CopySnapshot of {source_ref}"):
            copied = self._ec2.copy_snapshot(**params)
        return snapshot_arn(self._partition, self._region, copied["SnapshotId"])

    def copy_status(self, native_ref: str) -> OperationStatus:
        return self._snapshot_status(native_ref)

    @refusals_named
    def start_cold(self, recovery_point: RecoveryPoint) -> None:
        snapshot_id = self._snapshot_id_of(recovery_point.native_ref)
        status = self._tier_status(snapshot_id)
        if status.get("StorageTier") == "archive" or status.get("LastTieringOperationStatus") in (
                "archival-in-progress", "archival-completed"):
            return
        with translated(ERRORS, f"ModifySnapshotTier of {snapshot_id}"):
            self._ec2.modify_snapshot_tier(SnapshotId=snapshot_id, StorageTier="archive")

    def cold_status(self, recovery_point: RecoveryPoint) -> OperationStatus:
        snapshot_id = self._snapshot_id_of(recovery_point.native_ref)
        status = self._tier_status(snapshot_id)
        operation = status.get("LastTieringOperationStatus")
        if operation == "archival-failed":
            raise NativeOperationFailed(f"archiving {snapshot_id} failed: "
                                        f"{status.get('LastTieringOperationStatusDetail', '')}")
        return OperationStatus(done=status.get("StorageTier") == "archive" and operation == "archival-completed",
                               details={"snapshot_id": snapshot_id, "storage_tier": status.get("StorageTier"),
                                        "tiering": operation})

    @refusals_named
    def delete_recovery_point(self, recovery_point: RecoveryPoint) -> None:
        snapshot_id = self._snapshot_id_of(recovery_point.native_ref)
        try:
            with translated(ERRORS, f"DeleteSnapshot of {snapshot_id}"):
                self._ec2.delete_snapshot(SnapshotId=snapshot_id)
        except NotFound:
            return  # deleted already (a retried delete)

    # ---- helpers --------------------------------------------------------------------------------
    def _volume(self, volume_id: str) -> Mapping[str, Any]:
        with translated(ERRORS, f"volume {volume_id}"):
            volumes = self._ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"]
        if not volumes:
            raise NotFound(f"volume {volume_id} not found")
        volume: Mapping[str, Any] = volumes[0]
        return volume

    def _volume_arn(self, manifest: Manifest, volume_id: str) -> str:
        account = manifest.recovery_point.resource_arn.split(":")[4]
        return f"arn:{self._partition}:ec2:{self._region}:{account}:volume/{volume_id}"

    def _find_snapshot(self, recovery_point_id: str) -> Mapping[str, Any] | None:
        snapshots = self._ec2.describe_snapshots(OwnerIds=["self"],
                                                 Filters=tag_filter(TAG_RECOVERY_POINT, recovery_point_id))
        found = [s for s in snapshots["Snapshots"] if s["State"] != "error"]
        return found[0] if found else None

    def _snapshot_status(self, native_ref: str) -> OperationStatus:
        snapshot_id = self._snapshot_id_of(native_ref)
        with translated(ERRORS, f"snapshot {snapshot_id}"):
            [snapshot] = self._ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
        return self._status_of(snapshot)

    @staticmethod
    def _status_of(snapshot: Mapping[str, Any]) -> OperationStatus:
        """A snapshot's status from its description (DescribeSnapshots', or CreateSnapshot's own answer)."""
        snapshot_id, state = snapshot["SnapshotId"], snapshot["State"]
        if state == "error":
            raise NativeOperationFailed(f"snapshot {snapshot_id} failed: {snapshot.get('StateMessage', '')}")
        size = snapshot.get("FullSnapshotSizeInBytes") or snapshot["VolumeSize"] * GIB
        return OperationStatus(done=state == "completed", size_bytes=int(size), details={
            "snapshot_id": snapshot_id, "state": state, "progress": snapshot.get("Progress"),
            "encrypted": bool(snapshot.get("Encrypted")), "kms_key_id": snapshot.get("KmsKeyId"),
            "storage_tier": snapshot.get("StorageTier"),
            # made by Coffer (a backup's or a copy's): ResumeNative ignores the ends of other snapshots
            "coffer": any(t.get("Key") == TAG_RECOVERY_POINT for t in snapshot.get("Tags", []))})

    @staticmethod
    def _snapshot_id_of(native_ref: str | None) -> str:
        if not native_ref:
            raise NotFound("the recovery point has no EBS snapshot")
        return last_part(native_ref, "/")

    def _snapshot_id(self, manifest: Manifest) -> str:
        return self._snapshot_id_of(manifest.recovery_point.native_ref)

    def _tier_status(self, snapshot_id: str) -> Mapping[str, Any]:
        with translated(ERRORS, f"snapshot {snapshot_id}"):
            statuses = self._ec2.describe_snapshot_tier_status(
                Filters=[{"Name": "snapshot-id", "Values": [snapshot_id]}])["SnapshotTierStatuses"]
        if not statuses:
            raise NotFound(f"snapshot {snapshot_id} not found")
        status: Mapping[str, Any] = statuses[0]
        return status

    def _usable(self, snapshot_id: str) -> bool:
        """A snapshot in the standard tier, or one brought back from the archive, can make a volume."""
        status = self._tier_status(snapshot_id)
        return status.get("StorageTier") != "archive" or status.get("LastTieringOperationStatus") in RESTORED_TIERING

    def _restored_volume(self, job_id: str) -> Mapping[str, Any] | None:
        volumes = self._ec2.describe_volumes(Filters=tag_filter(TAG_RESTORE_JOB, job_id))["Volumes"]
        return volumes[0] if volumes else None

    def _expected(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        """The restored volume's key facts: the recorded ones, unless Metadata overrides them."""
        source, metadata = recorded(manifest), job.restore_target
        kms = metadata.get("kmsKeyId")
        return {
            "availability_zone": metadata.get("availabilityZone", source["availability_zone"]),
            "size_gib": int_metadata(metadata, "volumeSize") or source["size_gib"],
            "volume_type": metadata.get("volumeType", source["volume_type"]),
            "encrypted": bool(source["encrypted"]) or bool(kms),
            "tags": source.get("tags", {}),
        }

    def _create_volume(self, job: Job, manifest: Manifest, snapshot_id: str) -> str:
        source, metadata = recorded(manifest), job.restore_target
        expected = self._expected(job, manifest)
        volume_type = expected["volume_type"]
        params: dict[str, Any] = {
            "SnapshotId": snapshot_id, "AvailabilityZone": expected["availability_zone"],
            "ClientToken": job.job_id,  # EBS's own idempotency for a retried call
            "TagSpecifications": [{"ResourceType": "volume", "Tags": tag_list(
                source.get("tags", {}), coffer_tags(job.recovery_point_id, restore_job_id=job.job_id))}],
        }
        if volume_type:
            params["VolumeType"] = volume_type
        if "volumeSize" in metadata:
            params["Size"] = expected["size_gib"]
        same_type = volume_type == source["volume_type"]
        iops = int_metadata(metadata, "iops") or (source["iops"] if same_type else None)
        if volume_type in IOPS_TYPES and iops:
            params["Iops"] = iops
        throughput = int_metadata(metadata, "throughput") or (source["throughput"] if same_type else None)
        if volume_type == "gp3" and throughput:
            params["Throughput"] = throughput
        if metadata.get("kmsKeyId"):
            params.update(Encrypted=True, KmsKeyId=metadata["kmsKeyId"])
        with translated(ERRORS, f"CreateVolume from {snapshot_id}"):
            volume_id: str = self._ec2.create_volume(**params)["VolumeId"]
        return volume_id

    def _check_region(self, target: CopyTarget) -> None:
        if target.region != self._region:
            raise InvalidInput([f"CopyTarget.region: {target.region}, but this adapter's client is in {self._region}"])
