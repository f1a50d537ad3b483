"""DynamoDB tables: on-demand backups (CreateBackup), catalogued to the vault; restore to a new table."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import is_not_found
from coffer.domain.errors import NotFound, RestoreMismatch
from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest
from coffer.domain.resources import ResourceType, resource_name
from coffer.ports import BackupStrategy, OperationStatus


class DynamoDBAdapter:
    resource_type = ResourceType.DYNAMODB
    strategy = BackupStrategy.NATIVE

    def __init__(self, client: Any) -> None:
        self._db = client

    def describe_source(self, resource_arn: str) -> dict[str, Any]:
        table = self._describe_table(resource_name(resource_arn))
        return {
            "table_name": table["TableName"],
            "key_schema": table["KeySchema"],
            "attribute_definitions": table["AttributeDefinitions"],
            "billing_mode": table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
            "item_count": table.get("ItemCount", 0),
            "size_bytes": table.get("TableSizeBytes", 0),
        }

    def start_backup(self, job: Job) -> str | None:
        # BackupName carries the recovery point id: a retried start can find the backup it already made.
        name = f"coffer-{job.recovery_point_id}"
        table = resource_name(job.resource_arn)
        existing = self._find_backup(table, name)
        if existing:
            return existing
        response = self._db.create_backup(TableName=table, BackupName=name)
        arn: str = response["BackupDetails"]["BackupArn"]
        return arn

    def backup_status(self, job: Job) -> OperationStatus:
        if not job.native_ref:
            raise NotFound(f"job {job.job_id} has no DynamoDB backup yet")
        details = self._db.describe_backup(BackupArn=job.native_ref)["BackupDescription"]["BackupDetails"]
        status = details["BackupStatus"]
        if status == "DELETED":
            raise NotFound(f"backup {job.native_ref} was deleted before it completed")
        return OperationStatus(done=status == "AVAILABLE", size_bytes=int(details.get("BackupSizeBytes", 0)),
                               details={"backup_arn": job.native_ref, "backup_status": status})

    def start_restore(self, job: Job, manifest: Manifest) -> str:
        target = job.restore_target["targetTableName"]
        try:
            self._db.restore_table_from_backup(TargetTableName=target, BackupArn=manifest.recovery_point.native_ref)
        except ClientError as error:
            # A retried restore finds the table it started a moment ago.
            if error.response["Error"]["Code"] not in ("TableAlreadyExistsException", "ResourceInUseException"):
                raise
        return str(self._describe_table(target)["TableArn"])

    def restore_status(self, job: Job) -> OperationStatus:
        table = self._describe_table(job.restore_target["targetTableName"])
        return OperationStatus(done=table["TableStatus"] == "ACTIVE", details={"table_status": table["TableStatus"]})

    def validate_restore(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        table = self._describe_table(job.restore_target["targetTableName"])
        if table["KeySchema"] != manifest.source.get("key_schema"):
            raise RestoreMismatch(f"restored table key schema {table['KeySchema']} differs from the backup's")
        return {"table_status": table["TableStatus"], "key_schema": table["KeySchema"]}

    def _describe_table(self, name: str) -> dict[str, Any]:
        try:
            table: dict[str, Any] = self._db.describe_table(TableName=name)["Table"]
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
