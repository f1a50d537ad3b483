"""Coffer's own buckets and table are never backup sources nor restore targets - in IAM, for the roles whose
policies name "any bucket" or "any table" (the check in code is the services'). Tried as each such function's
execution role, directly: what a bug in it, or a request it was tricked into, could call.
"""

from __future__ import annotations

from typing import Any

from .conftest import Secured


def test_the_backup_start_refuses_coffers_own_buckets_and_table_as_sources(secured: Secured) -> None:
    session = secured.as_function("StartBackupJobFunction")
    s3, db = session.client("s3"), session.client("dynamodb")
    for bucket in (secured.vault_bucket, secured.coffer.settings.work_bucket):
        with secured.refused("s3:GetBucketLocation", "identity:NeverBackUpTheStacksOwn"):
            s3.get_bucket_location(Bucket=bucket)
    backups = db.list_backups(TableName=secured.coffer.settings.catalog_table)["BackupSummaries"]
    with secured.refused("dynamodb:CreateBackup", "identity:NeverBackUpTheStacksOwn"):
        db.create_backup(TableName=secured.coffer.settings.catalog_table, BackupName="coffer-catalog")
    assert secured.coffer.client("dynamodb").list_backups(
        TableName=secured.coffer.settings.catalog_table)["BackupSummaries"] == backups
    s3.get_bucket_location(Bucket=secured.source_bucket)  # any other bucket of the account: allowed


def test_the_source_lister_never_lists_or_reads_the_vault(secured: Secured) -> None:
    s3 = secured.as_function("ListBatchesFunction").client("s3")
    with secured.refused("s3:ListBucket", "identity:NeverReadTheVault"):
        s3.list_objects_v2(Bucket=secured.vault_bucket)
    with secured.refused("s3:ListBucketVersions", "identity:NeverListTheStacksOwnAsSources"):
        s3.list_object_versions(Bucket=secured.coffer.settings.work_bucket)


def test_the_restore_start_refuses_coffers_own_buckets_and_table_as_targets(secured: Secured) -> None:
    session = secured.as_function("StartRestoreJobFunction")
    s3, db = session.client("s3"), session.client("dynamodb")
    with secured.refused("s3:CreateBucket", "identity:NeverRestoreIntoTheStacksOwn"):
        s3.create_bucket(Bucket=secured.vault_bucket)
    with secured.refused("s3:GetBucketLocation", "identity:NeverRestoreIntoTheStacksOwn"):
        s3.get_bucket_location(Bucket=secured.coffer.settings.work_bucket)
    table = secured.coffer.settings.catalog_table
    region, account = secured.twin.region, secured.twin.account_id
    backup = f"arn:aws:dynamodb:{region}:{account}:table/orders/backup/01234567890123-abcdefgh"
    with secured.refused("dynamodb:RestoreTableFromBackup", "identity:NeverRestoreIntoTheStacksOwn"):
        db.restore_table_from_backup(TargetTableName=table, BackupArn=backup)


def test_the_restore_writer_never_writes_over_what_other_steps_read(secured: Secured) -> None:
    s3, work = secured.as_function("RestoreBatchFunction").client("s3"), secured.coffer.settings.work_bucket
    before = _keys(secured, work)
    for key in ("jobs/some-backup/batches/00000000.json", "continuous/some-rp/event", "sweep/run/rps/0.json"):
        with secured.refused("s3:PutObject", "identity:NeverRestoreOverTheWorkBucketsInputs"):
            s3.put_object(Bucket=work, Key=key, Body=b'{"keys": ["planted"]}')
    assert _keys(secured, work) == before


def test_the_catalog_is_never_exported_for_a_copy_nor_its_recovery_switched_off(secured: Secured) -> None:
    table = secured.coffer.settings.catalog_table
    arn = f"arn:aws:dynamodb:{secured.twin.region}:{secured.twin.account_id}:table/{table}"
    with secured.refused("dynamodb:ExportTableToPointInTime", "identity:NeverExportTheCatalog"):
        secured.as_function("StartCopyJobFunction").client("dynamodb").export_table_to_point_in_time(
            TableArn=arn, S3Bucket=secured.coffer.settings.work_bucket, S3Prefix="jobs/x/export")
    db = secured.coffer.client("dynamodb")
    recovery = db.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    with secured.refused("dynamodb:UpdateContinuousBackups", "identity:NeverTheCatalogsRecovery"):
        secured.as_function("EnableContinuousBackupFunction").client("dynamodb").update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    assert db.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"] == recovery


def _keys(secured: Secured, bucket: str) -> list[Any]:
    pages = secured.coffer.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
