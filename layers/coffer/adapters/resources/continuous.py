"""Continuous backup (point-in-time recovery) per resource type: turn it on, see it is on, restore to a moment.

Each class extends the type's adapter (same client, same restore polling and validation: a point-in-time
restore is checked against the recorded facts exactly like a snapshot restore) with what continuous backup
adds. A type without an entry in CONTINUOUS_REGISTRY is refused by name (domain/continuous.py says why).

- S3 (`S3Continuous`): needs versioning (AWS Backup's rule: every version is kept); turns on the bucket's
  EventBridge notifications (keeping its other notification targets); reads object *versions*; a restore goes
  to an empty bucket or prefix (it rebuilds the bucket exactly, so nothing else may be there).
- DynamoDB (`DynamoDBContinuous`): UpdateContinuousBackups (PITR on, RecoveryPeriodInDays = retention);
  RestoreTableToPointInTime into a new table (by source table name: the table is in this account and region).
- RDS (`RdsContinuous`): ModifyDBInstance BackupRetentionPeriod = retention (ApplyImmediately); the previous
  period is returned so it can be put back; RestoreDBInstanceToPointInTime into a new, tagged instance
  (RestoreTime, or UseLatestRestorableTime when the restore asked for the latest moment, as for Aurora).
- Aurora (`AuroraContinuous`): ModifyDBCluster BackupRetentionPeriod = retention (ApplyImmediately), the previous
  period returned; RestoreDBClusterToPointInTime into a new, tagged cluster (no DB instances, as a snapshot
  restore): RestoreToTime, or UseLatestRestorableTime when the restore asked for the latest moment (as AWS
  Backup passes it: the service's latest restorable time, a few minutes behind the clock).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code, is_not_found
from coffer.adapters.resources.aurora import ERRORS as AURORA_ERRORS
from coffer.adapters.resources.aurora import AuroraAdapter
from coffer.adapters.resources.common import recorded, translated
from coffer.adapters.resources.dynamodb import ERRORS as DYNAMODB_ERRORS
from coffer.adapters.resources.dynamodb import DynamoDBAdapter
from coffer.adapters.resources.rds import ERRORS as RDS_ERRORS
from coffer.adapters.resources.rds import RdsAdapter
from coffer.adapters.resources.s3 import S3Adapter
from coffer.domain.continuous import CONTINUOUS_REFUSALS, RESTORE_TIME, USE_LATEST
from coffer.domain.errors import InvalidInput, UnsupportedOperation
from coffer.domain.input_rules.restore_metadata import new_bucket_wanted
from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest
from coffer.domain.resources import ResourceType, resource_name
from coffer.ports.continuous import ContinuousAdapter
from coffer.ports.resources import OperationStatus

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import NotificationConfigurationTypeDef

_BAD_TIME = f"Metadata.{RESTORE_TIME}"
#: RDS's refusals of a restore time (outside the window, automated backups off)
_RDS_TIME_ERRORS = {code: InvalidInput for code in ("InvalidRestoreFault", "PointInTimeRestoreNotEnabled",
                                                     "PointInTimeRestoreNotEnabledFault")}


def _rds_moment(job: Job, parameter: str, at: datetime) -> dict[str, Any]:
    """RDS's moment of a point-in-time restore: UseLatestRestorableTime when the restore asked for the latest (its
    RestoreTime, the window's end, is now: minutes ahead of what RDS can restore, so RDS would refuse it), else
    the time itself (RestoreTime for an instance, RestoreToTime for a cluster)."""
    if job.restore_target.get(USE_LATEST, "").lower() == "true":
        return {"UseLatestRestorableTime": True}
    return {parameter: at}


class S3Continuous(S3Adapter):
    def check_protectable(self, resource_arn: str) -> None:
        bucket = resource_name(resource_arn)
        self.describe_source(resource_arn)  # NotFound if the bucket is gone
        status = self._s3.get_bucket_versioning(Bucket=bucket).get("Status") or "never enabled"
        if status != "Enabled":
            raise InvalidInput([f"ResourceArn: bucket {bucket} has versioning {status}: S3 continuous backup keeps "
                                "every object version, so versioning must be Enabled (as AWS Backup requires)"])

    def enable(self, resource_arn: str, retention_days: int) -> dict[str, Any]:
        bucket = resource_name(resource_arn)
        response = self._s3.get_bucket_notification_configuration(Bucket=bucket)
        current = {k: v for k, v in response.items() if k != "ResponseMetadata"}
        # PutBucketNotificationConfiguration replaces the whole configuration: keep the bucket's other targets.
        # (Put every time: moto's GetBucketNotificationConfiguration leaves EventBridgeConfiguration out.)
        kept = cast("NotificationConfigurationTypeDef", {**current, "EventBridgeConfiguration": {}})
        self._s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=kept)
        return {"eventbridge": "EventBridgeConfiguration" in current}

    def status(self, resource_arn: str, retention_days: int) -> OperationStatus:
        return OperationStatus(done=True)  # on once PutBucketNotificationConfiguration returned

    def check_restore_target(self, metadata: Mapping[str, str]) -> None:
        bucket, prefix = metadata["DestinationBucketName"], metadata.get("DestinationPrefix", "")
        try:
            listed = self._s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except ClientError as error:
            if is_not_found(error) and new_bucket_wanted(metadata):
                return
            if is_not_found(error):
                raise InvalidInput([f"Metadata.DestinationBucketName: bucket {bucket} does not exist "
                                    '(NewBucket "false"; leave NewBucket out to create it)']) from None
            raise
        if listed.get("KeyCount", len(listed.get("Contents", []))):
            raise InvalidInput([f"Metadata.DestinationBucketName: s3://{bucket}/{prefix} already holds objects; a "
                                "point-in-time restore rebuilds the bucket exactly as it was, into an empty bucket "
                                "or prefix"])

    def start_restore_to_time(self, job: Job, manifest: Manifest, at: datetime) -> str | None:
        return self.start_restore(job, manifest)  # the bucket; the objects are written batch by batch


class DynamoDBContinuous(DynamoDBAdapter):
    def check_protectable(self, resource_arn: str) -> None:
        self._describe_table(resource_name(resource_arn))

    def enable(self, resource_arn: str, retention_days: int) -> dict[str, Any]:
        table = resource_name(resource_arn)
        with translated(DYNAMODB_ERRORS, f"point-in-time recovery of {table}"):
            before = self._pitr(table)
            self._db.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": retention_days})
        return {"point_in_time_recovery": before.get("PointInTimeRecoveryStatus"),
                "recovery_period_in_days": before.get("RecoveryPeriodInDays")}

    def status(self, resource_arn: str, retention_days: int) -> OperationStatus:
        pitr = self._pitr(resource_name(resource_arn))
        days = pitr.get("RecoveryPeriodInDays", retention_days)
        return OperationStatus(done=pitr.get("PointInTimeRecoveryStatus") == "ENABLED" and days == retention_days,
                               details={"status": pitr.get("PointInTimeRecoveryStatus"), "days": days})

    def check_restore_target(self, metadata: Mapping[str, str]) -> None:
        return None  # a new table: RestoreTableToPointInTime refuses an existing name (handled on start)

    def start_restore_to_time(self, job: Job, manifest: Manifest, at: datetime) -> str | None:
        target, source = job.restore_target["targetTableName"], str(recorded(manifest)["table_name"])
        try:
            self._db.restore_table_to_point_in_time(SourceTableName=source, TargetTableName=target,
                                                    RestoreDateTime=at)
        except ClientError as error:
            code = error_code(error)
            if code in ("InvalidRestoreTimeException", "PointInTimeRecoveryUnavailableException"):
                raise InvalidInput([f"{_BAD_TIME}: DynamoDB refused {at.isoformat()} for table {source}: {code}: "
                                    f"{error.response.get('Error', {}).get('Message', '')}"]) from None
            if code not in ("TableAlreadyExistsException", "ResourceInUseException"):
                raise
            # A retried restore finds the table it started a moment ago; any other table is not ours to use.
            restored_from = self._describe_table(target).get("RestoreSummary", {}).get("SourceTableArn")
            if restored_from != manifest.recovery_point.resource_arn:
                raise InvalidInput([f"Metadata.targetTableName: table {target} already exists and was not "
                                    f"restored from table {source}: choose a new name"]) from None
        return str(self._describe_table(target)["TableArn"])

    def _pitr(self, table: str) -> dict[str, Any]:
        described = self._db.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        return dict(described.get("PointInTimeRecoveryDescription", {}))


class RdsContinuous(RdsAdapter):
    def check_protectable(self, resource_arn: str) -> None:
        self.describe_source(resource_arn)  # refuses an Aurora cluster member by name

    def enable(self, resource_arn: str, retention_days: int) -> dict[str, Any]:
        identifier = resource_name(resource_arn)
        before = self._instance(identifier).get("BackupRetentionPeriod")
        with translated(RDS_ERRORS, f"automated backups of {identifier}"):
            self._rds.modify_db_instance(DBInstanceIdentifier=identifier, BackupRetentionPeriod=retention_days,
                                         ApplyImmediately=True)
        return {"backup_retention_period": before}

    def status(self, resource_arn: str, retention_days: int) -> OperationStatus:
        db = self._instance(resource_name(resource_arn))
        pending = "BackupRetentionPeriod" in (db.get("PendingModifiedValues") or {})
        done = db.get("BackupRetentionPeriod") == retention_days and not pending \
            and db["DBInstanceStatus"] == "available"
        return OperationStatus(done=done, details={"backup_retention_period": db.get("BackupRetentionPeriod"),
                                                   "status": db["DBInstanceStatus"]})

    def check_restore_target(self, metadata: Mapping[str, str]) -> None:
        return None  # a new instance: an existing identifier is refused on start unless this job made it

    def start_restore_to_time(self, job: Job, manifest: Manifest, at: datetime) -> str | None:
        source = recorded(manifest)["db_instance_identifier"]
        params = {**self._instance_params(job, manifest), **_rds_moment(job, "RestoreTime", at),
                  "SourceDBInstanceIdentifier": source,
                  "TargetDBInstanceIdentifier": job.restore_target["DBInstanceIdentifier"]}
        return self._start_restored(job, "RestoreDBInstanceToPointInTime",
                                    self._rds.restore_db_instance_to_point_in_time, params,
                                    (_RDS_TIME_ERRORS, f"{_BAD_TIME}: RDS refused {at.isoformat()} for {source}"))


class AuroraContinuous(AuroraAdapter):
    def check_protectable(self, resource_arn: str) -> None:
        self.describe_source(resource_arn)  # NotFound, or a cluster of another engine refused by name

    def enable(self, resource_arn: str, retention_days: int) -> dict[str, Any]:
        identifier = resource_name(resource_arn)
        before = self._cluster(identifier).get("BackupRetentionPeriod")
        with translated(AURORA_ERRORS, f"automated backups of {identifier}"):
            self._rds.modify_db_cluster(DBClusterIdentifier=identifier, BackupRetentionPeriod=retention_days,
                                        ApplyImmediately=True)
        return {"backup_retention_period": before}

    def status(self, resource_arn: str, retention_days: int) -> OperationStatus:
        cluster = self._cluster(resource_name(resource_arn))
        pending = "BackupRetentionPeriod" in (cluster.get("PendingModifiedValues") or {})
        done = cluster.get("BackupRetentionPeriod") == retention_days and not pending \
            and cluster["Status"] == "available"
        return OperationStatus(done=done, details={"backup_retention_period": cluster.get("BackupRetentionPeriod"),
                                                   "status": cluster["Status"]})

    def check_restore_target(self, metadata: Mapping[str, str]) -> None:
        return None  # a new cluster: an existing identifier is refused on start unless this job made it

    def start_restore_to_time(self, job: Job, manifest: Manifest, at: datetime) -> str | None:
        source = recorded(manifest)["db_cluster_identifier"]
        params = {**self._placement(job, manifest), **_rds_moment(job, "RestoreToTime", at),
                  "SourceDBClusterIdentifier": source, "DBClusterIdentifier": job.restore_target["DBClusterIdentifier"]}
        return self._start_restored(job, "RestoreDBClusterToPointInTime",
                                    self._rds.restore_db_cluster_to_point_in_time, params,
                                    (_RDS_TIME_ERRORS, f"{_BAD_TIME}: RDS refused {at.isoformat()} for {source}"))


#: ResourceType -> (boto3 service, class)
CONTINUOUS_REGISTRY: dict[ResourceType, tuple[str, Callable[[Any], ContinuousAdapter]]] = {
    ResourceType.S3: ("s3", S3Continuous),
    ResourceType.DYNAMODB: ("dynamodb", DynamoDBContinuous),
    ResourceType.RDS: ("rds", RdsContinuous),
    ResourceType.AURORA: ("rds", AuroraContinuous),
}


def continuous_adapter_for(resource_type: ResourceType, client_for: Callable[[str], Any]) -> ContinuousAdapter:
    try:
        service, factory = CONTINUOUS_REGISTRY[resource_type]
    except KeyError:
        raise UnsupportedOperation(f"{resource_type}: cannot back up continuously: "
                                   f"{CONTINUOUS_REFUSALS.get(resource_type, 'not supported')}") from None
    return factory(client_for(service))


class ContinuousRegistry:
    """The continuous adapters, each made once, on first use, with the client `client_for` gives its service."""

    def __init__(self, client_for: Callable[[str], Any]) -> None:
        self._client_for = client_for
        self._made: dict[ResourceType, ContinuousAdapter] = {}

    def adapter(self, resource_type: ResourceType) -> ContinuousAdapter:
        if resource_type not in self._made:
            self._made[resource_type] = continuous_adapter_for(resource_type, self._client_for)
        return self._made[resource_type]
