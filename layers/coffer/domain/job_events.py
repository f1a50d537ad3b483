"""Job events: every state change of a backup, copy or restore job and of a recovery point, in AWS Backup's
EventBridge shape (its detail-types and detail field names), under Coffer's own source.

A rule written for AWS Backup (`{"source": ["aws.backup"], "detail-type": ["Backup Job State Change"],
"detail": {"state": ["FAILED"]}}`) matches Coffer's events once its source reads `coffer.backup`. AWS Backup's
restore and recovery point events carry `status` where its backup and copy events carry `state`; so do these.

Events arrive at least once: `stateVersion` numbers a job's transitions (1 = CREATED, as its history counts them)
and a recovery point's catalog version, so a consumer dedupes on (job or recovery point id, stateVersion).
Pure: the ARNs are built from the stack's `Home` (partition, region, account), nothing here calls AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coffer.domain.input_rules.arns import Home
from coffer.domain.jobs import Job, JobKind, JobState
from coffer.domain.recovery_points import RecoveryPoint

#: EventBridge's `source` of every Coffer job event (AWS Backup's is `aws.backup`; `aws.` is reserved to AWS)
SOURCE = "coffer.backup"

DETAIL_TYPES = {
    JobKind.BACKUP: "Backup Job State Change",
    JobKind.COPY: "Copy Job State Change",
    JobKind.RESTORE: "Restore Job State Change",
}
RECOVERY_POINT_DETAIL_TYPE = "Recovery Point State Change"

#: EventBridge's limit on one entry (detail and the rest); a status message is cut well below it
_MESSAGE_LIMIT = 2000


@dataclass(frozen=True)
class JobChange:
    """The job reached `job.history[state_version - 1]` (1-based: the CREATED transition is 1)."""

    job: Job
    state_version: int


@dataclass(frozen=True)
class RecoveryPointChange:
    """The recovery point was written in a new status (created, or its status changed)."""

    recovery_point: RecoveryPoint


Change = JobChange | RecoveryPointChange


@dataclass(frozen=True)
class StateChangeEvent:
    """One PutEvents entry, without its source and bus (the adapter's)."""

    detail_type: str
    #: when it happened (a job's transition); None: when EventBridge receives it (a recovery point's write)
    time: datetime | None
    resources: tuple[str, ...]
    detail: dict[str, Any]


def announcing(job: Job) -> tuple[Job, list[Change]]:
    """The job as the catalog writes it (every transition counted as announced) and the changes to announce once
    the write is done: its transitions not yet announced (`job.announced` counts those that were), oldest first."""
    changes: list[Change] = [JobChange(job, index) for index in range(job.announced + 1, len(job.history) + 1)]
    return (job.with_changes(announced=len(job.history)) if changes else job), changes


def recovery_point_changes(rp: RecoveryPoint, stored_status: str | None) -> list[Change]:
    """A recovery point's write is announced when it creates it (version 0) or changes its status (`stored_status`:
    the status it had, where the writer learnt it)."""
    if rp.version == 0 or (stored_status is not None and stored_status != rp.status.value):
        return [RecoveryPointChange(rp)]
    return []


def vault_arn(home: Home, vault_name: str) -> str:
    return f"arn:{home.partition}:backup:{home.region}:{home.account_id}:backup-vault:{vault_name}"


def recovery_point_arn(home: Home, recovery_point_id: str) -> str:
    return f"arn:{home.partition}:backup:{home.region}:{home.account_id}:recovery-point:{recovery_point_id}"


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


def _message(text: str | None) -> str | None:
    return text if text is None or len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT - 1] + "…"


def completed_with_issues(job: Job) -> bool:
    """AWS Backup's "Completed with issues": a COMPLETED job that has something to say - for Coffer, keys it could
    not copy. (Its listing note - which listing it used and why - is information, not an issue.)"""
    return job.state is JobState.COMPLETED and bool(job.progress.failed_keys)


def _created_by(job: Job) -> dict[str, str] | None:
    if job.plan_id is None:
        return None
    return {"backupPlanId": job.plan_id, **({"backupRuleName": job.rule_name} if job.rule_name else {})}


def render(change: Change, home: Home) -> StateChangeEvent:
    """The EventBridge entry of one change."""
    if isinstance(change, RecoveryPointChange):
        return _recovery_point_event(change.recovery_point, home)
    return _job_event(change, home)


def _job_event(change: JobChange, home: Home) -> StateChangeEvent:
    job = change.job
    transition = job.history[change.state_version - 1]
    state = transition.state.value
    ended = transition.state.terminal
    progress = job.progress
    common: dict[str, Any] = {
        "resourceArn": job.resource_arn,
        "resourceType": job.resource_type.value,
        "statusMessage": _message(transition.reason),
        "creationDate": _iso(job.created_at),
        "completionDate": _iso(transition.at) if ended else None,
        "backupSizeInBytes": str(progress.bytes),
        "stateVersion": change.state_version,
        "executionArn": job.execution_arn,
        "objects": progress.objects,
        "objectsCopied": progress.objects_copied,
        "objectsReused": progress.objects_reused,
        "failedObjects": len(progress.failed_keys),
        "completedWithIssues": ended and completed_with_issues(job) and change.state_version == len(job.history),
    }
    rp_arn = recovery_point_arn(home, job.recovery_point_id)
    resources: tuple[str, ...]
    if job.kind is JobKind.BACKUP:
        detail = {"backupJobId": job.job_id, "backupVaultName": job.vault_name,
                  "backupVaultArn": vault_arn(home, job.vault_name), "recoveryPointArn": rp_arn, "state": state,
                  "startBy": _iso(job.start_by), "bytesTransferred": str(progress.bytes_copied),
                  "percentDone": _percent(job, ended), "createdBy": _created_by(job)}
        resources = (job.resource_arn, rp_arn)
    elif job.kind is JobKind.COPY:
        destination = job.destination
        detail = {"copyJobId": job.job_id, "sourceBackupVaultArn": vault_arn(home, job.vault_name),
                  "sourceRecoveryPointArn": rp_arn, "backupVaultName": job.vault_name,
                  "destinationBackupVaultArn": destination.vault_arn if destination else None,
                  "destinationRecoveryPointArn": (
                      f"arn:{home.partition}:backup:{destination.region}:{destination.account_id}:recovery-point:"
                      f"{destination.recovery_point_id}" if destination else None),
                  "state": state, "createdBy": _created_by(job)}
        resources = (job.resource_arn, rp_arn)
    else:
        detail = {"restoreJobId": job.job_id, "recoveryPointArn": rp_arn, "backupVaultName": job.vault_name,
                  "backupVaultArn": vault_arn(home, job.vault_name), "createdResourceArn": job.native_ref,
                  "status": state, "percentDone": _percent(job, ended)}
        resources = (rp_arn,)
    return StateChangeEvent(detail_type=DETAIL_TYPES[job.kind], time=transition.at, resources=resources,
                            detail=_without_nones({**detail, **common}))


def _percent(job: Job, ended: bool) -> str:
    """AWS Backup's percentDone (a string): batches settled of their total where known."""
    if ended and job.state is JobState.COMPLETED:
        return "100.0"
    return "0.0"


def _recovery_point_event(rp: RecoveryPoint, home: Home) -> StateChangeEvent:
    rp_arn = recovery_point_arn(home, rp.recovery_point_id)
    detail: dict[str, Any] = {
        "backupVaultName": rp.vault_name, "backupVaultArn": vault_arn(home, rp.vault_name),
        "recoveryPointArn": rp_arn, "resourceArn": rp.resource_arn, "resourceType": rp.resource_type.value,
        "status": rp.status.value, "storageClass": rp.storage_class.value, "creationDate": _iso(rp.creation_date),
        "completionDate": _iso(rp.completion_date), "backupSizeInBytes": str(rp.backup_size_bytes),
        "encryptionKeyArn": rp.encryption_key_arn, "isEncrypted": True,
        "calculatedLifecycle": _without_nones({"moveToColdStorageAt": _iso(rp.cold_at),
                                               "deleteAt": _iso(rp.delete_at)}),
        "createdBy": {"backupPlanId": rp.plan_id} if rp.plan_id else None,
        "backupJobId": rp.job_id,
        # the version this write gives it (the catalog adds one to the version read)
        "stateVersion": rp.version + 1,
    }
    return StateChangeEvent(detail_type=RECOVERY_POINT_DETAIL_TYPE, time=None, resources=(rp_arn, rp.resource_arn),
                            detail=_without_nones(detail))


def _without_nones(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
