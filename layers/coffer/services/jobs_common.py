"""Pieces the backup and restore services share: summaries, failure mapping, cause parsing."""

from __future__ import annotations

import json
import uuid

from coffer.adapters.catalog.copy_quota import CopyQuotas
from coffer.adapters.catalog.restore_leases import RestoreLeases
from coffer.domain.errors import NotFound
from coffer.domain.jobs import Job, JobKind, JobState
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.steps import FailStep, JobSummary
from coffer.services.wiring import Deps

#: error names (exception classes raised by Coffer) that end a job in a state other than FAILED
_ENDING_FOR_ERROR = {
    "CompletionWindowExceeded": JobState.ABORTED,
    "StartWindowExpired": JobState.EXPIRED,
}


_IDS = uuid.UUID("6c6f6666-6572-4a6f-6273-000000000001")


def job_id_for(idempotency_token: str) -> str:
    """Job ids derive from the idempotency token, so a repeated request names the same job even before
    the catalog answers, and sample events can refer to the jobs that earlier sample events made."""
    return str(uuid.uuid5(_IDS, f"job:{idempotency_token}"))


def recovery_point_id_for(job_id: str) -> str:
    return str(uuid.uuid5(_IDS, f"recovery-point:{job_id}"))


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


def fail_job(deps: Deps, step: FailStep) -> JobSummary | None:
    """A workflow's Catch lands here: end the job with the cause, release what it holds (a backup's lease on its
    resource, a restore's or a copy's hold on its recovery point, a copy's quota slot) and record what a backup
    that ran may have left behind.

    Without a job id the start step failed: the job this execution created before failing, if any, is ended;
    a request refused before any job existed left nothing to end.
    """
    job_id = step.job_id or _started_job_id(deps, step)
    if job_id is None:
        return None
    job = deps.catalog.get_job(job_id)
    if not job.state.terminal:
        ending = ending_for(step.error.Error, job)
        reason = reason_from_cause(step.error.Error, step.error.Cause)
        now = deps.clock.now()
        left = _left_behind(deps, job) if job.kind is JobKind.BACKUP and ending is not JobState.EXPIRED else None
        if job.kind is JobKind.COPY:
            from coffer.services.copy_jobs import CopyJobs  # copy_jobs imports this module

            copies = CopyJobs(deps)
            copies.record_left_behind(job)  # in the destination first: this write ends what it may retry
            copies.withdraw_access(job)  # the destination keeps no access to this account's keys or artefacts
        # A copy job's quota slot goes back in the same write that ends it (services/copy_jobs.py).
        slot = CopyQuotas(deps.client_for("dynamodb"), deps.settings.catalog_table).release_for(job)
        job = deps.catalog.save_job(job.to(ending, now, reason), release_lease=job.kind is JobKind.BACKUP,
                                    recovery_point=left, also=slot)
    elif job.kind is JobKind.BACKUP and deps.catalog.on_backup_ended is not None:
        deps.catalog.on_backup_ended(job)  # a retry whose ending write went through unanswered owes the wake-up
    if job.kind in (JobKind.RESTORE, JobKind.COPY):  # a copy holds its source as a restore does
        RestoreLeases(deps.client_for("dynamodb"), deps.settings.catalog_table).end_restore(
            job.recovery_point_id, job.job_id)
    return summary(job)


def _started_job_id(deps: Deps, step: FailStep) -> str | None:
    """The job that this execution's failed start step had created, found by the event's idempotency token."""
    if step.event is None or step.execution_arn is None:
        return None
    detail = step.event.get("detail")
    token = (detail.get("IdempotencyToken") if isinstance(detail, dict) else None) or step.event.get("id")
    if not isinstance(token, str) or not token:
        return None
    try:
        job = deps.catalog.get_job(job_id_for(token))
    except NotFound:
        return None
    # Rule: only the execution that created a job ends it here; a request refused because its token names
    # another execution's job (a duplicate, a conflict) must not touch that job.
    return job.job_id if job.execution_arn == step.execution_arn else None


def _left_behind(deps: Deps, job: Job) -> RecoveryPoint:
    """What a backup job that failed may have left, recorded as a DELETING recovery point in the same write
    that ends the job: manifest parts (or a manifest, when only the last catalog write failed) that Object
    Lock keeps until their retain-until date, and a native backup (`native_ref`, or found by the recovery
    point id in its name or tags). The lifecycle sweeper deletes them when it may; restores refuse it. So
    the vault holds nothing the catalog does not account for. Blobs are not listed: they are
    content-addressed, and the next backup of the same content reuses them."""
    created = job.created_at
    return RecoveryPoint(
        recovery_point_id=job.recovery_point_id, vault_name=job.vault_name, resource_arn=job.resource_arn,
        resource_type=job.resource_type, status=RecoveryPointStatus.DELETING, creation_date=created,
        # what the job asked for; the sweeper deletes only what S3 Object Lock lets it
        retain_until=job.lifecycle.retain_until(created, deps.settings.default_retention_days),
        plan_id=job.plan_id, rule_name=job.rule_name, job_id=job.job_id, native_ref=job.native_ref,
        tags=job.recovery_point_tags)
