"""Continuous backup's adapter calls and catalog records, on moto directly (no twin): turning protection on,
seeing it on, restoring to a moment, and the journal's conditional writes.

moto 5.2.5 restores a DynamoDB table, an RDS instance or an Aurora cluster to a point in time by copying the
source as it is *now* (it ignores RestoreDateTime / RestoreTime / RestoreToTime and never refuses a time outside
the window): these tests check what Coffer asks for and what it does with the answer; the window itself is
Coffer's rule (tests/unit).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.s3.models import s3_backends

from coffer.adapters import aws
from coffer.adapters.catalog.continuous import ContinuousCatalog
from coffer.adapters.resources.common import TAG_RESTORE_JOB
from coffer.adapters.resources.continuous import continuous_adapter_for
from coffer.domain.continuous import ChangeKind, JournalEntry, Protection
from coffer.domain.errors import ConcurrentUpdate, InvalidInput, UnsupportedOperation, UnsupportedResource
from coffer.domain.jobs import Job, JobKind
from coffer.domain.manifest import Manifest
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.resources import ResourceType
from coffer_cli.local.samples import (
    create_sample_cluster,
    create_sample_neptune_cluster,
    create_sample_table,
    table_items,
)
from coffer_twin.db_clusters import db_cluster_family
from coffer_twin.environment import fake_aws_environment

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/coffer-sample-orders"


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    with fake_aws_environment("us-east-1"), mock_aws(), db_cluster_family():  # the twin's DB clusters (twin.md)
        session = boto3.Session()
        made: dict[str, Any] = {}

        def client_for(service: str) -> Any:
            if service not in made:
                made[service] = aws.client(service, "us-east-1", session)
            return made[service]

        yield {"for": client_for, **{s: client_for(s) for s in ("s3", "dynamodb", "rds", "sqs")}}


def restore_job(resource_type: ResourceType, resource_arn: str, **target: str) -> Job:
    return Job(job_id="restore-1", kind=JobKind.RESTORE, resource_arn=resource_arn, resource_type=resource_type,
               vault_name="Default", recovery_point_id="rp-1", created_at=NOW, start_by=NOW,
               restore_target={"RestoreTime": "2026-11-25T09:00:00Z", **target})


def manifest_of(resource_type: ResourceType, resource_arn: str, source: dict[str, Any]) -> Manifest:
    rp = RecoveryPoint(recovery_point_id="rp-1", vault_name="Default", resource_arn=resource_arn,
                       resource_type=resource_type, creation_date=NOW, retain_until=NOW, job_id="job-1")
    return Manifest(recovery_point=rp, completed_at=NOW, source=source)


def test_types_without_point_in_time_recovery_are_refused_by_name(clients: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedOperation, match="EBS: cannot back up continuously: EBS has no point-in-time"):
        continuous_adapter_for(ResourceType.EBS, clients["for"])


def test_s3_needs_versioning_and_keeps_the_buckets_other_notifications(clients: dict[str, Any]) -> None:
    s3, adapter = clients["s3"], continuous_adapter_for(ResourceType.S3, clients["for"])
    s3.create_bucket(Bucket="plain-bucket")
    with pytest.raises(InvalidInput, match="ResourceArn: bucket plain-bucket has versioning never enabled"):
        adapter.check_protectable("arn:aws:s3:::plain-bucket")
    s3.put_bucket_versioning(Bucket="plain-bucket", VersioningConfiguration={"Status": "Enabled"})
    adapter.check_protectable("arn:aws:s3:::plain-bucket")
    queue = clients["sqs"].create_queue(QueueName="existing")["QueueUrl"]
    queue_arn = clients["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    s3.put_bucket_notification_configuration(Bucket="plain-bucket", NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn["QueueArn"], "Events": ["s3:ObjectCreated:*"]}]})
    adapter.enable("arn:aws:s3:::plain-bucket", 7)
    adapter.enable("arn:aws:s3:::plain-bucket", 7)  # again: changes nothing
    # moto's GetBucketNotificationConfiguration leaves EventBridgeConfiguration out (S3 returns it): read moto's model.
    configuration = s3_backends["123456789012"]["aws"].get_bucket("plain-bucket").notification_configuration
    assert configuration.event_bridge == {} and len(configuration.queue) == 1
    assert adapter.status("arn:aws:s3:::plain-bucket", 7).done


def test_s3_reads_an_overwritten_version_and_knows_a_deleted_one_is_gone(clients: dict[str, Any]) -> None:
    s3, adapter = clients["s3"], continuous_adapter_for(ResourceType.S3, clients["for"])
    s3.create_bucket(Bucket="versions")
    s3.put_bucket_versioning(Bucket="versions", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="versions", Key="k", Body=b"one", Metadata={"n": "1"}, Tagging="t=1",
                          ContentType="text/plain")["VersionId"]
    second = s3.put_object(Bucket="versions", Key="k", Body=b"two!")["VersionId"]
    facts = adapter.describe_version("versions", "k", first)  # type: ignore[attr-defined]
    assert (facts["size"], facts["metadata"], facts["tags"], facts["content_type"], facts["version_id"]) == (
        3, {"n": "1"}, {"t": "1"}, "text/plain", first)
    s3.delete_object(Bucket="versions", Key="k", VersionId=second)
    assert adapter.describe_version("versions", "k", second) is None  # type: ignore[attr-defined]


def test_s3_restores_to_a_moment_only_into_an_empty_bucket_or_prefix(clients: dict[str, Any]) -> None:
    s3, adapter = clients["s3"], continuous_adapter_for(ResourceType.S3, clients["for"])
    s3.create_bucket(Bucket="target")
    s3.put_object(Bucket="target", Key="old/x", Body=b"x")
    adapter.check_restore_target({"DestinationBucketName": "target", "DestinationPrefix": "new/"})
    with pytest.raises(InvalidInput, match=re.escape("DestinationBucketName: s3://target/old/ already holds objects")):
        adapter.check_restore_target({"DestinationBucketName": "target", "DestinationPrefix": "old/"})
    with pytest.raises(InvalidInput, match=re.escape('bucket missing-bucket does not exist (NewBucket "false"')):
        adapter.check_restore_target({"DestinationBucketName": "missing-bucket", "NewBucket": "false"})
    adapter.check_restore_target({"DestinationBucketName": "missing-bucket", "NewBucket": "true"})
    adapter.check_restore_target({"DestinationBucketName": "missing-bucket"})  # a new bucket is the default


def test_dynamodb_turns_pitr_on_with_the_retention_and_restores_into_a_new_table(clients: dict[str, Any]) -> None:
    db, adapter = clients["dynamodb"], continuous_adapter_for(ResourceType.DYNAMODB, clients["for"])
    items = create_sample_table(db)
    assert not adapter.status(TABLE_ARN, 7).done
    assert adapter.enable(TABLE_ARN, 7) == {"point_in_time_recovery": "DISABLED", "recovery_period_in_days": None}
    pitr = db.describe_continuous_backups(TableName="coffer-sample-orders")["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["RecoveryPeriodInDays"] == 7
    assert adapter.status(TABLE_ARN, 7).done and not adapter.status(TABLE_ARN, 8).done
    source = {"table_name": "coffer-sample-orders", "key_schema": [{"AttributeName": "order_id", "KeyType": "HASH"}],
              "tags": {}}
    job = restore_job(ResourceType.DYNAMODB, TABLE_ARN, targetTableName="orders-at-nine")
    manifest = manifest_of(ResourceType.DYNAMODB, TABLE_ARN, source)
    arn = adapter.start_restore_to_time(job, manifest, NOW - timedelta(hours=1))
    assert arn == adapter.start_restore_to_time(job, manifest, NOW - timedelta(hours=1))  # a retried start
    assert table_items(db, "orders-at-nine") == sorted(items, key=lambda i: str(i["order_id"]))  # moto: now
    assert adapter.restore_status(job, manifest).done
    adapter.validate_restore(job, manifest)
    db.create_table(TableName="someone-elses", BillingMode="PAY_PER_REQUEST",
                    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    with pytest.raises(InvalidInput, match=re.escape("Metadata.targetTableName: table someone-elses already exists")):
        adapter.start_restore_to_time(restore_job(ResourceType.DYNAMODB, TABLE_ARN, targetTableName="someone-elses"),
                                      manifest, NOW)


def test_rds_sets_the_backup_retention_and_restores_a_tagged_instance(clients: dict[str, Any]) -> None:
    rds, adapter = clients["rds"], continuous_adapter_for(ResourceType.RDS, clients["for"])
    made = rds.create_db_instance(DBInstanceIdentifier="coffer-sample-db", Engine="postgres", AllocatedStorage=20,
                                  DBInstanceClass="db.t3.micro", MasterUsername="coffer",
                                  MasterUserPassword="pw-1234567", Tags=[{"Key": "team", "Value": "platform"}])
    arn = made["DBInstance"]["DBInstanceArn"]
    adapter.check_protectable(arn)
    before = rds.describe_db_instances(DBInstanceIdentifier="coffer-sample-db")["DBInstances"][0]
    assert adapter.enable(arn, 14) == {"backup_retention_period": before["BackupRetentionPeriod"]}
    assert adapter.status(arn, 14).done and not adapter.status(arn, 7).done
    source = adapter.describe_source(arn)
    job = restore_job(ResourceType.RDS, arn, DBInstanceIdentifier="db-at-nine")
    manifest = manifest_of(ResourceType.RDS, arn, source)
    made = adapter.start_restore_to_time(job, manifest, NOW - timedelta(hours=1))
    assert made == adapter.start_restore_to_time(job, manifest, NOW - timedelta(hours=1))  # found by its tag
    [db] = rds.describe_db_instances(DBInstanceIdentifier="db-at-nine")["DBInstances"]
    assert {t["Key"]: t["Value"] for t in db["TagList"]}[TAG_RESTORE_JOB] == "restore-1"
    assert adapter.restore_status(job, manifest).done
    assert adapter.validate_restore(job, manifest)["db_instance_class"] == source["db_instance_class"]
    with pytest.raises(InvalidInput, match=re.escape("Metadata.DBInstanceIdentifier: DB instance coffer-sample-db")):
        adapter.start_restore_to_time(restore_job(ResourceType.RDS, arn, DBInstanceIdentifier="coffer-sample-db"),
                                      manifest, NOW)


def test_aurora_sets_the_cluster_retention_and_restores_a_tagged_cluster_to_the_moment(clients: dict[str, Any]) -> None:
    rds, adapter = clients["rds"], continuous_adapter_for(ResourceType.AURORA, clients["for"])
    arn = create_sample_cluster(rds, clients["for"]("ec2"), "coffer-pitr-ledger")
    sent: list[dict[str, Any]] = []  # moto ignores the moment (it copies the cluster as it is): what Coffer asked
    rds.meta.events.register("provide-client-params.rds.RestoreDBClusterToPointInTime",
                             lambda params, **_: sent.append(dict(params)))
    adapter.check_protectable(arn)
    before = rds.describe_db_clusters(DBClusterIdentifier="coffer-pitr-ledger")["DBClusters"][0]
    assert adapter.enable(arn, 14) == {"backup_retention_period": before["BackupRetentionPeriod"]}
    assert adapter.status(arn, 14).done and not adapter.status(arn, 7).done
    source = adapter.describe_source(arn)
    job = restore_job(ResourceType.AURORA, arn, DBClusterIdentifier="ledger-at-nine")
    manifest = manifest_of(ResourceType.AURORA, arn, source)
    at = NOW - timedelta(hours=1)
    made = adapter.start_restore_to_time(job, manifest, at)
    assert made == adapter.start_restore_to_time(job, manifest, at)  # a retried start finds it by its tag
    [asked] = sent
    assert (asked["SourceDBClusterIdentifier"], asked["DBClusterIdentifier"], asked["RestoreToTime"]) == (
        "coffer-pitr-ledger", "ledger-at-nine", at)
    assert "UseLatestRestorableTime" not in asked
    [cluster] = rds.describe_db_clusters(DBClusterIdentifier="ledger-at-nine")["DBClusters"]
    assert {t["Key"]: t["Value"] for t in cluster["TagList"]}[TAG_RESTORE_JOB] == "restore-1"
    assert adapter.restore_status(job, manifest).done
    assert adapter.validate_restore(job, manifest)["engine"] == "aurora-postgresql"
    # the latest restorable moment is RDS's to know (minutes behind the clock): asked for as AWS Backup asks
    latest = job.with_changes(job_id="restore-2", restore_target={"DBClusterIdentifier": "ledger-latest",
                                                                  "UseLatestRestorableTime": "true"})
    adapter.start_restore_to_time(latest, manifest, NOW)
    assert sent[-1]["UseLatestRestorableTime"] is True and "RestoreToTime" not in sent[-1]
    with pytest.raises(InvalidInput, match=re.escape("Metadata.DBClusterIdentifier: DB cluster coffer-pitr-ledger")):
        adapter.start_restore_to_time(restore_job(ResourceType.AURORA, arn, DBClusterIdentifier="coffer-pitr-ledger"),
                                      manifest, NOW)


def test_rds_asks_for_its_latest_restorable_time_when_the_restore_asks_for_the_latest(clients: dict[str, Any]) -> None:
    rds, adapter = clients["rds"], continuous_adapter_for(ResourceType.RDS, clients["for"])
    arn = rds.create_db_instance(DBInstanceIdentifier="coffer-latest-db", Engine="postgres", AllocatedStorage=20,
                                 DBInstanceClass="db.t3.micro", MasterUsername="coffer",
                                 MasterUserPassword="pw-1234567")["DBInstance"]["DBInstanceArn"]
    sent: list[dict[str, Any]] = []
    rds.meta.events.register("provide-client-params.rds.RestoreDBInstanceToPointInTime",
                             lambda params, **_: sent.append(dict(params)))
    job = restore_job(ResourceType.RDS, arn, DBInstanceIdentifier="db-latest", UseLatestRestorableTime="true")
    adapter.start_restore_to_time(job, manifest_of(ResourceType.RDS, arn, adapter.describe_source(arn)), NOW)
    [asked] = sent
    assert asked["UseLatestRestorableTime"] is True and "RestoreTime" not in asked  # now is ahead of RDS's latest


def test_aurora_point_in_time_protection_refuses_a_cluster_of_another_engine(clients: dict[str, Any]) -> None:
    """A Neptune cluster's ARN handed to Aurora's continuous backup (its ARN reads like an Aurora cluster's): refused
    by name before its backup retention is touched."""
    rds, adapter = clients["rds"], continuous_adapter_for(ResourceType.AURORA, clients["for"])
    arn = create_sample_neptune_cluster(rds, clients["for"]("ec2"), "coffer-pitr-graph")
    before = rds.describe_db_clusters(DBClusterIdentifier="coffer-pitr-graph")["DBClusters"][0]["BackupRetentionPeriod"]
    with pytest.raises(UnsupportedResource, match="runs neptune, not Aurora"):
        adapter.check_protectable(arn)
    after = rds.describe_db_clusters(DBClusterIdentifier="coffer-pitr-graph")["DBClusters"][0]["BackupRetentionPeriod"]
    assert after == before


def test_the_journal_takes_each_change_once_in_s3s_order_page_by_page(clients: dict[str, Any]) -> None:
    db = clients["dynamodb"]
    db.create_table(TableName="catalog", BillingMode="PAY_PER_REQUEST",
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                          {"AttributeName": "sk", "AttributeType": "S"}])
    catalog = ContinuousCatalog(db, "catalog")
    changes = [JournalEntry(key=key, sequencer=seq, time=NOW, kind=ChangeKind.DELETE_MARKER, version_id=seq)
               for key, seq in [("b", "2"), ("a/b", "10"), ("a", "A"), ("a", "9"), ("é", "1")]]
    assert all(catalog.append("rp-1", change) for change in changes)
    assert not catalog.append("rp-1", changes[0])  # the same event again: refused by DynamoDB, not appended
    assert catalog.has_entry("rp-1", changes[1].sort_key) and not catalog.has_entry("rp-2", changes[1].sort_key)
    seen, after = [], None
    while True:
        page, after = catalog.journal_page("rp-1", after, 2)
        seen += [(entry.key, entry.sequencer) for _, entry in page]
        if after is None:
            break
    assert seen == [("a", "9"), ("a", "A"), ("a/b", "10"), ("b", "2"), ("é", "1")]
    first = Protection(resource_arn="arn:aws:s3:::b", resource_type=ResourceType.S3, vault_name="Default",
                       recovery_point_id="rp-1", retention_days=7, enabled_at=NOW, job_id="job-1")
    saved = catalog.save_protection(first)
    with pytest.raises(ConcurrentUpdate):
        catalog.save_protection(first)  # one continuous protection per resource
    assert catalog.get_protection("arn:aws:s3:::b") == saved
