"""Pieces the backup, restore and copy services share: job ids, summaries, failure mapping, cause parsing."""

from __future__ import annotations

import json
import uuid

from coffer.domain.jobs import Job, JobState
from coffer.domain.steps import JobSummary

#: error names (exception classes raised by Coffer) that end a job in a state other than FAILED
_ENDING_FOR_ERROR = {
    "CompletionWindowExceeded": JobState.ABORTED,
    "StartWindowExpired": JobState.EXPIRED,
    # an operator's stop (services/job_control.py): AWS Backup's StopBackupJob ends a job ABORTED
    "JobStopped": JobState.ABORTED,
}


_IDS = uuid.UUID("6c6f6666-6572-4a6f-6273-000000000001")


def job_id_for(idempotency_token: str) -> str:
    """Job ids derive from the idempotency token, so a repeated request names the same job even before
    the catalog answers, and sample events can refer to the jobs that earlier sample events made."""
    return str(uuid.uuid5(_IDS, f"job:{idempotency_token}"))


def recovery_point_id_for(job_id: str) -> str:
    return str(uuid.uuid5(_IDS, f"recovery-point:{job_id}"))


def copy_recovery_point_id(source_account: str, job_id: str) -> str:
    """A copy's recovery point at its destination: prefixed with the source account, which is all the member
    template's IAM can scope a source's writes by (`RP#<account>-*`; no backup's id looks like that)."""
    return f"{source_account}-{recovery_point_id_for(job_id)}"


def ending_for(error_name: str, job: Job) -> JobState:
    state = _ENDING_FOR_ERROR.get(error_name, JobState.FAILED)
    if state is JobState.EXPIRED and job.state is JobState.RUNNING:
        return JobState.ABORTED
    return state


def reason_from_cause(error_name: str, cause: str | None) -> str:
    """Step Functions hands over Lambda's error payload as a JSON string; keep its message."""
    message = cause or ""
    try:
        parsed = json.loads(message)
        if isinstance(parsed, dict) and parsed.get("errorMessage"):
            message = str(parsed["errorMessage"])
    except ValueError:
        pass
    return f"{error_name}: {message}".strip().rstrip(":")


def summary(job: Job) -> JobSummary:
    return JobSummary(
        job_id=job.job_id, kind=job.kind.value, state=job.state.value, resource_arn=job.resource_arn,
        recovery_point_id=job.recovery_point_id, status_message=job.status_message,
        objects=job.progress.objects, objects_copied=job.progress.objects_copied,
        objects_reused=job.progress.objects_reused, failed_keys=list(job.progress.failed_keys),
    )
