"""The real Backup and Restore workflows for native types on the twin: one EBS volume, one EC2 instance, one
RDS instance, one DocumentDB and one Neptune cluster, each backed up (StartBackupJob -> Wait/CheckBackup loop,
or for a snapshot whose end AWS announces a wait on that event -> CompleteBackup) and restored (StartRestoreJob ->
Wait/CheckRestore loop, or WaitForRestoreEvent for a volume or database -> CompleteRestore) by the same ASL as
every other type; the two clusters also copied to another region by their backup's copy action (Backup workflow
-> Copy workflow -> CopyDBClusterSnapshot with the destination's key).

One twin for the module (a deploy costs seconds); every test names its own resources and tokens.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.adapters.resources.common import TAG_RECOVERY_POINT, TAG_RESTORE_JOB
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job, JobState
from coffer.domain.manifest import Manifest
from coffer.domain.native_waits import EVENT_TYPES
from coffer.domain.recovery_points import RecoveryPointStatus
from coffer.domain.resources import ResourceType
from coffer.entrypoints.bootstrap import Root, bootstrap
from coffer_cli.commands.common import stack_settings
from coffer_cli.local.copy_destinations import DESTINATION_REGION, deploy_storage, session_in, vault_arn
from coffer_cli.local.samples import (
    SAMPLE_TAGS,
    create_sample_db_instance,
    create_sample_documentdb_cluster,
    create_sample_instance,
    create_sample_neptune_cluster,
    create_sample_volume,
)
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
DESTINATION = vault_arn(DESTINATION_REGION, "123456789012")


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh() as deployed:
        yield deployed


@pytest.fixture(scope="module")
def destination(coffer: LocalCoffer) -> Root:
    """A Coffer stack's storage in us-west-2 of the same moto: where the clusters' copies go."""
    session = session_in(DESTINATION_REGION)
    outputs = deploy_storage(session, ROOT, coffer.twin.stack_name)
    return bootstrap(stack_settings(outputs, session), clock=coffer.clock, session=session)


def failure_causes(coffer: LocalCoffer, execution_arn: str) -> str:
    # a refused request's cause is the execution's (ExecutionFailed); a failed step's, its TaskFailed
    events = [e for e in coffer.twin.history(execution_arn) if e["type"] in ("TaskFailed", "ExecutionFailed")]
    return json.dumps(events, default=str)


def backed_up(coffer: LocalCoffer, arn: str, token: str, **detail: Any) -> Manifest:
    result = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": token, "RecoveryPointTags": {"run": token},
                                  **detail})
    assert result["status"] == "SUCCEEDED", failure_causes(coffer, str(result["arn"]))
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    assert job.state is JobState.COMPLETED, job.status_message
    rp = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
    assert rp.status is RecoveryPointStatus.COMPLETED and rp.native_ref
    # never a sleeping Lambda: polled by the workflow (Wait + CheckBackup), or - a snapshot whose end AWS announces
    # (EBS, the RDS family) - looked at once by the start step, and waited for on that event while it runs
    if job.resource_type in EVENT_TYPES:
        states = [e["stateEnteredEventDetails"]["name"] for e in coffer.twin.history(str(result["arn"]))
                  if e["type"].endswith("StateEntered")]
        assert "WaitForBackup" not in states and "CompleteBackup" in states, states
    else:
        assert coffer.twin.invocations["CheckBackupFunction"] >= 1
    return Manifest.model_validate_json(coffer.deps.vault.get_bytes(rp.manifest_key or ""))


def restored(coffer: LocalCoffer, manifest: Manifest, token: str, metadata: dict[str, str]) -> str:
    """Run the Restore workflow; return the restore job's final status message."""
    result = coffer.start_restore({"RecoveryPointArn": manifest.recovery_point.recovery_point_id,
                                   "IdempotencyToken": token, "Metadata": metadata})
    assert result["status"] == "SUCCEEDED", failure_causes(coffer, str(result["arn"]))
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    assert job.state is JobState.COMPLETED, job.status_message
    return job.status_message or ""


def ec2_tags(coffer: LocalCoffer, resource_id: str) -> dict[str, str]:
    found = coffer.client("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def test_an_ebs_volume_is_snapshotted_and_restored_as_a_new_volume(coffer: LocalCoffer) -> None:
    ec2 = coffer.client("ec2")
    arn = create_sample_volume(ec2, "workflow-volume")
    manifest = backed_up(coffer, arn, "ebs-1")
    snapshot_id = (manifest.recovery_point.native_ref or "").rsplit("/", 1)[-1]
    tags = ec2_tags(coffer, snapshot_id)
    assert tags[TAG_RECOVERY_POINT] == manifest.recovery_point.recovery_point_id and tags["run"] == "ebs-1"
    [snapshot] = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    assert snapshot["Encrypted"] and manifest.source["encrypted"] is True  # encryption kept
    assert manifest.recovery_point.backup_size_bytes == 8 * 1024**3

    message = restored(coffer, manifest, "ebs-restore-1", {"volumeType": "gp2"})
    new = ec2.describe_volumes(Filters=[{"Name": f"tag:{TAG_RECOVERY_POINT}",
                                         "Values": [manifest.recovery_point.recovery_point_id]}])["Volumes"]
    [volume] = [v for v in new if v["VolumeId"] != arn.rsplit("/", 1)[-1]]
    assert (volume["Size"], volume["VolumeType"], volume["Encrypted"]) == (8, "gp2", True)
    assert volume["AvailabilityZone"] == manifest.source["availability_zone"]
    assert SAMPLE_TAGS.items() <= {t["Key"]: t["Value"] for t in volume["Tags"]}.items()
    assert volume["VolumeId"] in message


def test_an_ec2_instance_is_imaged_and_relaunched_with_its_recorded_configuration(coffer: LocalCoffer) -> None:
    ec2 = coffer.client("ec2")
    arn = create_sample_instance(ec2, "workflow-web")
    manifest = backed_up(coffer, arn, "ec2-1")
    source = manifest.source
    assert (source["instance_type"], source["tags"]["Name"]) == ("t3.micro", "workflow-web")
    assert source["subnet_id"] and source["security_group_ids"]
    image_id = (manifest.recovery_point.native_ref or "").rsplit("/", 1)[-1]
    [image] = ec2.describe_images(ImageIds=[image_id])["Images"]
    rp_id = manifest.recovery_point.recovery_point_id
    assert {t["Key"]: t["Value"] for t in image["Tags"]}[TAG_RECOVERY_POINT] == rp_id
    for mapping in image["BlockDeviceMappings"]:  # tagged by the poll once the AMI was available
        assert ec2_tags(coffer, mapping["Ebs"]["SnapshotId"])[TAG_RECOVERY_POINT] == rp_id

    restored(coffer, manifest, "ec2-restore-1", {"InstanceType": "t3.small"})
    reservations = ec2.describe_instances(Filters=[{"Name": f"tag:{TAG_RESTORE_JOB}", "Values": ["*"]},
                                                   {"Name": "image-id", "Values": [image_id]}])["Reservations"]
    [instance] = [i for r in reservations for i in r["Instances"]]
    assert instance["InstanceType"] == "t3.small"  # the override; the rest as recorded
    assert instance["SubnetId"] == source["subnet_id"]
    assert sorted(g["GroupId"] for g in instance["SecurityGroups"]) == source["security_group_ids"]
    assert {t["Key"]: t["Value"] for t in instance["Tags"]}["Name"] == "workflow-web"


def test_an_rds_instance_is_snapshotted_and_restored_to_a_new_instance(coffer: LocalCoffer) -> None:
    rds = coffer.client("rds")
    arn = create_sample_db_instance(rds, coffer.client("ec2"), "workflow-db")
    manifest = backed_up(coffer, arn, "rds-1")
    [snapshot] = rds.describe_db_snapshots(DBSnapshotIdentifier=f"coffer-{manifest.recovery_point.recovery_point_id}")[
        "DBSnapshots"]
    assert {t["Key"]: t["Value"] for t in snapshot["TagList"]}[TAG_RECOVERY_POINT] == \
        manifest.recovery_point.recovery_point_id

    restored(coffer, manifest, "rds-restore-1", {"DBInstanceIdentifier": "workflow-db-restored",
                                                 "DBInstanceClass": "db.t3.small"})
    [db] = rds.describe_db_instances(DBInstanceIdentifier="workflow-db-restored")["DBInstances"]
    assert (db["Engine"], db["DBInstanceClass"], db["StorageEncrypted"]) == ("postgres", "db.t3.small", True)
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == manifest.source["db_subnet_group_name"]
    assert sorted(g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]) == manifest.source["vpc_security_group_ids"]


def test_an_option_the_type_does_not_have_is_refused_before_any_job_exists(coffer: LocalCoffer) -> None:
    arn = create_sample_volume(coffer.client("ec2"), "workflow-volume-options")
    result = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": "ebs-options",
                                  "BackupOptions": {"NoReboot": "false"}})
    assert result["error"] == "RequestRefused"
    assert "BackupOptions.NoReboot: not an option for EBS" in failure_causes(coffer, str(result["arn"]))


def test_a_misspelt_restore_key_is_refused_by_name(coffer: LocalCoffer) -> None:
    manifest = backed_up(coffer, create_sample_volume(coffer.client("ec2"), "workflow-volume-typo"), "ebs-typo")
    result = coffer.start_restore({"RecoveryPointArn": manifest.recovery_point.recovery_point_id,
                                   "IdempotencyToken": "ebs-typo-restore", "Metadata": {"VolumeType": "gp2"}})
    assert result["error"] == "RequestRefused"
    assert "Metadata.VolumeType: not a restore key for EBS" in failure_causes(coffer, str(result["arn"]))


# ---- the RDS family's other clusters: DocumentDB and Neptune ------------------------------------------------------
CLUSTERS: dict[ResourceType, Callable[[Any, Any, str], str]] = {
    ResourceType.DOCUMENTDB: create_sample_documentdb_cluster, ResourceType.NEPTUNE: create_sample_neptune_cluster}


def wait_for_job(coffer: LocalCoffer, job_id: str, timeout: float = 60) -> Job:
    """A job the Backup workflow's copy action started (asynchronously, on the twin's bus)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            job = coffer.deps.catalog.get_job(job_id)
            if job.state.terminal:
                return job
        except Exception:  # not written yet
            pass
        assert time.monotonic() < deadline, f"job {job_id} did not end"
        time.sleep(0.05)


@pytest.mark.parametrize("kind", list(CLUSTERS), ids=str)
def test_a_cluster_is_snapshotted_as_its_engines_type_and_restored_to_a_new_cluster(
        coffer: LocalCoffer, kind: ResourceType) -> None:
    rds, name = coffer.client("rds"), f"workflow-{kind.value.lower()}"
    arn = CLUSTERS[kind](rds, coffer.client("ec2"), name)
    manifest = backed_up(coffer, arn, f"{name}-1")
    rp = manifest.recovery_point
    assert rp.resource_type is kind  # its ARN reads like an Aurora cluster's; its engine decides
    [snapshot] = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=f"coffer-{rp.recovery_point_id}")[
        "DBClusterSnapshots"]
    assert {t["Key"]: t["Value"] for t in snapshot["TagList"]}[TAG_RECOVERY_POINT] == rp.recovery_point_id
    engine = {ResourceType.DOCUMENTDB: "docdb", ResourceType.NEPTUNE: "neptune"}[kind]
    assert snapshot["Engine"] == manifest.source["engine"] == engine

    message = restored(coffer, manifest, f"{name}-restore-1", {"DBClusterIdentifier": f"{name}-restored"})
    [cluster] = rds.describe_db_clusters(DBClusterIdentifier=f"{name}-restored")["DBClusters"]
    assert (cluster["Engine"], cluster["StorageEncrypted"]) == (engine, True)
    assert cluster["DBClusterMembers"] == []  # as after AWS Backup's restore: instances are added afterwards
    assert sorted(g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]) == \
        manifest.source["vpc_security_group_ids"]
    tags = {t["Key"]: t["Value"] for t in cluster["TagList"]}
    assert SAMPLE_TAGS.items() <= tags.items() and tags[TAG_RESTORE_JOB]
    assert f"{name}-restored" in message


@pytest.mark.parametrize("kind", list(CLUSTERS), ids=str)
def test_a_clusters_copy_action_copies_its_snapshot_to_another_region_with_the_destinations_key(
        coffer: LocalCoffer, destination: Root, kind: ResourceType) -> None:
    name = f"workflow-copy-{kind.value.lower()}"
    arn = CLUSTERS[kind](coffer.client("rds"), coffer.client("ec2"), name)
    backup = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": name, "RecoveryPointTags": {"run": name},
                                  "CopyActions": [{"DestinationBackupVaultArn": DESTINATION,
                                                   "Lifecycle": {"DeleteAfterDays": 30}}]})
    assert backup["status"] == "SUCCEEDED", failure_causes(coffer, str(backup["arn"]))
    source = coffer.deps.catalog.get_job(backup["output"]["job_id"])
    job = wait_for_job(coffer, job_id_for(f"{source.job_id}-copy-0"))
    assert job.state is JobState.COMPLETED, job.status_message
    assert job.destination is not None
    copied = destination.catalog.get_recovery_point(job.destination.recovery_point_id)
    assert (copied.resource_type, copied.parent_recovery_point_id) == (kind, source.recovery_point_id)
    assert copied.native_ref and f":{DESTINATION_REGION}:" in copied.native_ref
    rds_there = session_in(DESTINATION_REGION).client("rds")
    [snapshot] = rds_there.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=copied.native_ref.rsplit(":", 1)[-1])["DBClusterSnapshots"]
    assert snapshot["KmsKeyId"] == copied.encryption_key_arn == destination.settings.vault_key_arn
    tags = {t["Key"]: t["Value"] for t in snapshot["TagList"]}
    assert (tags[TAG_RECOVERY_POINT], tags["run"]) == (copied.recovery_point_id, name)
