"""Failures that outlast botocore's retries (9 attempts), or that touch one object: the workflow's own answers."""

from __future__ import annotations

import pytest

from coffer.domain.jobs import JobState
from coffer.domain.manifest import Manifest
from coffer_twin.faults import FaultKind

from .conftest import OBJECTS, World

BOTOCORE_ATTEMPTS = 9  # adapters/aws.py: max_attempts 8 retries, standard mode


def test_s3_throttling_that_outlasts_botocore_is_retried_by_the_workflow(world: World) -> None:
    """S3's SlowDown is no modelled error: without a name the ASL's Retry lists, the batch failed for good."""
    fault = world.faults.fail(FaultKind.THROTTLING, "s3", "CopyObject", caller="CopyBatchFunction",
                              times=BOTOCORE_ATTEMPTS)
    run = world.s3_backup()
    assert fault.injected == BOTOCORE_ATTEMPTS and run.status == "SUCCEEDED"
    run.check()
    assert world.left_behind() == []


def test_an_endpoint_that_does_not_answer_outlasting_botocore_is_retried_by_the_workflow(world: World) -> None:
    fault = world.faults.fail(FaultKind.CONNECTION, "dynamodb", "GetItem", caller="ListBatchesFunction",
                              times=BOTOCORE_ATTEMPTS)
    run = world.s3_backup()
    assert fault.injected == BOTOCORE_ATTEMPTS and run.status == "SUCCEEDED"
    run.check()


def test_throttling_for_good_fails_the_job_with_its_cause_after_the_workflows_retries(world: World) -> None:
    fault = world.faults.fail(FaultKind.THROTTLING, "s3", "ListObjectsV2", caller="ListBatchesFunction", times=None)
    run = world.s3_backup()
    job = world.job(run.job_id)
    assert run.result["error"] == "JobFailed" and job.state is JobState.FAILED
    assert (job.status_message or "").startswith("SlowDown")
    # botocore's attempts, times the ASL's first try and its 4 retries
    assert fault.injected == BOTOCORE_ATTEMPTS * 5
    assert world.left_behind() == []


@pytest.mark.parametrize(("operation", "size", "code"),
                         [("GetObject", 0, "AccessDenied"), ("HeadObject", 2 * 1024**2, "403")],
                         ids=["read-and-hashed", "described-by-head"])
def test_one_object_that_cannot_be_read_is_the_only_failed_key(world: World, operation: str, size: int,
                                                               code: str) -> None:
    """A small new object is read (GetObject) and hashed in Lambda, a larger one described by HeadObject (which S3
    refuses with a bare 403): either refused, that object fails, not its whole batch."""
    bucket = world.fresh_bucket()
    if size:  # larger than HashInLambdaMaxBytes (1 MiB by default): described by HeadObject, hashed by S3
        world.s3.put_object(Bucket=bucket, Key="data/1.txt", Body=b"x" * size)
    world.faults.fail(FaultKind.ACCESS_DENIED, "s3", operation, caller="CopyBatchFunction",
                      url_contains=f"{bucket}.s3.amazonaws.com/data/1.txt", times=None)
    run = world.s3_backup(bucket)
    job = world.job(run.job_id)
    assert job.state is JobState.PARTIAL
    assert job.progress.failed_keys == [f"data/1.txt ({code})"]
    assert job.progress.objects == OBJECTS - 1


def test_a_partial_recovery_point_whose_failed_batch_wrote_its_part_restores_what_its_manifest_lists(
        world: World) -> None:
    """The batch wrote its manifest part, then could not record it: the part is in the vault but not in the
    manifest. The restore lists parts in the vault; it must restore only what the manifest holds."""
    bucket = world.fresh_bucket()
    world.faults.fail(FaultKind.ACCESS_DENIED, "dynamodb", "PutItem", caller="CopyBatchFunction", times=None, skip=1)
    run = world.s3_backup(bucket)
    world.faults.clear()
    rp = world.recovery_point_of(run.job_id)
    manifest = Manifest.model_validate_json(world.coffer.deps.vault.get_bytes(rp.manifest_key or ""))
    assert world.job(run.job_id).state is JobState.PARTIAL and len(manifest.parts) == 1
    assert len(world.keys(world.coffer.settings.vault_bucket, f"vaults/Default/recovery-points/"
                                                                f"{rp.recovery_point_id}/parts/")) == 2
    target = f"partial-restored-{rp.recovery_point_id[:8]}"
    restored = world.coffer.start_restore({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": target,
                                           "Metadata": {"DestinationBucketName": target, "NewBucket": "true"}})
    assert restored["status"] == "SUCCEEDED", restored
    # which of the two batches failed depends on which child wrote its record second
    assert manifest.objects in (2, 4) and len(manifest.failed_keys) == OBJECTS - manifest.objects
    assert len(world.keys(target)) == manifest.objects


def test_a_snapshot_whose_create_answer_was_lost_is_made_once(world: World) -> None:
    """CreateSnapshot has no client token: botocore repeating it would leave a second, forgotten snapshot."""
    from coffer_cli.local.samples import create_sample_volume

    ec2 = world.coffer.client("ec2")
    volume = create_sample_volume(ec2, "fault-volume")
    fault = world.faults.fail(FaultKind.TIMEOUT, "ec2", "CreateSnapshot", caller="StartBackupJobFunction")
    run = world.coffer.start_backup({"ResourceArn": volume, "IdempotencyToken": "ebs-answer-lost"})
    assert fault.injected == 1 and run["status"] == "SUCCEEDED", run
    rp = world.recovery_point_of(run["output"]["job_id"])
    volume_id = volume.rsplit("/", 1)[-1]
    snapshots = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": [volume_id]}])["Snapshots"]
    assert [s["SnapshotId"] for s in snapshots] == [(rp.native_ref or "").rsplit("/", 1)[-1]]
