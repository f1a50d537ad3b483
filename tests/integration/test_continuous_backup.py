"""Continuous backup and point-in-time restore on the twin: real template, ASL and handlers, simulated time.

One twin for the module. S3's EventBridge events come from the twin's S3 seam (twin/s3_events.py: moto's own
are incomplete) and reach RecordObjectChange through the ObjectChangeRule, asynchronously as in AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.adapters.catalog.continuous import ContinuousCatalog
from coffer.domain.clock import FixedClock
from coffer.domain.continuous import ProtectionState, format_time
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import JobState
from coffer.domain.manifest import Manifest
from coffer.domain.verify import FindingKind
from coffer_cli.local.samples import (
    bucket_snapshot,
    create_sample_cluster,
    create_sample_documentdb_cluster,
    create_sample_table,
    table_items,
)
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime(2026, 11, 25, tzinfo=UTC)
BUCKET = "pitr-day"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/coffer-sample-orders"

CLOCK = FixedClock(DAY)


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    # BatchSize 4: the base backup, the planner's pages and the restore's batches all take several rounds.
    with twins.fresh({"BatchSize": "4"}, clock=CLOCK) as deployed:
        yield deployed


def failure_causes(coffer: LocalCoffer, execution_arn: str) -> str:
    # a refused request's cause is the execution's (ExecutionFailed); a failed step's, its TaskFailed
    events = [e for e in coffer.twin.history(execution_arn) if e["type"] in ("TaskFailed", "ExecutionFailed")]
    return json.dumps(events, default=str)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    CLOCK.set(DAY + timedelta(hours=hour, minutes=minute, seconds=second))
    return CLOCK.now()


def test_an_s3_bucket_changed_all_day_is_restored_exactly_as_of_three_times(coffer: LocalCoffer) -> None:
    s3, twin = coffer.client("s3"), coffer.twin

    def put(key: str, body: bytes, **extra: Any) -> str:
        return str(s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)["VersionId"])

    def settle() -> None:
        twin.wait_for_async()  # EventBridge invokes RecordObjectChange asynchronously

    at(0)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for n in range(7):
        put(f"docs/{n:02d}.txt", f"doc {n}\n".encode() * (n + 1), ContentType="text/plain",
            Metadata={"n": str(n)}, Tagging=f"doc={n}")
    put("reports/2026/q4.json", b'{"q": 4}', ContentType="application/json", Tagging="team=finance")
    put("docs/00.txt", b"rewritten before protection")  # not journaled: the base backup has it

    at(0, 5)
    enabled = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{BUCKET}", "IdempotencyToken": "pitr-day",
                                   "EnableContinuousBackup": True, "Lifecycle": {"DeleteAfterDays": 7}})
    assert enabled["status"] == "SUCCEEDED", failure_causes(coffer, str(enabled["arn"]))
    job = coffer.deps.catalog.get_job(enabled["output"]["job_id"])
    assert job.state is JobState.COMPLETED and job.progress.batches_total == 2  # 8 objects, 4 per batch
    rp = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
    manifest = Manifest.model_validate_json(coffer.deps.vault.get_bytes(rp.manifest_key or ""))
    assert manifest.source["continuous"] == {
        "retention_days": 7, "enabled_at": "2026-11-25T00:05:00Z", "restorable_from": "2026-11-25T00:05:00Z",
        "journal": f"catalog: pk=JOURNAL#{rp.recovery_point_id}"}
    assert rp.delete_at is None and rp.cold_at is None  # kept while protection is on, never cold

    expected: dict[datetime, dict[str, dict[str, Any]]] = {}
    at(8)
    put("docs/01.txt", b"edited at eight", ContentType="text/markdown", Metadata={"n": "1", "rev": "2"},
        Tagging="doc=1&rev=2")
    put("new/a.bin", bytes(range(256)) * 40, Metadata={"kind": "binary"})
    s3.delete_object(Bucket=BUCKET, Key="docs/02.txt")  # a delete marker
    settle()
    at(9, 30)
    put("docs/03.txt", b"first of two edits in one second")
    put("docs/03.txt", b"second of two edits in one second", Tagging="final=yes")
    settle()
    expected[CLOCK.now()] = bucket_snapshot(s3, BUCKET)  # T1: exactly when the last change happened

    at(11)
    put("docs/02.txt", b"re-created after its deletion", Metadata={"back": "yes"})
    s3.copy_object(Bucket=BUCKET, Key="copies/q4.json", CopySource={"Bucket": BUCKET, "Key": "reports/2026/q4.json"})
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "docs/04.txt"}, {"Key": "new/a.bin"}]})
    newer = put("docs/05.txt", b"a version deleted for good later")
    settle()
    at(12, 15)
    expected[CLOCK.now()] = bucket_snapshot(s3, BUCKET)  # T2: between changes
    at(14)
    s3.delete_object(Bucket=BUCKET, Key="docs/05.txt", VersionId=newer)  # the base's version is current again
    put("new/a.bin", b"back, with other bytes", Tagging="again=1")
    s3.delete_object(Bucket=BUCKET, Key="docs/06.txt")
    settle()
    at(17, 45)
    put("docs/06.txt", b"re-created late", ContentType="text/plain")
    put("docs/01.txt", b"edited again at quarter to six")
    settle()
    at(19)
    expected[CLOCK.now()] = bucket_snapshot(s3, BUCKET)  # T3: the evening
    at(19, 0, 1)
    put("docs/00.txt", b"changed after the last restore time")
    s3.delete_object(Bucket=BUCKET, Key="reports/2026/q4.json")
    settle()
    assert twin.stats.errors["RecordObjectChangeFunction"] == 0

    at(20)
    executions = {}
    for n, moment in enumerate(expected):
        target = f"pitr-day-restored-{n}"
        [arn] = twin.put_event("coffer", "StartRestoreJob", {
            "RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": f"pitr-day-{n}",
            "Metadata": {"DestinationBucketName": target, "NewBucket": "true", "RestoreTime": format_time(moment)}},
            bus=coffer.request_bus)
        executions[target] = (arn, moment)
    for target, (arn, moment) in executions.items():
        result = twin.wait(arn, timeout=120)
        assert result["status"] == "SUCCEEDED", failure_causes(coffer, arn)
        assert bucket_snapshot(s3, target) == expected[moment], (target, moment)
    assert len({json.dumps(snapshot, sort_keys=True) for snapshot in expected.values()}) == 3
    # Bounded work: each restore's planner ran more than once (20 journal entries or keys per call at BatchSize 4)
    # and each restore's objects were spread over several batch files.
    assert twin.invocations["ListPitrBatchesFunction"] >= 2 * len(expected)
    assert all(coffer.deps.catalog.get_job(job_id_for(f"pitr-day-{n}")).progress.batches_total >= 2
               for n in range(len(expected)))

    # A repeated event never appends twice: redeliver one recorded change through the handler.
    catalog = ContinuousCatalog(coffer.client("dynamodb"), coffer.settings.catalog_table)
    page, _ = catalog.journal_page(rp.recovery_point_id, None, 100)
    journaled = [change for _, change in page]
    change = next(c for c in journaled if c.key == "docs/03.txt" and c.object is not None)
    event = {"version": "0", "id": change.event_id, "detail-type": "Object Created", "source": "aws.s3",
             "account": twin.account_id, "time": format_time(change.time), "region": twin.region,
             "resources": [f"arn:aws:s3:::{BUCKET}"],
             "detail": {"version": "0", "bucket": {"name": BUCKET}, "reason": "PutObject",
                        "object": {"key": change.key, "size": change.object.size, "etag": change.object.etag,
                                   "version-id": change.version_id, "sequencer": change.sequencer}}}
    again = twin.invoke("RecordObjectChangeFunction", event)
    assert (again["recorded"], again["duplicate"]) == (False, True)
    assert len(catalog.journal_page(rp.recovery_point_id, None, 100)[0]) == len(journaled) == 17
    # The journal's versions are the vault's: `coffer vault verify` counts them as referenced, not orphaned.
    _, findings = coffer.deps.verifier.run(["Default"])
    assert not [f for f in findings if f.kind is FindingKind.ORPHANED], findings

    # Before the base backup completed nothing is restorable; the target must be empty.
    early = coffer.start_restore({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": "pitr-early",
                                  "Metadata": {"DestinationBucketName": "never", "NewBucket": "true",
                                               "RestoreTime": "2026-11-25T00:04:59Z"}})
    assert early["error"] == "RequestRefused"
    assert "Metadata.RestoreTime: 2026-11-25T00:04:59Z is outside the restorable window 2026-11-25T00:05:00Z" \
        in failure_causes(coffer, str(early["arn"]))
    # An existing bucket: refused before any job unless NewBucket is "false" (restores never take over) ...
    taken = coffer.start_restore({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": "pitr-taken",
                                  "Metadata": {"DestinationBucketName": BUCKET, "UseLatestRestorableTime": "true"}})
    assert taken["error"] == "RequestRefused"
    assert f"Metadata.DestinationBucketName: '{BUCKET}' exists: a restore into a new bucket" in failure_causes(
        coffer, str(taken["arn"]))
    # ... and with it (the bucket is versioned), a point-in-time restore still wants it empty
    busy = coffer.start_restore({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": "pitr-busy",
                                 "Metadata": {"DestinationBucketName": BUCKET, "NewBucket": "false",
                                              "UseLatestRestorableTime": "true"}})
    assert busy["status"] == "FAILED"
    assert f"Metadata.DestinationBucketName: s3://{BUCKET}/ already holds objects" in failure_causes(
        coffer, str(busy["arn"]))


def test_dynamodb_pitr_restores_inside_the_window_and_refuses_outside_naming_the_field(coffer: LocalCoffer) -> None:
    dynamodb = coffer.client("dynamodb")
    items = create_sample_table(dynamodb)
    at(21)
    enabled = coffer.start_backup({"ResourceArn": TABLE_ARN, "IdempotencyToken": "table-pitr",
                                   "EnableContinuousBackup": True, "Lifecycle": {"DeleteAfterDays": 2}})
    job = coffer.deps.catalog.get_job(enabled["output"]["job_id"])
    assert job.state is JobState.COMPLETED, failure_causes(coffer, str(enabled["arn"]))
    pitr = dynamodb.describe_continuous_backups(TableName="coffer-sample-orders")["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["RecoveryPeriodInDays"] == 2

    at(23, 30)
    restored = coffer.start_restore({"RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": "table-at-22",
                                     "Metadata": {"targetTableName": "orders-at-22",
                                                  "RestoreTime": "2026-11-25T22:00:00Z"}})
    assert restored["status"] == "SUCCEEDED", failure_causes(coffer, str(restored["arn"]))
    restore = coffer.deps.catalog.get_job(restored["output"]["job_id"])
    assert restore.state is JobState.COMPLETED and restore.restore_target["RestoreTime"] == "2026-11-25T22:00:00Z"
    assert table_items(dynamodb, "orders-at-22") == table_items(dynamodb, "coffer-sample-orders")
    assert len(items) == len(table_items(dynamodb, "orders-at-22"))

    for token, moment in (("table-too-early", "2026-11-25T20:59:59Z"), ("table-future", "2026-11-26T00:00:00Z")):
        refused = coffer.start_restore({"RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": token,
                                        "Metadata": {"targetTableName": token, "RestoreTime": moment}})
        assert refused["error"] == "RequestRefused"
        assert f"Metadata.RestoreTime: {moment} is outside the restorable window 2026-11-25T21:00:00Z .. " \
               "2026-11-25T23:30:00Z" in failure_causes(coffer, str(refused["arn"]))

    # A snapshot recovery point restores as it was taken: a RestoreTime for it is refused by name.
    snapshot = coffer.start_backup({"ResourceArn": TABLE_ARN, "IdempotencyToken": "table-snapshot"})
    snapshot_rp = coffer.deps.catalog.get_job(snapshot["output"]["job_id"]).recovery_point_id
    refused = coffer.start_restore({"RecoveryPointArn": snapshot_rp, "IdempotencyToken": "snapshot-at-time",
                                    "Metadata": {"targetTableName": "never", "RestoreTime": "2026-11-25T22:00:00Z"}})
    assert refused["error"] == "RequestRefused" and f"Metadata.RestoreTime: recovery point {snapshot_rp} is a " \
        "snapshot, not a continuous backup" in failure_causes(coffer, str(refused["arn"]))
    # One continuous backup per resource: another vault is refused, naming the field.
    other = coffer.start_backup({"ResourceArn": TABLE_ARN, "IdempotencyToken": "table-pitr-other",
                                 "BackupVaultName": "Other", "EnableContinuousBackup": True})
    assert other["error"] == "RequestRefused" and f"BackupVaultName: {TABLE_ARN} is already backed up continuously " \
        "into vault Default" in failure_causes(coffer, str(other["arn"]))
    # Asking again only sets the retention; the recovery point and its window stay.
    at(23, 45)
    again = coffer.start_backup({"ResourceArn": TABLE_ARN, "IdempotencyToken": "table-pitr-14",
                                 "EnableContinuousBackup": True, "Lifecycle": {"DeleteAfterDays": 14}})
    second = coffer.deps.catalog.get_job(again["output"]["job_id"])
    assert second.state is JobState.COMPLETED and "retention now 14 days" in (second.status_message or "")
    protection = ContinuousCatalog(dynamodb, coffer.settings.catalog_table).get_protection(TABLE_ARN)
    assert protection is not None and protection.state is ProtectionState.ACTIVE
    assert (protection.recovery_point_id, protection.retention_days) == (job.recovery_point_id, 14)
    assert coffer.deps.catalog.lease_holder(TABLE_ARN) is None


def test_rds_restores_to_a_time_with_its_automated_backups(coffer: LocalCoffer) -> None:
    rds = coffer.client("rds")
    arn = rds.create_db_instance(DBInstanceIdentifier="pitr-db", Engine="postgres", DBInstanceClass="db.t3.micro",
                                 AllocatedStorage=20, MasterUsername="coffer", MasterUserPassword="pw-1234567",
                                 Tags=[{"Key": "team", "Value": "platform"}])["DBInstance"]["DBInstanceArn"]
    at(22)
    enabled = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": "db-pitr", "EnableContinuousBackup": True,
                                   "Lifecycle": {"DeleteAfterDays": 5}})
    job = coffer.deps.catalog.get_job(enabled["output"]["job_id"])
    assert job.state is JobState.COMPLETED, failure_causes(coffer, str(enabled["arn"]))
    assert rds.describe_db_instances(DBInstanceIdentifier="pitr-db")["DBInstances"][0]["BackupRetentionPeriod"] == 5
    at(23)
    restored = coffer.start_restore({"RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": "db-at-22-30",
                                     "Metadata": {"DBInstanceIdentifier": "pitr-db-22-30",
                                                  "RestoreTime": "2026-11-25T22:30:00Z"}})
    assert restored["status"] == "SUCCEEDED", failure_causes(coffer, str(restored["arn"]))
    [db] = rds.describe_db_instances(DBInstanceIdentifier="pitr-db-22-30")["DBInstances"]
    tags = {t["Key"]: t["Value"] for t in db["TagList"]}
    assert tags["team"] == "platform" and tags["coffer:restore-job-id"] == restored["output"]["job_id"]


def test_aurora_restores_to_a_time_into_a_new_cluster_and_refuses_outside_the_window(coffer: LocalCoffer) -> None:
    rds = coffer.client("rds")
    arn = create_sample_cluster(rds, coffer.client("ec2"), "pitr-ledger")
    at(20)
    enabled = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": "ledger-pitr",
                                   "EnableContinuousBackup": True, "Lifecycle": {"DeleteAfterDays": 3}})
    job = coffer.deps.catalog.get_job(enabled["output"]["job_id"])
    assert job.state is JobState.COMPLETED, failure_causes(coffer, str(enabled["arn"]))
    assert job.resource_type.value == "Aurora" and job.continuous
    [cluster] = rds.describe_db_clusters(DBClusterIdentifier="pitr-ledger")["DBClusters"]
    assert cluster["BackupRetentionPeriod"] == 3
    manifest = Manifest.model_validate_json(coffer.deps.vault.get_bytes(
        coffer.deps.catalog.get_recovery_point(job.recovery_point_id).manifest_key or ""))
    assert manifest.source["continuous"]["retention_days"] == 3

    at(23)
    restored = coffer.start_restore({"RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": "ledger-at-21",
                                     "Metadata": {"DBClusterIdentifier": "pitr-ledger-21",
                                                  "RestoreTime": "2026-11-25T21:00:00Z"}})
    assert restored["status"] == "SUCCEEDED", failure_causes(coffer, str(restored["arn"]))
    restore = coffer.deps.catalog.get_job(restored["output"]["job_id"])
    assert restore.state is JobState.COMPLETED and restore.restore_target["RestoreTime"] == "2026-11-25T21:00:00Z"
    [new] = rds.describe_db_clusters(DBClusterIdentifier="pitr-ledger-21")["DBClusters"]
    tags = {t["Key"]: t["Value"] for t in new["TagList"]}
    assert (new["Engine"], tags["team"], tags["coffer:restore-job-id"]) == (
        "aurora-postgresql", "platform", restore.job_id)

    latest = coffer.start_restore({"RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": "ledger-latest",
                                   "Metadata": {"DBClusterIdentifier": "pitr-ledger-latest",
                                                "UseLatestRestorableTime": "true"}})
    assert latest["status"] == "SUCCEEDED", failure_causes(coffer, str(latest["arn"]))
    target = coffer.deps.catalog.get_job(latest["output"]["job_id"]).restore_target
    assert (target["RestoreTime"], target["UseLatestRestorableTime"]) == ("2026-11-25T23:00:00Z", "true")

    for token, moment in (("ledger-too-early", "2026-11-25T19:59:59Z"), ("ledger-future", "2026-11-25T23:00:01Z")):
        refused = coffer.start_restore({"RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": token,
                                        "Metadata": {"DBClusterIdentifier": token, "RestoreTime": moment}})
        assert refused["error"] == "RequestRefused"
        assert f"Metadata.RestoreTime: {moment} is outside the restorable window 2026-11-25T20:00:00Z .. " \
               "2026-11-25T23:00:00Z" in failure_causes(coffer, str(refused["arn"]))
        assert not rds.describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": [token]}])["DBClusters"]


def test_continuous_backup_is_refused_where_it_cannot_be_kept(coffer: LocalCoffer) -> None:
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket="not-versioned")
    volume = "arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0"
    documentdb = create_sample_documentdb_cluster(coffer.client("rds"), coffer.client("ec2"), "pitr-profiles")
    for detail, problem in (
        ({"ResourceArn": volume}, "EnableContinuousBackup: EBS cannot be backed up continuously"),
        ({"ResourceArn": TABLE_ARN, "Lifecycle": {"DeleteAfterDays": 36}}, "Lifecycle.DeleteAfterDays: 36"),
        # a DocumentDB cluster's ARN reads like an Aurora cluster's: its engine makes it DocumentDB, which has none
        ({"ResourceArn": documentdb}, "EnableContinuousBackup: DocumentDB cannot be backed up continuously"),
    ):
        refused = coffer.start_backup({**detail, "IdempotencyToken": problem[:20], "EnableContinuousBackup": True})
        assert refused["error"] == "RequestRefused" and problem in failure_causes(coffer, str(refused["arn"]))
    unversioned = coffer.start_backup({"ResourceArn": "arn:aws:s3:::not-versioned", "IdempotencyToken": "unv",
                                       "EnableContinuousBackup": True})
    assert unversioned["status"] == "FAILED"
    job = coffer.deps.catalog.get_job(job_id_for("unv"))
    assert job.state is JobState.FAILED
    assert "ResourceArn: bucket not-versioned has versioning never enabled" in (job.status_message or "")


def test_the_twin_sends_s3s_eventbridge_events_as_s3_does(coffer: LocalCoffer) -> None:
    s3, sqs, events = coffer.client("s3"), coffer.client("sqs"), coffer.client("events")
    queue = sqs.create_queue(QueueName="s3-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="s3-events-probe", EventPattern=json.dumps(
        {"source": ["aws.s3"], "detail": {"bucket": {"name": ["seam-probe"]}}}))
    events.put_targets(Rule="s3-events-probe", Targets=[{"Id": "queue", "Arn": queue_arn}])
    s3.create_bucket(Bucket="seam-probe")
    s3.put_bucket_versioning(Bucket="seam-probe", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket="seam-probe",
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    at(5)
    first = s3.put_object(Bucket="seam-probe", Key="k", Body=b"12345", Tagging="a=b")["VersionId"]
    at(5, 0, 1)
    marker = s3.delete_object(Bucket="seam-probe", Key="k")["VersionId"]
    s3.delete_object(Bucket="seam-probe", Key="k", VersionId=first)
    coffer.twin.wait_for_async()
    received = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    events.remove_targets(Rule="s3-events-probe", Ids=["queue"])
    events.delete_rule(Name="s3-events-probe")
    # One event per change (no "Object Tags Added" for a PutObject), each its own id, in sequencer order.
    assert [(e["detail-type"], e["time"], e["detail"]["reason"], e["detail"].get("deletion-type"),
             e["detail"]["object"]["version-id"]) for e in received] == [
        ("Object Created", "2026-11-25T05:00:00Z", "PutObject", None, first),
        ("Object Deleted", "2026-11-25T05:00:01Z", "DeleteObject", "Delete Marker Created", marker),
        ("Object Deleted", "2026-11-25T05:00:01Z", "DeleteObject", "Permanently Deleted", first)]
    assert received[0]["detail"]["object"]["size"] == 5 and received[0]["detail"]["object"]["etag"]
    assert len({e["id"] for e in received}) == 3
    sequencers = [e["detail"]["object"]["sequencer"] for e in received]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == 3

