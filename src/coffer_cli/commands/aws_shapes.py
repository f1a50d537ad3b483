"""Coffer's jobs and recovery points in AWS Backup's response shapes (BackupJob, CopyJob, RestoreJob,
RecoveryPointByBackupVault, DescribeRecoveryPoint's output), for the verbs named as `aws backup`'s: a script
written against `aws backup list-backup-jobs --output json` reads `coffer list-backup-jobs --output json`.

Fields AWS Backup has and Coffer does not (IamRoleArn, ...) are left out rather than invented.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from coffer.domain.jobs import Job, JobKind, JobState
from coffer.domain.recovery_points import RecoveryPoint
from coffer_cli.commands.common import Stack


def vault_arn(stack: Stack, vault: str) -> str:
    return f"arn:aws:backup:{stack.region}:{stack.account}:backup-vault:{vault}"


def recovery_point_arn(stack: Stack, recovery_point_id: str) -> str:
    return f"arn:aws:backup:{stack.region}:{stack.account}:recovery-point:{recovery_point_id}"


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _ended_at(job: Job) -> str | None:
    return _time(job.history[-1].at) if job.state.terminal and job.history else None


def _percent(job: Job) -> str | None:
    return "100.0" if job.state is JobState.COMPLETED else None


def _created_by(plan_id: str | None, rule_name: str | None) -> dict[str, str] | None:
    return {"BackupPlanId": plan_id, "BackupRuleId": rule_name or ""} if plan_id else None


def _account(job_or_point: Job | RecoveryPoint, stack: Stack) -> str:
    return (job_or_point.resource_arn.split(":") + [""] * 5)[4] or stack.account


def _drop_empty(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if value is not None}


def backup_job(job: Job, stack: Stack) -> dict[str, Any]:
    return _drop_empty({
        "AccountId": _account(job, stack), "BackupJobId": job.job_id, "BackupVaultName": job.vault_name,
        "BackupVaultArn": vault_arn(stack, job.vault_name),
        "RecoveryPointArn": recovery_point_arn(stack, job.recovery_point_id), "ResourceArn": job.resource_arn,
        "CreationDate": _time(job.created_at), "CompletionDate": _ended_at(job), "State": job.state.value,
        "StatusMessage": job.status_message, "PercentDone": _percent(job),
        "BackupSizeInBytes": job.progress.bytes, "BytesTransferred": job.progress.bytes_copied,
        "CreatedBy": _created_by(job.plan_id, job.rule_name), "StartBy": _time(job.start_by),
        "CompleteBy": _time(job.complete_by), "ResourceType": job.resource_type.value,
        "BackupOptions": job.backup_options or None, "BackupType": "CONTINUOUS" if job.continuous else None,
        "IdempotencyToken": job.idempotency_token, "ExecutionArn": job.execution_arn,
    })


def copy_job(job: Job, stack: Stack) -> dict[str, Any]:
    destination = job.destination
    return _drop_empty({
        "AccountId": _account(job, stack), "CopyJobId": job.job_id,
        "SourceBackupVaultArn": vault_arn(stack, job.vault_name),
        "SourceRecoveryPointArn": recovery_point_arn(stack, job.recovery_point_id),
        "DestinationBackupVaultArn": destination.vault_arn if destination else None,
        "DestinationRecoveryPointArn": (
            f"arn:aws:backup:{destination.region}:{destination.account_id}:recovery-point:"
            f"{destination.recovery_point_id}" if destination else None),
        "ResourceArn": job.resource_arn, "CreationDate": _time(job.created_at), "CompletionDate": _ended_at(job),
        "State": job.state.value, "StatusMessage": job.status_message, "BackupSizeInBytes": job.progress.bytes,
        "CreatedBy": _created_by(job.plan_id, job.rule_name), "ResourceType": job.resource_type.value,
        "ExecutionArn": job.execution_arn,
    })


def restore_job(job: Job, stack: Stack) -> dict[str, Any]:
    return _drop_empty({
        "AccountId": _account(job, stack), "RestoreJobId": job.job_id,
        "RecoveryPointArn": recovery_point_arn(stack, job.recovery_point_id),
        "CreationDate": _time(job.created_at), "CompletionDate": _ended_at(job),
        "Status": job.state.value, "StatusMessage": job.status_message, "PercentDone": _percent(job),
        "BackupSizeInBytes": job.progress.bytes or None, "ResourceType": job.resource_type.value,
        "RestoreTarget": job.restore_target or None, "ExecutionArn": job.execution_arn,
    })


#: kind -> (AWS's list key, its per-job shape)
JOB_SHAPES = {JobKind.BACKUP: ("BackupJobs", backup_job), JobKind.COPY: ("CopyJobs", copy_job),
              JobKind.RESTORE: ("RestoreJobs", restore_job)}


def job_document(job: Job, stack: Stack) -> dict[str, Any]:
    return JOB_SHAPES[job.kind][1](job, stack)


def recovery_point(point: RecoveryPoint, stack: Stack) -> dict[str, Any]:
    """RecoveryPointByBackupVault, plus DescribeRecoveryPoint's StorageClass."""
    lifecycle = point.lifecycle
    return _drop_empty({
        "RecoveryPointArn": recovery_point_arn(stack, point.recovery_point_id),
        "BackupVaultName": point.vault_name, "BackupVaultArn": vault_arn(stack, point.vault_name),
        "ResourceArn": point.resource_arn, "ResourceType": point.resource_type.value,
        "CreatedBy": _created_by(point.plan_id, point.rule_name), "Status": point.status.value,
        "StatusMessage": point.status_message,
        "CreationDate": _time(point.creation_date), "CompletionDate": _time(point.completion_date),
        "BackupSizeInBytes": point.backup_size_bytes,
        "CalculatedLifecycle": _drop_empty({"MoveToColdStorageAt": _time(point.cold_at),
                                            "DeleteAt": _time(point.delete_at)}) or None,
        "Lifecycle": lifecycle.model_dump(by_alias=True, exclude_none=True) or None,
        "EncryptionKeyArn": point.encryption_key_arn, "IsEncrypted": point.encryption_key_arn is not None,
        "ParentRecoveryPointArn": (recovery_point_arn(stack, point.parent_recovery_point_id)
                                   if point.parent_recovery_point_id else None),
        "StorageClass": point.storage_class.value, "RetainUntil": _time(point.retain_until),
        "LegalHolds": list(point.legal_holds) or None, "RecoveryPointTags": point.tags or None,
    })
