"""Notifications: which job events a person is told about, and what the message says.

Per vault, AWS Backup's PutBackupVaultNotifications shape: `BackupVaultEvents` (its event names) and an
`SNSTopicArn`. A vault without settings notifies what goes wrong: a job FAILED, EXPIRED, ABORTED or PARTIAL, and a
job COMPLETED with issues. Findings of the Verify workflow (its execution failing) are always sent.

A message says what happened, to which resource, why (the job's status message), and the command to look further.
Pure: the notifier (services/notifications.py) reads the settings and publishes.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from coffer.domain.job_events import DETAIL_TYPES, RECOVERY_POINT_DETAIL_TYPE, SOURCE
from coffer.domain.jobs import JobKind


class VaultEvent(StrEnum):
    """AWS Backup's BackupVaultEvents (the ones that describe jobs and recovery points)."""

    BACKUP_JOB_STARTED = "BACKUP_JOB_STARTED"
    BACKUP_JOB_COMPLETED = "BACKUP_JOB_COMPLETED"
    BACKUP_JOB_SUCCESSFUL = "BACKUP_JOB_SUCCESSFUL"
    BACKUP_JOB_FAILED = "BACKUP_JOB_FAILED"
    BACKUP_JOB_EXPIRED = "BACKUP_JOB_EXPIRED"
    RESTORE_JOB_STARTED = "RESTORE_JOB_STARTED"
    RESTORE_JOB_COMPLETED = "RESTORE_JOB_COMPLETED"
    RESTORE_JOB_SUCCESSFUL = "RESTORE_JOB_SUCCESSFUL"
    RESTORE_JOB_FAILED = "RESTORE_JOB_FAILED"
    COPY_JOB_STARTED = "COPY_JOB_STARTED"
    COPY_JOB_SUCCESSFUL = "COPY_JOB_SUCCESSFUL"
    COPY_JOB_FAILED = "COPY_JOB_FAILED"
    RECOVERY_POINT_MODIFIED = "RECOVERY_POINT_MODIFIED"
    S3_BACKUP_OBJECT_FAILED = "S3_BACKUP_OBJECT_FAILED"
    S3_RESTORE_OBJECT_FAILED = "S3_RESTORE_OBJECT_FAILED"


_SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$")


class VaultNotifications(BaseModel):
    """A vault's notification settings, as PutBackupVaultNotifications takes them (SNSTopicArn optional here: the
    stack's topic when omitted)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    backup_vault_name: str = Field(alias="BackupVaultName")
    backup_vault_events: tuple[VaultEvent, ...] = Field(alias="BackupVaultEvents", min_length=1)
    sns_topic_arn: str | None = Field(default=None, alias="SNSTopicArn")

    @field_validator("sns_topic_arn")
    @classmethod
    def _topic(cls, value: str | None) -> str | None:
        if value is not None and not _SNS_TOPIC_ARN.match(value):
            raise ValueError(f"'{value}' is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")
        return value

    def aws_shape(self) -> dict[str, Any]:
        """GetBackupVaultNotifications' answer."""
        return {"BackupVaultName": self.backup_vault_name, "SNSTopicArn": self.sns_topic_arn,
                "BackupVaultEvents": [event.value for event in self.backup_vault_events]}


_FAILED = {"FAILED", "ABORTED", "PARTIAL"}
#: what a vault without settings is told about
TROUBLE = frozenset({"FAILED", "EXPIRED", "ABORTED", "PARTIAL"})
_KINDS = {detail_type: kind for kind, detail_type in DETAIL_TYPES.items()}

VERIFY_DETAIL_TYPE = "Step Functions Execution Status Change"


def vault_events_of(detail_type: str, detail: dict[str, Any]) -> set[VaultEvent]:
    """The BackupVaultEvents a job event counts as (AWS Backup's meanings: COMPLETED is any end of a backup or
    restore, SUCCESSFUL only a COMPLETED one; a PARTIAL S3 job is also an object that failed)."""
    if detail_type == RECOVERY_POINT_DETAIL_TYPE:
        return {VaultEvent.RECOVERY_POINT_MODIFIED}
    kind = _KINDS.get(detail_type)
    state = str(detail.get("state") or detail.get("status") or "")
    s3 = detail.get("resourceType") == "S3"
    found: set[VaultEvent] = set()
    if kind is JobKind.BACKUP:
        found |= {VaultEvent.BACKUP_JOB_STARTED} if state == "RUNNING" else set()
        found |= {VaultEvent.BACKUP_JOB_COMPLETED} if state in _FAILED | {"COMPLETED"} else set()
        found |= {VaultEvent.BACKUP_JOB_SUCCESSFUL} if state == "COMPLETED" else set()
        found |= {VaultEvent.BACKUP_JOB_FAILED} if state in _FAILED else set()
        found |= {VaultEvent.BACKUP_JOB_EXPIRED} if state == "EXPIRED" else set()
        found |= {VaultEvent.S3_BACKUP_OBJECT_FAILED} if s3 and _objects_failed(state, detail) else set()
    elif kind is JobKind.RESTORE:
        found |= {VaultEvent.RESTORE_JOB_STARTED} if state == "RUNNING" else set()
        found |= {VaultEvent.RESTORE_JOB_COMPLETED} if state in _FAILED | {"COMPLETED"} else set()
        found |= {VaultEvent.RESTORE_JOB_SUCCESSFUL} if state == "COMPLETED" else set()
        found |= {VaultEvent.RESTORE_JOB_FAILED} if state in _FAILED | {"EXPIRED"} else set()
        found |= {VaultEvent.S3_RESTORE_OBJECT_FAILED} if s3 and _objects_failed(state, detail) else set()
    elif kind is JobKind.COPY:
        found |= {VaultEvent.COPY_JOB_STARTED} if state == "RUNNING" else set()
        found |= {VaultEvent.COPY_JOB_SUCCESSFUL} if state == "COMPLETED" else set()
        found |= {VaultEvent.COPY_JOB_FAILED} if state in _FAILED | {"EXPIRED"} else set()
    return found


def _objects_failed(state: str, detail: dict[str, Any]) -> bool:
    return state == "PARTIAL" or int(detail.get("failedObjects") or 0) > 0


def troubling(detail_type: str, detail: dict[str, Any]) -> bool:
    """What a vault without settings is told about: a job that went wrong or completed with issues."""
    if detail_type not in _KINDS:
        return False
    state = str(detail.get("state") or detail.get("status") or "")
    return state in TROUBLE or bool(detail.get("completedWithIssues"))


class Notice(BaseModel):
    """One message: `subject` for SNS (100 characters at most, one line), `message` for a person."""

    model_config = ConfigDict(frozen=True)

    subject: str
    message: str
    vault_name: str | None = None


def job_notice(detail_type: str, detail: dict[str, Any], stack: str) -> Notice:
    """What happened (the job and its state), to which resource, why, and the command to look further."""
    kind = _KINDS.get(detail_type)
    job_id = str(detail.get("backupJobId") or detail.get("copyJobId") or detail.get("restoreJobId") or "")
    state = str(detail.get("state") or detail.get("status") or "")
    vault = str(detail.get("backupVaultName") or "")
    resource = str(detail.get("resourceArn") or detail.get("recoveryPointArn") or "")
    if kind is None:  # a recovery point's status
        what = f"Recovery point {resource} is {state}"
        look = f"coffer recovery-points describe {str(detail.get('recoveryPointArn', '')).rsplit(':', 1)[-1]}"
        return Notice(subject=subject_line(f"Coffer: recovery point {state}"), vault_name=vault or None,
                      message=_lines(what, f"Vault: {vault}", f"Resource: {detail.get('resourceArn', '')}",
                                     f"Look further: {look} --stack {stack}"))
    issues = state == "COMPLETED" and detail.get("completedWithIssues")
    shown = "COMPLETED with issues" if issues else state
    noun = kind.value.lower()
    lines = [f"Coffer {noun} job {job_id} {shown}.", f"Resource: {resource} ({detail.get('resourceType', '')})",
             f"Vault: {vault}", f"Why: {detail.get('statusMessage') or '(no status message)'}"]
    if detail.get("failedObjects"):
        lines.append(f"Objects not copied: {detail['failedObjects']} of {detail.get('objects', '?')}")
    lines.append(f"Look further: coffer jobs describe {job_id} --stack {stack}")
    return Notice(subject=subject_line(f"Coffer {noun} job {shown}: {resource}"), message=_lines(*lines),
                  vault_name=vault or None)


def verify_notice(detail: dict[str, Any], stack: str) -> Notice:
    """The Verify workflow's execution did not succeed: its findings (VaultVerifyFailed) or its own failure."""
    status = str(detail.get("status") or "FAILED")
    error = str(detail.get("error") or "")
    cause = str(detail.get("cause") or "")
    execution = str(detail.get("executionArn") or "")
    found = error == "VaultVerifyFailed"
    what = "Vault verify found problems in the vault" if found else f"The vault verify workflow {status}"
    return Notice(subject=subject_line(f"Coffer: {what}"), message=_lines(
        f"{what}.", f"Why: {error}: {cause}".rstrip(": ") if error or cause else "Why: (no cause given)",
        f"Execution: {execution}",
        f"Look further: coffer vault verify --stack {stack}  (or: aws stepfunctions describe-execution "
        f"--execution-arn {execution})"))


#: SNS refuses a Subject of 100 characters or more (Publish: "less than 100 characters long")
SUBJECT_LIMIT = 99


def subject_line(text: str) -> str:
    """A notice's subject as SNS takes it: one line, under 100 characters (a longer one cut, marked with …)."""
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_LIMIT else line[:SUBJECT_LIMIT - 1] + "…"


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def is_job_event(event: dict[str, Any]) -> bool:
    return event.get("source") == SOURCE
