"""The Backup and Restore workflows on the twin: real template, real ASL, real handlers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from twins import Twins

from coffer.domain.clock import FixedClock, SystemClock
from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import JobState
from coffer.domain.manifest import Manifest, VaultLayout
from coffer.domain.recovery_points import RecoveryPointStatus
from coffer_cli.local.samples import bucket_snapshot, create_sample_bucket, create_sample_table
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "workflow-source"


@pytest.fixture
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh() as deployed:
        yield deployed


def catalog_items(coffer: LocalCoffer) -> list[dict[str, object]]:
    return coffer.client("dynamodb").scan(TableName=coffer.settings.catalog_table)["Items"]


def failure_causes(coffer: LocalCoffer, execution_arn: str) -> str:
    # a refused request's cause is the execution's (ExecutionFailed); a failed step's, its TaskFailed
    events = [e for e in coffer.twin.history(execution_arn) if e["type"] in ("TaskFailed", "ExecutionFailed")]
    return json.dumps(events, default=str)


def s3_backup(coffer: LocalCoffer, token: str, bucket: str = BUCKET, **detail: object) -> dict[str, object]:
    return coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{bucket}", "IdempotencyToken": token, **detail})


def test_a_bad_event_is_refused_naming_the_field_and_nothing_is_written(coffer: LocalCoffer) -> None:
    result = coffer.start_backup({"BackupVaultName": "Default", "Lifecycle": {"DeleteAfterDays": 0}})
    assert result["status"] == "FAILED" and result["error"] == "RequestRefused"
    causes = failure_causes(coffer, str(result["arn"]))
    assert "detail.ResourceArn: Field required" in causes
    assert "detail.Lifecycle.DeleteAfterDays: Input should be greater than or equal to 1" in causes
    assert catalog_items(coffer) == []


def test_the_same_event_twice_makes_one_job_and_one_recovery_point(coffer: LocalCoffer) -> None:
    create_sample_bucket(coffer.client("s3"), BUCKET)
    first = s3_backup(coffer, "once")
    second = s3_backup(coffer, "once")
    assert first["status"] == second["status"] == "SUCCEEDED"
    assert second["output"]["duplicate"] is True and second["output"]["job_id"] == first["output"]["job_id"]
    assert len(list(coffer.deps.catalog.list_jobs(coffer.clock.now()))) == 1
    assert len(list(coffer.deps.catalog.list_recovery_points("Default"))) == 1


def test_a_token_reused_for_another_request_is_refused(coffer: LocalCoffer) -> None:
    create_sample_bucket(coffer.client("s3"), BUCKET)
    assert s3_backup(coffer, "tok")["status"] == "SUCCEEDED"
    other = s3_backup(coffer, "tok", Lifecycle={"DeleteAfterDays": 7})
    assert other["error"] == "RequestRefused"
    assert "IdempotencyToken 'tok' was used for a different request" in failure_causes(coffer, str(other["arn"]))


def test_a_second_backup_of_a_busy_resource_is_refused_with_the_running_jobs_id(coffer: LocalCoffer) -> None:
    create_sample_table(coffer.client("dynamodb"))
    arn = f"arn:aws:dynamodb:{coffer.twin.region}:123456789012:table/coffer-sample-orders"
    event = {"version": "0", "id": "e1", "detail-type": "StartBackupJob", "source": "coffer", "account": "123456789012",
             "time": coffer.clock.now().isoformat(), "region": coffer.twin.region, "resources": [],
             "detail": {"ResourceArn": arn, "IdempotencyToken": "holder"}}
    running = coffer.twin.invoke("StartBackupJobFunction", {"event": event, "execution_arn": "arn:x"})
    refused = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": "second"})
    assert refused["error"] == "RequestRefused"
    assert f"is being backed up by job {running['job_id']}" in failure_causes(coffer, str(refused["arn"]))
    assert coffer.deps.catalog.get_job(running["job_id"]).state is JobState.RUNNING


def test_an_event_arriving_after_its_start_window_makes_an_expired_job(twins: Twins) -> None:
    late = FixedClock(SystemClock().now() + timedelta(hours=2))
    with twins.fresh(clock=late) as coffer:
        create_sample_bucket(coffer.client("s3"), BUCKET)
        result = s3_backup(coffer, "late")
        job = coffer.deps.catalog.get_job(result["output"]["job_id"])
        assert job.state is JobState.EXPIRED and "not started by" in (job.status_message or "")
        assert coffer.deps.catalog.lease_holder(job.resource_arn) is None
        assert list(coffer.deps.catalog.list_recovery_points("Default")) == []


def test_a_bucket_split_into_many_batches_gives_one_manifest_equal_to_the_bucket(twins: Twins) -> None:
    with twins.fresh({"BatchSize": "4"}) as coffer:
        s3 = coffer.client("s3")
        objects = create_sample_bucket(s3, BUCKET)
        result = s3_backup(coffer, "batched")
        job = coffer.deps.catalog.get_job(result["output"]["job_id"])
        assert job.state is JobState.COMPLETED and job.progress.batches_total == 4
        rp = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
        manifest = Manifest.model_validate_json(coffer.deps.vault.get_bytes(rp.manifest_key or ""))
        assert [p.seq for p in manifest.parts] == [0, 1, 2, 3] and manifest.objects == len(objects)
        keys = [e["key"] for p in manifest.parts for e in coffer.deps.vault.get_json(p.key)["entries"]]
        assert keys == sorted(o.key for o in objects)
        assert coffer.twin.invocations["CopyBatchFunction"] == 4

        # (into a new bucket, the default: restores never take over the source, which is not versioned here)
        target = {"DestinationBucketName": "batched-restored", "DestinationPrefix": "restored/"}
        restored = coffer.start_restore({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": "r",
                                         "Metadata": target})
        assert restored["status"] == "SUCCEEDED"
        # one Distributed Map child per manifest part, and the part-range fan-out's find (nothing deferred)
        assert coffer.twin.invocations["RestoreBatchFunction"] == 4 + 1
        assert bucket_snapshot(s3, "batched-restored", prefix="restored/") == bucket_snapshot(s3, BUCKET)


def test_an_object_that_cannot_be_read_leaves_the_job_partial_with_its_key(coffer: LocalCoffer) -> None:
    s3 = coffer.client("s3")
    create_sample_bucket(s3, BUCKET)
    s3.put_object(Bucket=BUCKET, Key="frozen/archive.bin", Body=b"cold", StorageClass="GLACIER")
    result = s3_backup(coffer, "partial")
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    assert job.state is JobState.PARTIAL
    assert [k.split(" ")[0] for k in job.progress.failed_keys] == ["frozen/archive.bin"]
    rp = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
    assert rp.status is RecoveryPointStatus.PARTIAL
    manifest = Manifest.model_validate_json(coffer.deps.vault.get_bytes(rp.manifest_key or ""))
    assert manifest.failed_keys[0].startswith("frozen/archive.bin") and manifest.objects == 15


def test_an_empty_bucket_backs_up_and_restores_as_empty(coffer: LocalCoffer) -> None:
    coffer.client("s3").create_bucket(Bucket="empty-source")
    result = s3_backup(coffer, "empty", bucket="empty-source")
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    assert job.state is JobState.COMPLETED and job.progress.objects == 0
    restored = coffer.start_restore({"RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": "r-empty",
                                     "Metadata": {"DestinationBucketName": "empty-restored", "NewBucket": "true"}})
    assert restored["status"] == "SUCCEEDED"
    assert coffer.client("s3").list_objects_v2(Bucket="empty-restored")["KeyCount"] == 0


def test_a_restore_without_its_destination_is_refused_naming_the_metadata_key(coffer: LocalCoffer) -> None:
    create_sample_bucket(coffer.client("s3"), BUCKET)
    job_id = s3_backup(coffer, "to-restore")["output"]["job_id"]
    rp_id = coffer.deps.catalog.get_job(job_id).recovery_point_id
    refused = coffer.start_restore({"RecoveryPointArn": rp_id, "IdempotencyToken": "bad-restore", "Metadata": {}})
    assert refused["error"] == "RequestRefused"
    assert "Metadata.DestinationBucketName: required" in failure_causes(coffer, str(refused["arn"]))


def test_a_manifest_overwritten_in_the_vault_is_never_read_by_a_restore(coffer: LocalCoffer) -> None:
    s3 = coffer.client("s3")
    create_sample_bucket(s3, BUCKET)
    job = coffer.deps.catalog.get_job(s3_backup(coffer, "tampered")["output"]["job_id"])
    rp = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
    key = VaultLayout.manifest("Default", job.recovery_point_id)
    # A versioned bucket accepts a new version on top of a locked one; the lock keeps the old one.
    forged = coffer.deps.vault.get_bytes(key).replace(b'"objects": 15', b'"objects": 14')
    s3.put_object(Bucket=coffer.settings.vault_bucket, Key=key, Body=forged, ChecksumAlgorithm="SHA256")
    # The restore reads the version the recovery point pins (before pins, the newest was read and refused by the
    # catalog's checksum: the job FAILED): the forged version is never read, what was backed up is restored.
    assert rp.manifest_version_id
    restored = coffer.start_restore({"RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": "r-tampered",
                                     "Metadata": {"DestinationBucketName": "never-forged", "NewBucket": "true"}})
    assert restored["status"] == "SUCCEEDED", failure_causes(coffer, str(restored["arn"]))
    assert coffer.deps.catalog.get_job(job_id_for("r-tampered")).state is JobState.COMPLETED
    assert bucket_snapshot(s3, "never-forged") == bucket_snapshot(s3, BUCKET)


def test_the_manifest_alone_describes_the_recovery_point_as_the_catalog_does(coffer: LocalCoffer) -> None:
    create_table = create_sample_table(coffer.client("dynamodb"))
    arn = f"arn:aws:dynamodb:{coffer.twin.region}:123456789012:table/coffer-sample-orders"
    result = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": "ddb", "Lifecycle": {"DeleteAfterDays": 40}})
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    rp = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
    manifest = Manifest.model_validate_json(coffer.deps.vault.get_bytes_version(rp.manifest_key or "",
                                                                                 rp.manifest_version_id or ""))
    # all but what is known only once it is written: its SHA-256 and its VersionId (the catalog pins both)
    assert rp.manifest_version_id and manifest.recovery_point == rp.model_copy(update={
        "manifest_sha256": None, "manifest_version_id": None, "version": 0})
    assert manifest.source["key_schema"] == [{"AttributeName": "order_id", "KeyType": "HASH"}]
    assert rp.delete_at == job.created_at + timedelta(days=40) and rp.native_ref and len(create_table) == 25


def _hold_table(coffer: LocalCoffer, token: str) -> tuple[str, str]:
    """Start (not finish) a DynamoDB backup directly, so its job holds the table's lease."""
    create_sample_table(coffer.client("dynamodb"))
    arn = f"arn:aws:dynamodb:{coffer.twin.region}:123456789012:table/coffer-sample-orders"
    event = {"version": "0", "id": token, "detail-type": "StartBackupJob", "source": "coffer",
             "account": "123456789012", "time": coffer.clock.now().isoformat(), "region": coffer.twin.region,
             "resources": [], "detail": {"ResourceArn": arn, "IdempotencyToken": token}}
    holder = coffer.twin.invoke("StartBackupJobFunction", {"event": event, "execution_arn": f"arn:{token}"})
    return arn, holder["job_id"]


def _wait_for_state(coffer: LocalCoffer, job_id: str, state: JobState, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if coffer.deps.catalog.get_job(job_id).state is state:
                return
        except NotFound:
            pass
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {state}")


def test_a_planned_backup_of_a_busy_resource_waits_its_turn_then_runs(coffer: LocalCoffer) -> None:
    arn, holder = _hold_table(coffer, "holder")
    [execution] = coffer.twin.put_event("coffer", "StartBackupJob", {
        "ResourceArn": arn, "IdempotencyToken": "queued", "BackupPlanId": "nightly", "BackupRuleName": "daily"})
    queued = job_id_for("queued")
    _wait_for_state(coffer, queued, JobState.PENDING)
    assert coffer.deps.catalog.lease_holder(arn) == holder
    assert coffer.twin.invoke("CompleteBackupFunction", {"job_id": holder})["state"] == "COMPLETED"
    result = coffer.twin.wait(execution, timeout=60)
    assert result["status"] == "SUCCEEDED"
    job = coffer.deps.catalog.get_job(queued)
    assert job.state is JobState.COMPLETED
    assert [t.state for t in job.history] == [JobState.CREATED, JobState.PENDING, JobState.CREATED,
                                              JobState.RUNNING, JobState.COMPLETED]
    assert coffer.deps.catalog.lease_holder(arn) is None


def test_a_queued_backup_expires_when_its_start_window_passes(twins: Twins) -> None:
    clock = FixedClock(SystemClock().now())
    with twins.fresh(clock=clock) as coffer:
        arn, holder = _hold_table(coffer, "holder")
        [execution] = coffer.twin.put_event("coffer", "StartBackupJob", {
            "ResourceArn": arn, "IdempotencyToken": "late-in-queue", "BackupPlanId": "nightly"})
        queued = job_id_for("late-in-queue")
        _wait_for_state(coffer, queued, JobState.PENDING)
        clock.advance(timedelta(minutes=61))
        assert coffer.twin.wait(execution, timeout=60)["status"] == "SUCCEEDED"
        assert coffer.deps.catalog.get_job(queued).state is JobState.EXPIRED
        assert coffer.deps.catalog.lease_holder(arn) == holder  # the running job keeps its lease


def test_a_lease_left_by_a_job_that_ended_does_not_block_the_resource(coffer: LocalCoffer) -> None:
    arn, holder = _hold_table(coffer, "crashed")
    job = coffer.deps.catalog.get_job(holder)
    coffer.deps.catalog.save_job(job.to(JobState.FAILED, coffer.clock.now(), "simulated crash"))  # lease kept
    assert coffer.deps.catalog.lease_holder(arn) == holder
    result = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": "after-crash"})
    assert result["status"] == "SUCCEEDED"
    assert coffer.deps.catalog.get_job(job_id_for("after-crash")).state is JobState.COMPLETED
    assert coffer.deps.catalog.lease_holder(arn) is None
