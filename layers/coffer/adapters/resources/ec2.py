"""EC2 instances: an AMI per recovery point (CreateImage: the instance and all its EBS volumes), restored by
launching a new instance from it with the recorded launch configuration.

- Backup: DescribeInstances (the launch configuration the manifest records: type, subnet, security groups,
  key pair, tags, volumes), DescribeImages by Coffer's tag (a retried start finds its AMI), CreateImage with
  NoReboot (the default; BackupOptions {"NoReboot": "false"} lets EC2 reboot the instance for a consistent
  file system) tagged with the instance's tags, the recovery point's tags and its id. The workflow polls
  DescribeImages (pending -> available | failed); once available, the AMI's snapshots are tagged with the
  recovery point id too (CreateTags), so that a delete finds them even after the AMI is gone.
- Copy: CopyImage in the destination region (ClientToken makes a retried call return the same AMI),
  re-encrypted with the given key, then tagged.
- Restore: RunInstances from the AMI with the recorded instance type, subnet and security groups, each
  overridable by restore Metadata (InstanceType, SubnetId, SecurityGroupIds, KeyName). The instance profile is
  recorded but not attached (that needs iam:PassRole, which Coffer does not hold): attach it afterwards.
- Delete: DeregisterImage, then DeleteSnapshot for each of its snapshots.
- Cold: refused (see REFUSALS).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from coffer.adapters.aws import refusals_named
from coffer.adapters.resources.common import (
    GIB,
    TAG_RECOVERY_POINT,
    TAG_RESTORE_JOB,
    NoColdStorage,
    coffer_tags,
    last_part,
    recorded,
    region_of,
    snapshot_permission,
    split_ids,
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
    "InvalidInstanceID.NotFound": NotFound,
    "InvalidInstanceID.Malformed": InvalidInput,
    "InvalidAMIID.NotFound": NotFound,
    "InvalidAMIID.Unavailable": NotFound,
    "InvalidAMIID.Malformed": InvalidInput,
    "InvalidSnapshot.NotFound": NotFound,
    "InvalidSubnetID.NotFound": InvalidInput,
    "InvalidGroup.NotFound": InvalidInput,
    "InvalidKeyPair.NotFound": InvalidInput,
    "InvalidParameterValue": InvalidInput,
    "InvalidParameterCombination": InvalidInput,
    "Unsupported": InvalidInput,
    "InvalidInstanceType": InvalidInput,
    "IncorrectInstanceState": NativeOperationFailed,
    "InsufficientInstanceCapacity": NativeOperationFailed,
    "InstanceLimitExceeded": NativeOperationFailed,
    "AMIQuotaExceeded": NativeOperationFailed,
    "ResourceLimitExceeded": NativeOperationFailed,
}
REFUSALS: Mapping[Capability, str] = {
    Capability.COLD_STORAGE: "an AMI has no cold tier (archiving its snapshots would leave an image that cannot "
                             "launch until they are restored); AWS Backup keeps EC2 recovery points warm too",
}
#: NoReboot "true" (the default) images the running instance as it is; "false" lets EC2 reboot it first
OPTIONS: Mapping[str, frozenset[str]] = {"NoReboot": frozenset({"true", "false"})}
#: image states that end a backup or copy as failed
FAILED_IMAGE_STATES = {"failed", "error", "invalid", "deregistered", "disabled"}
#: states a launched instance should never reach on its own
FAILED_INSTANCE_STATES = {"shutting-down", "terminated", "stopping", "stopped"}


def image_arn(partition: str, region: str, image_id: str) -> str:
    return f"arn:{partition}:ec2:{region}::image/{image_id}"


class Ec2Adapter(NoColdStorage):
    resource_type = ResourceType.EC2
    strategy = BackupStrategy.NATIVE
    capabilities = frozenset(Capability) - set(REFUSALS)
    refusals = REFUSALS
    backup_options = OPTIONS
    #: DescribeInstances page size (AWS allows 5 to 1000)
    page_size = 1000

    def __init__(self, client: EC2Client) -> None:
        self._ec2 = client
        self._region: str = client.meta.region_name
        self._partition: str = client.meta.partition

    # ---- discover -------------------------------------------------------------------------------
    def discover(self, account_id: str) -> Iterator[DiscoveredResource]:
        pages = self._ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}],
            PaginationConfig={"PageSize": self.page_size})
        for page in pages:
            for reservation in page["Reservations"]:
                owner = reservation.get("OwnerId", account_id)
                for instance in reservation["Instances"]:
                    arn = f"arn:{self._partition}:ec2:{self._region}:{owner}:instance/{instance['InstanceId']}"
                    yield DiscoveredResource(arn, self.resource_type, user_tags(instance.get("Tags")))

    # ---- backup ---------------------------------------------------------------------------------
    def describe_source(self, resource_arn: str) -> dict[str, Any]:
        instance = self._instance(resource_name(resource_arn))
        if instance["State"]["Name"] in ("shutting-down", "terminated"):
            raise NotFound(f"instance {instance['InstanceId']} is {instance['State']['Name']}")
        return self._facts(instance)

    @staticmethod
    def _facts(instance: Mapping[str, Any]) -> dict[str, Any]:
        """The launch configuration a restore re-creates, and what a reader of the manifest wants to know."""
        groups: list[dict[str, Any]] = instance.get("SecurityGroups") or next(
            (nic.get("Groups", []) for nic in instance.get("NetworkInterfaces", [])
             if nic.get("Attachment", {}).get("DeviceIndex") == 0), [])
        return {
            "instance_id": instance["InstanceId"],
            "instance_type": instance["InstanceType"],
            "image_id": instance.get("ImageId"),
            "availability_zone": instance.get("Placement", {}).get("AvailabilityZone"),
            "subnet_id": instance.get("SubnetId"),
            "vpc_id": instance.get("VpcId"),
            "security_group_ids": sorted(g["GroupId"] for g in groups),
            "key_name": instance.get("KeyName"),
            "iam_instance_profile_arn": instance.get("IamInstanceProfile", {}).get("Arn"),
            "ebs_optimized": bool(instance.get("EbsOptimized")),
            "monitoring": instance.get("Monitoring", {}).get("State", "disabled"),
            "metadata_http_tokens": instance.get("MetadataOptions", {}).get("HttpTokens"),
            "architecture": instance.get("Architecture"),
            "root_device_name": instance.get("RootDeviceName"),
            "volumes": [{"device": m["DeviceName"], "volume_id": m["Ebs"]["VolumeId"]}
                        for m in instance.get("BlockDeviceMappings", []) if "Ebs" in m],
            "tags": user_tags(instance.get("Tags")),
        }

    def start_backup(self, job: Job, fresh: bool = False) -> StartedBackup:
        existing = None if fresh else self._find_image(job.recovery_point_id)
        if existing:
            return StartedBackup(image_arn(self._partition, self._region, existing["ImageId"]))
        instance_id = resource_name(job.resource_arn)
        no_reboot = job.backup_options.get("NoReboot", "true") == "true"
        tags = tag_list(job.source.get("tags", {}), job.recovery_point_tags, coffer_tags(job.recovery_point_id))
        with translated(ERRORS, f"CreateImage of {instance_id}"):
            image = self._ec2.create_image(
                InstanceId=instance_id, Name=f"coffer-{job.recovery_point_id}", NoReboot=no_reboot,
                Description=f"Coffer recovery point {job.recovery_point_id}",
                TagSpecifications=[{"ResourceType": "image", "Tags": tags}])
        return StartedBackup(image_arn(self._partition, self._region, image["ImageId"]))

    def backup_status(self, job: Job) -> OperationStatus:
        if not job.native_ref:
            raise NotFound(f"job {job.job_id} has no AMI yet")
        return self._image_status(job.native_ref, job.recovery_point_id)

    # ---- restore --------------------------------------------------------------------------------
    def start_restore(self, job: Job, manifest: Manifest) -> str | None:
        existing = self._restored_instance(job.job_id)
        if existing:
            return self._instance_arn(manifest, existing["InstanceId"])
        source, metadata = recorded(manifest), job.restore_target
        expected = self._expected(job, manifest)
        tags = tag_list(source.get("tags", {}), coffer_tags(job.recovery_point_id, restore_job_id=job.job_id))
        params: dict[str, Any] = {
            "ImageId": self._image_id(manifest.recovery_point.native_ref), "MinCount": 1, "MaxCount": 1,
            "ClientToken": job.job_id,  # EC2's own idempotency for a retried call
            "InstanceType": expected["instance_type"],
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags},
                                  {"ResourceType": "volume", "Tags": tags}],
            "EbsOptimized": bool(source.get("ebs_optimized")),
            "Monitoring": {"Enabled": source.get("monitoring") == "enabled"},
        }
        if expected["subnet_id"]:
            params["SubnetId"] = expected["subnet_id"]
        if expected["security_group_ids"]:
            params["SecurityGroupIds"] = expected["security_group_ids"]
        key_name = metadata.get("KeyName", source.get("key_name"))
        if key_name:
            params["KeyName"] = key_name
        if source.get("metadata_http_tokens"):
            params["MetadataOptions"] = {"HttpTokens": source["metadata_http_tokens"]}
        with translated(ERRORS, f"RunInstances from {params['ImageId']}"):
            launched = self._ec2.run_instances(**params)["Instances"][0]
        return self._instance_arn(manifest, launched["InstanceId"])

    def restore_status(self, job: Job, manifest: Manifest) -> OperationStatus:
        instance = self._restored_instance(job.job_id)
        if instance is None:
            raise NotFound(f"restore job {job.job_id} launched no instance")
        state = instance["State"]["Name"]
        if state in FAILED_INSTANCE_STATES:
            reason = instance.get("StateReason", {}).get("Message", "")
            raise NativeOperationFailed(f"restored instance {instance['InstanceId']} is {state} {reason}".strip())
        return OperationStatus(done=state == "running", details={"instance_id": instance["InstanceId"],
                                                                   "state": state})

    def validate_restore(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        instance = self._restored_instance(job.job_id)
        if instance is None:
            raise RestoreMismatch(f"restore job {job.job_id} launched no instance")
        restored = self._facts(instance)
        expected = self._expected(job, manifest)
        expected["image_id"] = self._image_id(manifest.recovery_point.native_ref)
        differences = [f"{key}: {restored[key]!r} != {value!r}" for key, value in expected.items()
                       if key != "tags" and value is not None and restored[key] != value]
        missing = {k: v for k, v in expected["tags"].items() if restored["tags"].get(k) != v}
        if missing:
            differences.append(f"tags missing: {missing}")
        if differences:
            raise RestoreMismatch(f"restored instance {instance['InstanceId']}: " + "; ".join(differences))
        return {"instance_id": instance["InstanceId"], **{k: restored[k] for k in expected if k != "tags"}}

    # ---- copy, cold, delete ---------------------------------------------------------------------
    def share_for_copy(self, recovery_point: RecoveryPoint, account_id: str) -> None:
        image = self._image(self._image_id(recovery_point.native_ref))
        with translated(ERRORS, f"sharing {image['ImageId']} with {account_id}"):
            self._ec2.modify_image_attribute(ImageId=image["ImageId"],
                                             LaunchPermission={"Add": [{"UserId": account_id}]})
        for snapshot_id in self._snapshot_ids(image):
            snapshot_permission(self._ec2, ERRORS, snapshot_id, account_id, "add")

    def unshare_after_copy(self, recovery_point: RecoveryPoint, account_id: str) -> None:
        try:
            image = self._image(self._image_id(recovery_point.native_ref))
            with translated(ERRORS, f"unsharing {image['ImageId']} with {account_id}"):
                self._ec2.modify_image_attribute(ImageId=image["ImageId"],
                                                 LaunchPermission={"Remove": [{"UserId": account_id}]})
        except NotFound:
            return  # deregistered: the recovery point is being deleted, its snapshots with it
        for snapshot_id in self._snapshot_ids(image):
            snapshot_permission(self._ec2, ERRORS, snapshot_id, account_id, "remove")

    def start_copy(self, recovery_point: RecoveryPoint, target: CopyTarget) -> str:
        if target.region != self._region:
            raise InvalidInput([f"CopyTarget.region: {target.region}, but this adapter's client is in {self._region}"])
        existing = self._find_image(target.recovery_point_id)
        if existing:
            return image_arn(self._partition, self._region, existing["ImageId"])
        source_ref = recovery_point.native_ref or ""
        params: dict[str, Any] = {
            "SourceImageId": self._image_id(source_ref), "SourceRegion": region_of(source_ref),
            "Name": f"coffer-{target.recovery_point_id}", "ClientToken": target.recovery_point_id,
            "Description": f"Coffer recovery point {target.recovery_point_id} "
                           f"(copy of {recovery_point.recovery_point_id})",
        }
        if target.kms_key_arn:
            params.update(Encrypted=True, KmsKeyId=target.kms_key_arn)
        with translated(ERRORS, f"CopyImage of {source_ref}"):
            image_id: str = self._ec2.copy_image(**params)["ImageId"]
            # Tagged here rather than with CopyImage's TagSpecifications, which not every EC2 implementation
            # honours (moto 5.2 drops them): the tag is what finds this copy again.
            self._ec2.create_tags(Resources=[image_id], Tags=tag_list(recovery_point.tags, coffer_tags(
                target.recovery_point_id, parent_recovery_point_id=recovery_point.recovery_point_id)))
        return image_arn(self._partition, self._region, image_id)

    def copy_status(self, native_ref: str) -> OperationStatus:
        image = self._image(self._image_id(native_ref))
        recovery_point_id = user_tags(image.get("Tags")).get(TAG_RECOVERY_POINT)
        if recovery_point_id is None:
            raise NotFound(f"{native_ref} is not an image Coffer made (no {TAG_RECOVERY_POINT} tag)")
        return self._image_status(native_ref, recovery_point_id)

    @refusals_named
    def delete_recovery_point(self, recovery_point: RecoveryPoint) -> None:
        """Deregister the AMI, then delete its snapshots (found by Coffer's tag if the AMI is gone already)."""
        image_id = self._image_id(recovery_point.native_ref)
        try:
            image: Mapping[str, Any] | None = self._image(image_id)
        except NotFound:
            image = None
        if image is not None:
            snapshot_ids = self._snapshot_ids(image)
            try:
                with translated(ERRORS, f"DeregisterImage of {image_id}"):
                    self._ec2.deregister_image(ImageId=image_id)
            except NotFound:
                pass
        else:
            found = self._ec2.describe_snapshots(
                OwnerIds=["self"], Filters=tag_filter(TAG_RECOVERY_POINT, recovery_point.recovery_point_id))
            snapshot_ids = [s["SnapshotId"] for s in found["Snapshots"]]
        for snapshot_id in snapshot_ids:
            try:
                with translated(ERRORS, f"DeleteSnapshot of {snapshot_id}"):
                    self._ec2.delete_snapshot(SnapshotId=snapshot_id)
            except NotFound:
                pass

    # ---- helpers --------------------------------------------------------------------------------
    def _instance(self, instance_id: str) -> Mapping[str, Any]:
        with translated(ERRORS, f"instance {instance_id}"):
            reservations = self._ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instances: list[Mapping[str, Any]] = [i for r in reservations for i in r["Instances"]]
        if not instances:
            raise NotFound(f"instance {instance_id} not found")
        return instances[0]

    def _instance_arn(self, manifest: Manifest, instance_id: str) -> str:
        account = manifest.recovery_point.resource_arn.split(":")[4]
        return f"arn:{self._partition}:ec2:{self._region}:{account}:instance/{instance_id}"

    @staticmethod
    def _image_id(native_ref: str | None) -> str:
        if not native_ref:
            raise NotFound("the recovery point has no AMI")
        return last_part(native_ref, "/")

    def _image(self, image_id: str) -> Mapping[str, Any]:
        with translated(ERRORS, f"image {image_id}"):
            images = self._ec2.describe_images(ImageIds=[image_id])["Images"]
        if not images:
            raise NotFound(f"image {image_id} is deregistered")
        image: Mapping[str, Any] = images[0]
        return image

    def _find_image(self, recovery_point_id: str) -> Mapping[str, Any] | None:
        images = self._ec2.describe_images(Owners=["self"],
                                           Filters=tag_filter(TAG_RECOVERY_POINT, recovery_point_id))["Images"]
        found = [i for i in images if i["State"] not in FAILED_IMAGE_STATES]
        return found[0] if found else None

    @staticmethod
    def _snapshot_ids(image: Mapping[str, Any]) -> list[str]:
        return [m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", [])
                if m.get("Ebs", {}).get("SnapshotId")]

    def _image_status(self, native_ref: str, recovery_point_id: str) -> OperationStatus:
        image = self._image(self._image_id(native_ref))
        state = image["State"]
        if state in FAILED_IMAGE_STATES:
            raise NativeOperationFailed(f"image {image['ImageId']} is {state}: "
                                        f"{image.get('StateReason', {}).get('Message', '')}".rstrip(": "))
        snapshot_ids = self._snapshot_ids(image)
        if state == "available" and snapshot_ids:
            # The AMI's snapshots carry the recovery point id too: a delete finds them even without the AMI.
            with translated(ERRORS, f"tagging the snapshots of {image['ImageId']}"):
                self._ec2.create_tags(Resources=snapshot_ids, Tags=tag_list(coffer_tags(recovery_point_id)))
        size = sum(m.get("Ebs", {}).get("VolumeSize", 0) for m in image.get("BlockDeviceMappings", [])) * GIB
        return OperationStatus(done=state == "available", size_bytes=size, details={
            "image_id": image["ImageId"], "state": state, "snapshot_ids": snapshot_ids,
            "block_devices": [{"device": m["DeviceName"], "snapshot_id": m["Ebs"].get("SnapshotId"),
                               "size_gib": m["Ebs"].get("VolumeSize")}
                              for m in image.get("BlockDeviceMappings", []) if "Ebs" in m]})

    def _restored_instance(self, job_id: str) -> Mapping[str, Any] | None:
        reservations = self._ec2.describe_instances(Filters=tag_filter(TAG_RESTORE_JOB, job_id))["Reservations"]
        instances = [i for r in reservations for i in r["Instances"] if i["State"]["Name"] != "terminated"]
        return instances[0] if instances else None

    @staticmethod
    def _expected(job: Job, manifest: Manifest) -> dict[str, Any]:
        """The restored instance's launch configuration: the recorded one, unless Metadata overrides it."""
        source, metadata = recorded(manifest), job.restore_target
        groups = split_ids(metadata["SecurityGroupIds"]) if "SecurityGroupIds" in metadata else None
        return {
            "instance_type": metadata.get("InstanceType", source["instance_type"]),
            "subnet_id": metadata.get("SubnetId", source.get("subnet_id")),
            "security_group_ids": sorted(groups if groups is not None else source.get("security_group_ids", [])),
            "tags": source.get("tags", {}),
        }
