"""Pieces the backup, restore and copy services share: summaries, failure mapping, cause parsing (job ids:
coffer.domain.job_ids)."""

from __future__ import annotations

import json

from coffer.domain.jobs import Job, JobState
from coffer.domain.steps import JobSummary
from coffer.ports.catalog import Catalog

#: error names (exception classes raised by Coffer) that end a job in a state other than FAILED
_ENDING_FOR_ERROR = {
    "CompletionWindowExceeded": JobState.ABORTED,
    "StartWindowExpired": JobState.EXPIRED,
    # an operator's stop (services/job_control.py): AWS Backup's StopBackupJob ends a job ABORTED
    "JobStopped": JobState.ABORTED,
}


def ending_for(error_name: str, job: Job) -> JobState:
    state = _ENDING_FOR_ERROR.get(error_name, JobState.FAILED)
    if state is JobState.EXPIRED and job.state is JobState.RUNNING:
        return JobState.ABORTED
    return state


#: what a start step writes: a retry of it that finds the job already here may owe that write's job event
_STARTED = (JobState.CREATED, JobState.RUNNING)


def reannounce_retried(catalog: Catalog, job: Job) -> None:
    """A start step retried by its own execution found its job already CREATED or RUNNING: the write that put it
    there may have lost its answer before its job event went out, so the event is announced again (consumers dedupe
    by stateVersion). PENDING is not: a queued job's execution asks again on every turn it waits, which is no retry.
    Terminal states are announced again by the step that ends the job (complete, FailJob)."""
    if job.state in _STARTED:
        catalog.announce_again(job)


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
