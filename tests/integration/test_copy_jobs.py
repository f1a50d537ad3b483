"""Copies of every supported type, cross-region and cross-account, each restored from its destination (moto-direct).

One moto for the module with three Coffer stacks' storage, cut from template.yaml (local/copy_destinations.py):
the source in us-east-1, a destination in us-west-2 of the same account, and one in us-west-2 of another
account. The services run in-process, step by step, the way the Backup, Copy and Restore workflows call them
(the workflows themselves, with their Wait states and Distributed Maps, are tests/integration/
test_copy_workflow.py's). Each copy is then restored *by the destination's own services*, with the destination's
credentials, as the Restore workflow of the destination stack would.

Where moto stops short of AWS (README "Where the emulator differs"):
- moto cannot copy an EBS snapshot, an AMI or a DB / cluster snapshot across accounts: its copy looks for the
  source in the caller's account. `shared_artefacts_are_visible` is a stand-in for that one rule of AWS's: a
  snapshot, AMI or DB snapshot of another account is found by the copy when - and only when - its owner shared
  it with the caller (createVolumePermission, launchPermission, the `restore` attribute). Everything else (the
  copy itself, its KMS key, tags, the restore) is moto's own.
- moto ignores ExportTableToPointInTime's ExportTime (it exports the table as it is now) and writes no export
  manifests, only a data file: the DynamoDB copies here are of a table that did not change since its backup.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from coffer.adapters.catalog.copy_quota import CopyQuotas
from coffer.adapters.resources.common import TAG_PARENT, TAG_RECOVERY_POINT
from coffer.adapters.resources.ebs import EbsAdapter
from coffer.domain.clock import FixedClock
from coffer.domain.copies import StartCopyJobRequest, VaultAddress, quota_key
from coffer.domain.errors import UnsupportedOperation
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job, JobState
from coffer.domain.manifest import Manifest, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.requests import StartBackupJobRequest, StartRestoreJobRequest
from coffer.domain.resources import ResourceType
from coffer.domain.steps import FailStep, StepError
from coffer.entrypoints.bootstrap import Root, bootstrap
from coffer.ports.resources import OperationStatus
from coffer.services.copy_jobs import CopyJobs
from coffer_cli.commands.common import stack_settings
from coffer_cli.local.copy_destinations import DESTINATION_REGION, OTHER_ACCOUNT, deploy_storage, session_in, vault_arn
from coffer_cli.local.samples import (
    bucket_snapshot,
    create_sample_bucket,
    create_sample_cluster,
    create_sample_db_instance,
    create_sample_documentdb_cluster,
    create_sample_instance,
    create_sample_neptune_cluster,
    create_sample_table,
    create_sample_volume,
    sample_items,
    sample_network,
    table_items,
)
from coffer_twin.db_clusters import db_cluster_family
from coffer_twin.dynamodb_atomic import atomic_dynamodb
from coffer_twin.environment import fake_aws_environment

ROOT = Path(__file__).resolve().parents[2]
REGION, ACCOUNT = "us-east-1", "123456789012"
STACK = "coffer"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{STACK}-copy:test"


@dataclass
class Site:
    """One Coffer stack's storage and the services wired to it, with that account's credentials."""

    session: boto3.Session
    deps: Root
    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        return self.deps.client_for(service)


@dataclass
class World:
    source: Site
    region: Site  # us-west-2, same account
    account: Site  # us-west-2, another account
    clock: FixedClock


def _site(session: boto3.Session, clock: FixedClock) -> Site:
    outputs = deploy_storage(session, ROOT, STACK)
    return Site(session, bootstrap(stack_settings(outputs, session), clock=clock, session=session), outputs)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with ExitStack() as stack:
        stack.enter_context(fake_aws_environment(REGION))
        stack.enter_context(mock_aws())
        stack.enter_context(atomic_dynamodb())
        stack.enter_context(db_cluster_family())  # DocumentDB clusters, Neptune restores (coffer_twin/db_clusters.py)
        clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
        yield World(source=_site(session_in(REGION), clock), region=_site(session_in(DESTINATION_REGION), clock),
                    account=_site(session_in(DESTINATION_REGION, OTHER_ACCOUNT), clock), clock=clock)


# ---- the workflows' steps, in-process ---------------------------------------------------------------------
def back_up(deps: Root, arn: str, token: str, **detail: Any) -> RecoveryPoint:
    request = StartBackupJobRequest.model_validate({"ResourceArn": arn, "IdempotencyToken": token, **detail})
    jobs = deps.backup_jobs
    started = jobs.start(request, token, None, f"{EXECUTION}-{token}")
    if started.next == "objects":
        batches = deps.object_batches
        token_, seq, more = None, 0, True
        while more:
            listed = batches.list_batches(started.job_id, token_, seq)
            token_, seq, more = listed.token, listed.next_seq, listed.more
        for item in deps.work.listing(listed.items_prefix):
            batches.copy_batch(started.job_id, item["key"])
    else:
        while not jobs.check(started.job_id).done:
            pass
    done = jobs.complete(started.job_id)
    assert done.state == "COMPLETED", done.status_message
    return deps.catalog.get_recovery_point(done.recovery_point_id)


def copy_jobs(deps: Root) -> CopyJobs:
    """One CopyJobs per stack (the root makes it once), as one per warm Lambda: its destinations (assumed role,
    outputs) are resolved once."""
    return deps.copy_jobs


def copy(source: Site, rp: RecoveryPoint, destination: str, token: str, **detail: Any) -> Job:
    """The Copy workflow's steps: start (again while queued), poll, the Map's children, complete."""
    deps = source.deps
    request = StartCopyJobRequest.model_validate({"RecoveryPointArn": rp.recovery_point_id,
                                                  "DestinationBackupVaultArn": destination,
                                                  "IdempotencyToken": token, **detail})
    jobs = copy_jobs(deps)
    started = jobs.start(request, token, f"{EXECUTION}-{token}")
    while started.next == "queued":
        time.sleep(0.02)  # the workflow's WaitForSlot
        started = jobs.start(request, token, f"{EXECUTION}-{token}")
    prefix, bucket = started.items_prefix, deps.settings.vault_bucket
    if started.next == "native":
        polled = jobs.check(started.job_id)
        while polled.next == "wait":
            time.sleep(0.02)  # the workflow's WaitForCopy
            polled = jobs.check(started.job_id)
        prefix, bucket = polled.items_prefix, deps.settings.work_bucket
    if prefix:
        listing = deps.client_for("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        for listed in listing:
            deps.copy_batches.copy_part(started.job_id, listed["Key"])
    summary = jobs.complete(started.job_id)
    job = deps.catalog.get_job(summary.job_id)
    assert job.state is JobState.COMPLETED, job.status_message
    return job


def restore(site: Site, rp_id: str, token: str, metadata: dict[str, str]) -> Job:
    deps = site.deps
    jobs = deps.restore_jobs
    started = jobs.start(StartRestoreJobRequest.model_validate(
        {"RecoveryPointArn": rp_id, "IdempotencyToken": token, "Metadata": metadata}), token, f"{EXECUTION}-{token}")
    if started.next == "objects":
        restores = deps.object_restores
        listing = deps.client_for("s3").list_objects_v2(Bucket=deps.settings.vault_bucket,
                                                        Prefix=started.items_prefix or "")
        for listed in listing.get("Contents", []):
            restores.restore_part(started.job_id, listed["Key"])
    else:
        while not jobs.check(started.job_id).done:
            pass
    done = jobs.complete(started.job_id)
    job = deps.catalog.get_job(done.job_id)
    assert job.state is JobState.COMPLETED, job.status_message
    return job


def the_copy(site: Site, job: Job) -> tuple[RecoveryPoint, Manifest]:
    assert job.destination is not None
    rp = site.deps.catalog.get_recovery_point(job.destination.recovery_point_id)
    return rp, Manifest.model_validate_json(site.deps.vault.get_bytes(rp.manifest_key or ""))


def dest(site: Site, world: World) -> str:
    account = ACCOUNT if site is not world.account else OTHER_ACCOUNT
    return vault_arn(DESTINATION_REGION, account)


SCOPES = ["region", "account"]


# ---- S3 -------------------------------------------------------------------------------------------------
def test_an_s3_recovery_point_is_copied_to_another_region_and_account_and_restores_byte_identical_in_both(
        world: World) -> None:
    s3 = world.source.client("s3")
    create_sample_bucket(s3, "copy-source")
    rp = back_up(world.source.deps, "arn:aws:s3:::copy-source", "s3", Lifecycle={"DeleteAfterDays": 35})
    for scope in SCOPES:
        site = getattr(world, scope)
        job = copy(world.source, rp, dest(site, world), f"copy-s3-{scope}", Lifecycle={"DeleteAfterDays": 90})
        copied, manifest = the_copy(site, job)
        assert copied.parent_recovery_point_id == rp.recovery_point_id
        assert copied.encryption_key_arn == site.outputs["VaultKeyArn"]  # re-encrypted with the destination's key
        assert copied.delete_at == job.created_at + timedelta(days=90)  # its own lifecycle
        assert manifest.objects == 15 and copied.status is RecoveryPointStatus.COMPLETED
        restore(site, copied.recovery_point_id, f"restore-s3-{scope}", {
            "DestinationBucketName": f"copy-restored-{scope}", "NewBucket": "true", "Region": DESTINATION_REGION})
        assert bucket_snapshot(site.client("s3"), f"copy-restored-{scope}") == bucket_snapshot(s3, "copy-source")


def _grants_for(site: Site, job: Job) -> list[str]:
    """The KMS grants named for the copy job on the keys it recorded (listed page by page)."""
    assert job.destination is not None
    kms = site.client("kms")
    return [grant["GrantId"] for key in job.destination.kms_grant_keys
            for page in kms.get_paginator("list_grants").paginate(KeyId=key) for grant in page["Grants"]
            if grant.get("Name") == f"coffer-copy-{job.job_id}"]


def test_a_copy_to_another_account_revokes_its_kms_grant_when_it_ends_however_it_ends(world: World) -> None:
    deps = world.source.deps
    create_sample_bucket(world.source.client("s3"), "grant-source")
    rp = back_up(deps, "arn:aws:s3:::grant-source", "grant-s3", Lifecycle={"DeleteAfterDays": 35})
    done = copy(world.source, rp, dest(world.account, world), "grant-copy-completed")
    assert done.destination and done.destination.kms_grant_keys == (rp.encryption_key_arn,)
    assert _grants_for(world.source, done) == []  # COMPLETED: the destination no longer reads this account's key

    request = StartCopyJobRequest.model_validate({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken":
                                                  "grant-copy-failed", "DestinationBackupVaultArn":
                                                  dest(world.account, world)})
    started = copy_jobs(deps).start(request, "grant-copy-failed", f"{EXECUTION}-grant-copy-failed")
    running = deps.catalog.get_job(started.job_id)
    assert running.state is JobState.RUNNING and len(_grants_for(world.source, running)) == 1
    deps.job_failures.fail(FailStep(job_id=running.job_id, error=StepError(Error="States.TaskFailed", Cause="lost")))
    assert deps.catalog.get_job(running.job_id).state is JobState.FAILED
    assert _grants_for(world.source, running) == []  # FAILED: revoked before the write that ended it
    deps.job_failures.fail(FailStep(job_id=running.job_id, error=StepError(Error="States.TaskFailed", Cause="lost")))


# ---- DynamoDB -------------------------------------------------------------------------------------------
def test_a_dynamodb_recovery_point_is_copied_as_an_export_and_restores_by_import_in_both_destinations(
        world: World) -> None:
    db = world.source.client("dynamodb")
    create_sample_table(db, "copy-orders")
    db.update_continuous_backups(TableName="copy-orders", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    rp = back_up(world.source.deps, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/copy-orders", "ddb")
    for scope in SCOPES:
        site = getattr(world, scope)
        job = copy(world.source, rp, dest(site, world), f"copy-ddb-{scope}")
        copied, manifest = the_copy(site, job)
        export = dict(manifest.source["export"])  # type: ignore[arg-type]
        assert copied.parent_recovery_point_id == rp.recovery_point_id and copied.native_ref is None
        assert export["bucket"] == site.outputs["VaultBucketName"] and export["objects"]
        prefix = VaultLayout.recovery_point_prefix("Default", copied.recovery_point_id)
        assert all(f["key"].startswith(prefix + "export/") for f in export["objects"])  # in the vault, locked
        restore(site, copied.recovery_point_id, f"restore-ddb-{scope}", {"targetTableName": "copy-orders-restored"})
        assert table_items(site.client("dynamodb"), "copy-orders-restored") == table_items(db, "copy-orders") == \
            sorted(sample_items(), key=lambda item: str(item["order_id"]))


def test_a_dynamodb_copy_is_refused_naming_the_table_when_point_in_time_recovery_is_off(world: World) -> None:
    db = world.source.client("dynamodb")
    create_sample_table(db, "copy-orders-no-pitr")
    rp = back_up(world.source.deps, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/copy-orders-no-pitr", "ddb-no-pitr")
    with pytest.raises(UnsupportedOperation, match=r"table copy-orders-no-pitr as it was at the recovery point's "
                                                   r"time, and the table has point-in-time recovery off"):
        copy(world.source, rp, dest(world.region, world), "copy-ddb-no-pitr")
    job = world.source.deps.catalog.get_job(job_id_for("copy-ddb-no-pitr"))
    assert job.state is JobState.FAILED and "point-in-time recovery off" in (job.status_message or "")


# ---- EBS, EC2, RDS, Aurora, DocumentDB, Neptune ----------------------------------------------------------
@contextmanager
def shared_artefacts_are_visible() -> Iterator[None]:
    """Stand-in for AWS's rule that moto lacks: a copy finds a snapshot, AMI or DB / cluster snapshot of another
    account exactly when its owner shared it with the caller. moto's copy code then runs unchanged."""
    from moto.ec2.exceptions import InvalidAMIIdError, InvalidSnapshotIdError
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.amis import AmiBackend
    from moto.ec2.models.elastic_block_store import EBSBackend
    from moto.rds.models import RDSBackend, rds_backends
    from moto.rds.utils import split_arn

    def owner_of(collection: str, artefact_id: str, region: str) -> str | None:
        return next((account for account, regions in ec2_backends.items()
                     if region in regions and artefact_id in getattr(regions[region], collection)), None)

    @contextmanager
    def lent(collection: str, artefact_id: str, owner: str, caller: str, region: str) -> Iterator[None]:
        """The owner's artefact, visible to the caller's backend for the duration of moto's copy."""
        visible = getattr(ec2_backends[caller][region], collection)
        visible[artefact_id] = getattr(ec2_backends[owner][region], collection)[artefact_id]
        try:
            yield
        finally:
            visible.pop(artefact_id, None)

    copy_snapshot, copy_image, get_snapshot = EBSBackend.copy_snapshot, AmiBackend.copy_image, RDSBackend.get_snapshot

    def shared_copy_snapshot(self: Any, source_snapshot_id: str, source_region: str, *args: Any, **kwargs: Any) -> Any:
        owner = owner_of("snapshots", source_snapshot_id, source_region)
        if owner in (None, self.account_id):
            return copy_snapshot(self, source_snapshot_id, source_region, *args, **kwargs)
        snapshot = ec2_backends[owner][source_region].snapshots[source_snapshot_id]
        if self.account_id not in snapshot.create_volume_permission_userids:
            raise InvalidSnapshotIdError(source_snapshot_id)
        with lent("snapshots", source_snapshot_id, owner, self.account_id, source_region):
            return copy_snapshot(self, source_snapshot_id, source_region, *args, **kwargs)

    def shared_copy_image(self: Any, source_image_id: str, source_region: str, *args: Any, **kwargs: Any) -> Any:
        owner = owner_of("amis", source_image_id, source_region)
        if owner in (None, self.account_id):
            return copy_image(self, source_image_id, source_region, *args, **kwargs)
        image = ec2_backends[owner][source_region].amis[source_image_id]
        if {"UserId": self.account_id} not in image.launch_permissions:
            raise InvalidAMIIdError(source_image_id)
        with lent("amis", source_image_id, owner, self.account_id, source_region):
            return copy_image(self, source_image_id, source_region, *args, **kwargs)

    def shared_get_snapshot(self: Any, identifier: str, resource_type: Any, not_found_exception: Any) -> Any:
        if identifier.startswith("arn:") and identifier.split(":")[4] != self.account_id:
            region, _, _, name = split_arn(identifier)
            snapshot = rds_backends[identifier.split(":")[4]][region].resource_map[resource_type].get(name)
            if snapshot is None or self.account_id not in snapshot.attributes["restore"]:
                raise not_found_exception(identifier)
            return snapshot
        return get_snapshot(self, identifier, resource_type, not_found_exception)

    with ExitStack() as patches:
        patches.enter_context(mock.patch.object(EBSBackend, "copy_snapshot", shared_copy_snapshot))
        patches.enter_context(mock.patch.object(AmiBackend, "copy_image", shared_copy_image))
        patches.enter_context(mock.patch.object(RDSBackend, "get_snapshot", shared_get_snapshot))
        yield


def _network(site: Site) -> dict[str, Any]:
    """The destination's own network for a restore there (the recorded one is the source region's)."""
    network = sample_network(site.client("ec2"))
    groups = site.client("rds").describe_db_subnet_groups()["DBSubnetGroups"]
    if not any(g["DBSubnetGroupName"] == "copy-restores" for g in groups):
        site.client("rds").create_db_subnet_group(DBSubnetGroupName="copy-restores", DBSubnetGroupDescription="x",
                                                  SubnetIds=network["subnet_ids"])
    return network


def _restore_metadata(kind: ResourceType, site: Site, name: str) -> dict[str, str]:
    network = _network(site)
    return {
        ResourceType.EBS: {"availabilityZone": network["availability_zone"]},
        ResourceType.EC2: {"SubnetId": network["subnet_ids"][0], "SecurityGroupIds": network["security_group_id"]},
        ResourceType.RDS: {"DBInstanceIdentifier": name, "DBSubnetGroupName": "copy-restores",
                           "VpcSecurityGroupIds": network["security_group_id"]},
        ResourceType.AURORA: {"DBClusterIdentifier": name, "DBSubnetGroupName": "copy-restores",
                              "VpcSecurityGroupIds": network["security_group_id"]},
        ResourceType.DOCUMENTDB: {"DBClusterIdentifier": name, "DBSubnetGroupName": "copy-restores",
                                  "VpcSecurityGroupIds": network["security_group_id"]},
        ResourceType.NEPTUNE: {"DBClusterIdentifier": name, "DBSubnetGroupName": "copy-restores",
                               "VpcSecurityGroupIds": network["security_group_id"]},
    }[kind]


def _make(kind: ResourceType, source: Site, name: str) -> str:
    ec2, rds = source.client("ec2"), source.client("rds")
    return {
        ResourceType.EBS: lambda: create_sample_volume(ec2, name),
        ResourceType.EC2: lambda: create_sample_instance(ec2, name),
        ResourceType.RDS: lambda: create_sample_db_instance(rds, ec2, name),
        ResourceType.AURORA: lambda: create_sample_cluster(rds, ec2, name),
        ResourceType.DOCUMENTDB: lambda: create_sample_documentdb_cluster(rds, ec2, name),
        ResourceType.NEPTUNE: lambda: create_sample_neptune_cluster(rds, ec2, name),
    }[kind]()


def _copy_tags(kind: ResourceType, site: Site, native_ref: str) -> dict[str, str]:
    if kind in (ResourceType.EBS, ResourceType.EC2):
        found = site.client("ec2").describe_tags(Filters=[{"Name": "resource-id",
                                                            "Values": [native_ref.rsplit("/", 1)[-1]]}])["Tags"]
        return {t["Key"]: t["Value"] for t in found}
    listed = site.client("rds").list_tags_for_resource(ResourceName=native_ref)["TagList"]
    return {t["Key"]: t["Value"] for t in listed}


NATIVE = [ResourceType.EBS, ResourceType.EC2, ResourceType.RDS, ResourceType.AURORA, ResourceType.DOCUMENTDB,
          ResourceType.NEPTUNE]


@pytest.mark.parametrize("kind", NATIVE, ids=str)
def test_a_native_recovery_point_is_copied_to_another_region_and_account_by_the_service_and_restores_in_both(
        world: World, kind: ResourceType) -> None:
    name = f"copy-{kind.value.lower()}"
    rp = back_up(world.source.deps, _make(kind, world.source, name), f"{name}-backup",
                 RecoveryPointTags={"run": name})
    for scope in SCOPES:
        site = getattr(world, scope)
        with shared_artefacts_are_visible():
            job = copy(world.source, rp, dest(site, world), f"{name}-copy-{scope}")
        copied, manifest = the_copy(site, job)
        assert copied.native_ref and f":{DESTINATION_REGION}:" in copied.native_ref
        assert copied.parent_recovery_point_id == rp.recovery_point_id
        assert copied.encryption_key_arn == site.outputs["VaultKeyArn"]
        assert manifest.source["copied_from"]["recovery_point_id"] == rp.recovery_point_id  # type: ignore[index]
        tags = _copy_tags(kind, site, copied.native_ref)
        assert tags[TAG_RECOVERY_POINT] == copied.recovery_point_id and tags[TAG_PARENT] == rp.recovery_point_id
        assert tags["run"] == name  # the source recovery point's tags travel with the copy
        restored = restore(site, copied.recovery_point_id, f"{name}-restore-{scope}",
                           _restore_metadata(kind, site, f"{name}-restored"))
        assert restored.state is JobState.COMPLETED and restored.native_ref


def _volume_permissions(site: Site, rp: RecoveryPoint) -> set[str]:
    """The accounts the recovery point's snapshot is shared with (createVolumePermission)."""
    attribute = site.client("ec2").describe_snapshot_attribute(SnapshotId=(rp.native_ref or "").rsplit("/", 1)[-1],
                                                               Attribute="createVolumePermission")
    return {p["UserId"] for p in attribute["CreateVolumePermissions"] if "UserId" in p}


def test_a_copy_to_another_account_unshares_its_snapshot_when_it_ends_unless_another_copy_there_needs_it(
        world: World) -> None:
    deps = world.source.deps
    rp = back_up(deps, create_sample_volume(world.source.client("ec2"), "unshare"), "unshare-backup")
    with shared_artefacts_are_visible():
        copy(world.source, rp, dest(world.account, world), "unshare-copy-completed")
    assert _volume_permissions(world.source, rp) == set()  # COMPLETED: the other account no longer reads it

    # Two copies to that account at once: the first to end leaves the share to the one still copying.
    request = StartCopyJobRequest.model_validate({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken":
                                                  "unshare-copy-running", "DestinationBackupVaultArn":
                                                  dest(world.account, world)})
    with shared_artefacts_are_visible():
        started = copy_jobs(deps).start(request, "unshare-copy-running", f"{EXECUTION}-unshare-copy-running")
        running = deps.catalog.get_job(started.job_id)
        assert running.state is JobState.RUNNING and _volume_permissions(world.source, rp) == {OTHER_ACCOUNT}
        copy(world.source, rp, dest(world.account, world), "unshare-copy-alongside")
    assert _volume_permissions(world.source, rp) == {OTHER_ACCOUNT}  # still needed by the running copy
    deps.job_failures.fail(FailStep(job_id=running.job_id, error=StepError(Error="States.TaskFailed", Cause="lost")))
    assert deps.catalog.get_job(running.job_id).state is JobState.FAILED
    assert _volume_permissions(world.source, rp) == set()  # the last copy there ended: withdrawn
    deps.job_failures.fail(FailStep(job_id=running.job_id, error=StepError(Error="States.TaskFailed", Cause="lost")))


# ---- quotas -------------------------------------------------------------------------------------------------
def test_concurrent_copies_never_exceed_the_destinations_quota_and_all_complete(world: World) -> None:
    limit, copies = 2, 4
    deps = world.source.deps
    limited = Site(world.source.session, replace(deps, settings=replace(deps.settings, ebs_copy_quota=limit)),
                   world.source.outputs)
    # N copy jobs of one recovery point: each is a job of its own, each counts against the quota
    point = back_up(deps, create_sample_volume(world.source.client("ec2"), "quota"), "quota-backup")
    key = quota_key(ResourceType.EBS, VaultAddress.parse(dest(world.region, world)))
    assert key is not None
    quotas = CopyQuotas(deps.client_for("dynamodb"), deps.settings.catalog_table)
    seen: list[int] = []
    polls: dict[str, int] = {}
    copy_status = EbsAdapter.copy_status

    def slow_copy_status(adapter: EbsAdapter, native_ref: str) -> OperationStatus:
        """A copy in progress for a few polls (moto's copies are done at once), the slots counted meanwhile."""
        seen.append(len(quotas.holders(key)))
        polls[native_ref] = polls.get(native_ref, 0) + 1
        done = copy_status(adapter, native_ref)
        return OperationStatus(done=polls[native_ref] > 2, size_bytes=done.size_bytes, details=done.details)

    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            copy(limited, point, dest(world.region, world), f"quota-copy-{n}")
        except BaseException as error:
            errors.append(error)

    with mock.patch.object(EbsAdapter, "copy_status", slow_copy_status):
        threads = [threading.Thread(target=run, args=(n,)) for n in range(copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert not errors, errors
    assert max(seen) == limit  # the slots were all taken at some point ...
    assert all(count <= limit for count in seen)  # ... and never more
    jobs = [deps.catalog.get_job(job_id_for(f"quota-copy-{n}")) for n in range(copies)]
    assert {job.state for job in jobs} == {JobState.COMPLETED}
    assert any(JobState.PENDING in [t.state for t in job.history] for job in jobs)  # some waited their turn
    assert quotas.holders(key) == {}  # every slot given back with the job's end


def test_a_copy_that_fails_gives_its_slot_back_in_the_write_that_ends_it(world: World) -> None:
    deps = world.source.deps
    rp = back_up(deps, create_sample_volume(world.source.client("ec2"), "quota-fail"), "quota-fail-backup")
    request = StartCopyJobRequest.model_validate({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken":
                                                  "quota-fail-copy", "DestinationBackupVaultArn":
                                                  dest(world.region, world)})
    started = copy_jobs(deps).start(request, "quota-fail-copy", f"{EXECUTION}-quota-fail")
    job = deps.catalog.get_job(started.job_id)
    assert job.state is JobState.RUNNING and job.destination and job.destination.quota_key
    quotas = CopyQuotas(deps.client_for("dynamodb"), deps.settings.catalog_table)
    assert job.job_id in quotas.holders(job.destination.quota_key)
    deps.job_failures.fail(FailStep(job_id=job.job_id, error=StepError(Error="NativeOperationFailed",
                                                                       Cause="copy failed")))
    ended = deps.catalog.get_job(job.job_id)
    assert ended.state is JobState.FAILED and job.job_id not in quotas.holders(job.destination.quota_key)


def test_a_slot_held_by_a_job_that_ended_is_taken_back(world: World) -> None:
    deps = world.source.deps
    quotas = CopyQuotas(deps.client_for("dynamodb"), deps.settings.catalog_table)
    now = world.clock.now()
    assert quotas.acquire("test#stale", "gone-1", 1, now) is None
    assert quotas.acquire("test#stale", "live-2", 1, now, ended=lambda job: False) == ["gone-1"]
    assert quotas.acquire("test#stale", "live-2", 1, now, ended=lambda job: job == "gone-1") is None
    assert set(quotas.holders("test#stale")) == {"live-2"}
    assert quotas.acquire("test#stale", "live-2", 1, now) is None  # holding it already: acquired, counted once


def test_a_stopped_running_copy_ends_aborted_its_access_withdrawn_and_what_it_wrote_recorded_there(
        world: World) -> None:
    """`coffer jobs stop` of a running cross-account copy (services/job_control.py): ABORTED; the KMS grant it gave
    the destination revoked; the hold on its source recovery point given back, so an expiry may delete it again;
    and in the destination a DELETING recovery point for whatever the copy had written, which its sweep clears."""
    deps = world.source.deps
    create_sample_bucket(world.source.client("s3"), "stop-source")
    rp = back_up(deps, "arn:aws:s3:::stop-source", "stop-s3", Lifecycle={"DeleteAfterDays": 35})
    request = StartCopyJobRequest.model_validate({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken":
                                                  "copy-to-stop", "DestinationBackupVaultArn":
                                                  dest(world.account, world)})
    started = copy_jobs(deps).start(request, "copy-to-stop", f"{EXECUTION}-copy-to-stop")
    running = deps.catalog.get_job(started.job_id)
    assert running.state is JobState.RUNNING and len(_grants_for(world.source, running)) == 1
    assert deps.restore_leases.restores(rp.recovery_point_id) == [running.job_id]

    stopped = deps.job_control.stop(running.job_id, "arn:aws:iam::123456789012:role/operator")

    assert stopped.state == JobState.ABORTED.value
    job = deps.catalog.get_job(running.job_id)
    assert job.state is JobState.ABORTED and (job.status_message or "").startswith("JobStopped: stopped by ")
    assert _grants_for(world.source, running) == []
    assert deps.restore_leases.restores(rp.recovery_point_id) == []
    assert running.destination is not None
    left = world.account.deps.catalog.get_recovery_point(running.destination.recovery_point_id)
    assert left.status is RecoveryPointStatus.DELETING and left.job_id == running.job_id
