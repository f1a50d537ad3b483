"""DynamoDB tables: on-demand backups (CreateBackup), catalogued to the vault; restore to a new table.

DynamoDB cannot tag an on-demand backup: its name, `coffer-<recovery point id>`, carries the recovery point id
(and finds it again on a retry). DynamoDB does not restore a table's tags either: the restored table gets the
recorded ones plus Coffer's, once it is ACTIVE. No DynamoDB API copies an on-demand backup to another region
or account, and on-demand backups have no cold tier (AWS Backup offers both only for backups it takes with its
advanced DynamoDB features): those operations are refused (REFUSALS).

Copies go through an export instead (domain/copies.py CopyMethod.EXPORT): `start_export` exports the table as
it was when the recovery point was taken (ExportTableToPointInTime: point-in-time recovery must be on and the
time inside its recovery window), `export_status` polls it; the copy job then puts the export's files into the
destination vault. A recovery point made that way (its manifest's source has `export`) is restored with
ImportTable from those files (read from the vault, never written), polled with DescribeImport.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import is_not_found, refusals_named
from coffer.adapters.resources.common import (
    NO_OPTIONS,
    NoColdStorage,
    NoCopies,
    coffer_tags,
    last_part,
    recorded,
    tag_list,
    translated,
    user_tags,
)
from coffer.domain.errors import (
    InvalidInput,
    NativeOperationFailed,
    NotFound,
    RestoreMismatch,
    UnsupportedOperation,
)
from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.resources import ResourceType, resource_name
from coffer.ports.resources import BackupStrategy, Capability, DiscoveredResource, OperationStatus, StartedBackup

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ERRORS = {
    "BackupNotFoundException": NotFound,
    "TableNotFoundException": NotFound,
    "ResourceNotFoundException": NotFound,
    "BackupInUseException": NativeOperationFailed,
    "LimitExceededException": NativeOperationFailed,
    "ValidationException": InvalidInput,
    "PointInTimeRecoveryUnavailableException": UnsupportedOperation,
    "InvalidExportTimeException": UnsupportedOperation,
    "ExportConflictException": InvalidInput,
    "ImportConflictException": InvalidInput,
    "ExportNotFoundException": NotFound,
    "ImportNotFoundException": NotFound,
}
#: how far back an export reaches when the table does not say (PITR's RecoveryPeriodInDays: 1 to 35)
PITR_DAYS = 35
_NO_COPY = ("no DynamoDB API copies an on-demand backup (AWS Backup copies only backups taken with its advanced "
            "DynamoDB features)")
REFUSALS: Mapping[Capability, str] = {
    Capability.COPY_TO_REGION: _NO_COPY,
    Capability.COPY_TO_ACCOUNT: _NO_COPY,
    Capability.COLD_STORAGE: "on-demand backups have no cold storage tier",
}


class DynamoDBAdapter(NoCopies, NoColdStorage):
    resource_type = ResourceType.DYNAMODB
    strategy = BackupStrategy.NATIVE
    capabilities = frozenset(Capability) - set(REFUSALS)
    refusals = REFUSALS
    backup_options = NO_OPTIONS
    #: ListTables page size (AWS allows 1 to 100)
    page_size = 100

    def __init__(self, client: DynamoDBClient) -> None:
        self._db = client

    def discover(self, account_id: str) -> Iterator[DiscoveredResource]:
        pages = self._db.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": self.page_size})
        for page in pages:
            for name in page["TableNames"]:
                arn = str(self._describe_table(name)["TableArn"])
                yield DiscoveredResource(arn, self.resource_type, self._tags(arn))

    def describe_source(self, resource_arn: str) -> dict[str, Any]:
        table = self._describe_table(resource_name(resource_arn))
        return {
            "table_name": table["TableName"],
            "key_schema": table["KeySchema"],
            "attribute_definitions": table["AttributeDefinitions"],
            "billing_mode": table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
            "item_count": table.get("ItemCount", 0),
            "size_bytes": table.get("TableSizeBytes", 0),
            "tags": self._tags(table["TableArn"]),
        }

    def start_backup(self, job: Job, fresh: bool = False) -> StartedBackup:
        # BackupName carries the recovery point id: a retried start can find the backup it already made (a fresh job
        # has none to find). CreateBackup's answer is the backup's status, usually AVAILABLE at once.
        name = f"coffer-{job.recovery_point_id}"
        table = resource_name(job.resource_arn)
        existing = None if fresh else self._find_backup(table, name)
        if existing:
            return StartedBackup(existing)
        details = self._db.create_backup(TableName=table, BackupName=name)["BackupDetails"]
        return StartedBackup(details["BackupArn"], self._status_of(details))

    def backup_status(self, job: Job) -> OperationStatus:
        if not job.native_ref:
            raise NotFound(f"job {job.job_id} has no DynamoDB backup yet")
        return self._status_of(
            self._db.describe_backup(BackupArn=job.native_ref)["BackupDescription"]["BackupDetails"])

    @staticmethod
    def _status_of(details: Mapping[str, Any]) -> OperationStatus:
        """A backup's status from its BackupDetails (DescribeBackup's, or CreateBackup's own answer)."""
        arn, status = details["BackupArn"], details["BackupStatus"]
        if status == "DELETED":
            raise NotFound(f"backup {arn} was deleted before it completed")
        return OperationStatus(done=status == "AVAILABLE", size_bytes=int(details.get("BackupSizeBytes", 0)),
                               details={"backup_arn": arn, "backup_status": status})

    def start_restore(self, job: Job, manifest: Manifest) -> str | None:
        target = job.restore_target["targetTableName"]
        if recorded(manifest).get("export"):
            return self._start_import(job, manifest)  # a copy: its export's files, in this vault
        backup_arn = manifest.recovery_point.native_ref
        if not backup_arn:
            raise NotFound(f"recovery point {manifest.recovery_point.recovery_point_id} has no DynamoDB backup")
        try:
            self._db.restore_table_from_backup(TargetTableName=target, BackupArn=backup_arn)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("TableAlreadyExistsException", "ResourceInUseException"):
                raise
            # A retried restore finds the table it started a moment ago; any other table is not ours to use.
            restored_from = self._describe_table(target).get("RestoreSummary", {}).get("SourceBackupArn")
            if restored_from != backup_arn:
                raise InvalidInput([f"Metadata.targetTableName: table {target} already exists and was not "
                                    "restored from this recovery point: choose a new name"]) from None
        return str(self._describe_table(target)["TableArn"])

    def restore_status(self, job: Job, manifest: Manifest) -> OperationStatus:
        if job.native_ref and "/import/" in job.native_ref and not self._imported(job.native_ref):
            return OperationStatus(done=False, details={"import": job.native_ref})
        table = self._describe_table(job.restore_target["targetTableName"])
        done = table["TableStatus"] == "ACTIVE"
        if done:
            # DynamoDB restores no tags (and tags only an ACTIVE table): the recorded ones, then Coffer's.
            tags = tag_list(recorded(manifest).get("tags", {}),
                            coffer_tags(job.recovery_point_id, restore_job_id=job.job_id))
            if any(self._tags(table["TableArn"]).get(t["Key"]) != t["Value"] for t in tags):
                self._db.tag_resource(ResourceArn=table["TableArn"], Tags=tags)
        return OperationStatus(done=done, details={"table_status": table["TableStatus"]})

    def validate_restore(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        table = self._describe_table(job.restore_target["targetTableName"])
        if table["KeySchema"] != recorded(manifest).get("key_schema"):
            raise RestoreMismatch(f"restored table key schema {table['KeySchema']} differs from the backup's")
        tags = self._tags(table["TableArn"])
        missing = {k: v for k, v in dict(recorded(manifest).get("tags", {})).items() if tags.get(k) != v}
        if missing:
            raise RestoreMismatch(f"restored table {table['TableName']} lacks the recorded tags {missing}")
        return {"table_status": table["TableStatus"], "key_schema": table["KeySchema"]}

    # ---- copy, cold, delete ---------------------------------------------------------------------
    @refusals_named
    def delete_recovery_point(self, recovery_point: RecoveryPoint) -> None:
        if not recovery_point.native_ref:
            raise NotFound(f"recovery point {recovery_point.recovery_point_id} has no DynamoDB backup")
        try:
            with translated(ERRORS, f"DeleteBackup of {last_part(recovery_point.native_ref, '/')}"):
                self._db.delete_backup(BackupArn=recovery_point.native_ref)
        except NotFound:
            return

    # ---- copies through an export ----------------------------------------------------------------
    def start_export(self, recovery_point: RecoveryPoint, bucket: str, prefix: str, client_token: str,
                     now: datetime, bucket_owner: str | None = None) -> str:
        """Export the table as it was when the recovery point was taken; return the export's ARN.

        UnsupportedOperation (naming the table and what to do) when point-in-time recovery is off or the
        recovery point is older than its recovery window: no DynamoDB API can copy the backup itself."""
        table_arn = recovery_point.resource_arn
        name = resource_name(table_arn)
        with translated(ERRORS, f"table {name}"):
            described = self._db.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        pitr = described.get("PointInTimeRecoveryDescription", {})
        why = (f"{self.resource_type}: cannot copy recovery point {recovery_point.recovery_point_id}: DynamoDB copies "
               f"are exports of table {name} as it was at the recovery point's time")
        if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
            raise UnsupportedOperation(f"{why}, and the table has point-in-time recovery off (enable it; an export "
                                       "reaches back as far as its recovery period, 35 days at most)")
        days = int(pitr.get("RecoveryPeriodInDays") or PITR_DAYS)
        if recovery_point.creation_date < now - timedelta(days=days):
            raise UnsupportedOperation(f"{why}, and {recovery_point.creation_date.isoformat()} is older than its "
                                       f"{days}-day point-in-time recovery window")
        params: dict[str, Any] = {
            "TableArn": table_arn, "ExportTime": recovery_point.creation_date, "ClientToken": client_token,
            "S3Bucket": bucket, "S3Prefix": prefix, "ExportFormat": "DYNAMODB_JSON"}
        if bucket_owner:
            params["S3BucketOwner"] = bucket_owner
        with translated(ERRORS, f"ExportTableToPointInTime of {name}"):
            export: Mapping[str, Any] = self._db.export_table_to_point_in_time(**params)["ExportDescription"]
        return str(export["ExportArn"])

    def export_status(self, export_arn: str) -> OperationStatus:
        with translated(ERRORS, f"export {export_arn}"):
            export = self._db.describe_export(ExportArn=export_arn)["ExportDescription"]
        status = export["ExportStatus"]
        if status == "FAILED":
            raise NativeOperationFailed(f"export {export_arn} failed: {export.get('FailureCode')}: "
                                        f"{export.get('FailureMessage')}")
        return OperationStatus(done=status == "COMPLETED", size_bytes=int(export.get("BilledSizeBytes") or 0),
                               details={"export_arn": export_arn, "export_status": status,
                                        "item_count": int(export.get("ItemCount") or 0),
                                        "export_time": str(export.get("ExportTime") or "")})

    def _start_import(self, job: Job, manifest: Manifest) -> str:
        """ImportTable from the export files the copy put in this vault; returns the import's ARN (the restore
        job's native ref: restore_status polls it)."""
        source, target = recorded(manifest), job.restore_target["targetTableName"]
        export = dict(source["export"])
        params: dict[str, Any] = {
            "ClientToken": job.job_id,  # DynamoDB's own idempotency: a retried start names the same import
            "S3BucketSource": {"S3Bucket": export["bucket"], "S3KeyPrefix": export["data_prefix"]},
            "InputFormat": "DYNAMODB_JSON", "InputCompressionType": "GZIP",
            "TableCreationParameters": {
                "TableName": target, "KeySchema": source["key_schema"],
                "AttributeDefinitions": source["attribute_definitions"], "BillingMode": "PAY_PER_REQUEST"}}
        try:
            with translated(ERRORS, f"ImportTable into {target}"):
                imported = self._db.import_table(**params)["ImportTableDescription"]
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("ResourceInUseException", "TableAlreadyExistsException"):
                raise
            raise InvalidInput([f"Metadata.targetTableName: table {target} already exists: choose a new name"]) \
                from None
        return str(imported["ImportArn"])

    def _imported(self, import_arn: str) -> bool:
        with translated(ERRORS, f"import {import_arn}"):
            described = self._db.describe_import(ImportArn=import_arn)["ImportTableDescription"]
        status = described["ImportStatus"]
        if status in ("FAILED", "CANCELLED", "CANCELLING"):
            raise NativeOperationFailed(f"import {import_arn} is {status}: {described.get('FailureCode')}: "
                                        f"{described.get('FailureMessage')}")
        return bool(status == "COMPLETED")

    def _tags(self, arn: str) -> dict[str, str]:
        tags: list[Mapping[str, Any]] = []
        params: dict[str, Any] = {"ResourceArn": arn}
        while True:
            page = self._db.list_tags_of_resource(**params)
            tags.extend(page.get("Tags", []))
            if not page.get("NextToken"):
                return user_tags(tags)
            params["NextToken"] = page["NextToken"]

    def _describe_table(self, name: str) -> Mapping[str, Any]:
        try:
            table: Mapping[str, Any] = self._db.describe_table(TableName=name)["Table"]
        except ClientError as error:
            if is_not_found(error):
                raise NotFound(f"table {name} not found") from error
            raise
        return table

    def _find_backup(self, table: str, name: str) -> str | None:
        paginator_args: dict[str, Any] = {"TableName": table, "BackupType": "USER"}
        while True:
            page = self._db.list_backups(**paginator_args)
            for summary in page.get("BackupSummaries", []):
                if summary["BackupName"] == name and summary["BackupStatus"] != "DELETED":
                    return str(summary["BackupArn"])
            last = page.get("LastEvaluatedBackupArn")
            if not last:
                return None
            paginator_args["ExclusiveStartBackupArn"] = last
