"""FailJob: every workflow's Catch ends its job here (backups, restores and copies alike).

Its own module because it ends copy jobs too (services/copy_jobs.py, which in turn uses jobs_common's ids): the
copy service is asked for only when a copy job fails, so a function that ends other jobs never loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from coffer.domain.clock import Clock
from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job, JobKind, JobState
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.steps import FailStep, JobSummary
from coffer.ports.catalog import Catalog
from coffer.ports.quotas import SlotQuotas
from coffer.ports.restore_leases import RestoreLeaseStore
from coffer.ports.turns import Turns
from coffer.services.jobs_common import ending_for, reason_from_cause, summary
from coffer.settings import Settings


class CopyEnding(Protocol):
    """What ending a copy job needs of the copy service (services/copy_jobs.py CopyJobs)."""

    def record_left_behind(self, job: Job) -> None: ...

    def withdraw_access(self, job: Job) -> None: ...


class JobFailures:
    """`copies`: gives the copy service, asked for only when a copy job is ended."""

    def __init__(self, catalog: Catalog, quotas: SlotQuotas, leases: RestoreLeaseStore, turns: Turns,
                 copies: Callable[[], CopyEnding], settings: Settings, clock: Clock) -> None:
        self._catalog = catalog
        self._quotas = quotas
        self._leases = leases
        self._turns = turns
        self._copies = copies
        self._settings = settings
        self._clock = clock

    def fail(self, step: FailStep) -> JobSummary | None:
        """A workflow's Catch lands here: end the job with the cause, release what it holds (a backup's lease on its
        resource, a restore's or a copy's hold on its recovery point, a copy's quota slot) and record what a backup
        that ran may have left behind.

        Without a job id the start step failed: the job this execution created before failing, if any, is ended;
        a request refused before any job existed left nothing to end.
        """
        job_id = step.job_id or self._started_job_id(step)
        if job_id is None:
            return None
        job = self._catalog.get_job(job_id)
        if not job.state.terminal:
            ending = ending_for(step.error.Error, job)
            reason = reason_from_cause(step.error.Error, step.error.Cause)
            now = self._clock.now()
            left = self._left_behind(job) if job.kind is JobKind.BACKUP and ending is not JobState.EXPIRED else None
            if job.kind is JobKind.COPY:
                copies = self._copies()
                copies.record_left_behind(job)  # in the destination first: this write ends what it may retry
                copies.withdraw_access(job)  # the destination keeps no access to this account's keys or artefacts
            # A copy job's quota slot goes back in the same write that ends it (services/copy_jobs.py).
            job = self._catalog.save_job(job.to(ending, now, reason), release_lease=job.kind is JobKind.BACKUP,
                                         recovery_point=left, also=self._quotas.release_for(job))
        else:  # a retry whose ending write went through unanswered owes the wake-up and the job event
            if job.kind is JobKind.BACKUP:
                self._turns.after_backup_ended(job)
            self._catalog.announce_again(job)
        if job.kind in (JobKind.RESTORE, JobKind.COPY):  # a copy holds its source as a restore does
            self._leases.end_restore(job.recovery_point_id, job.job_id)
        return summary(job)

    def _started_job_id(self, step: FailStep) -> str | None:
        """The job that this execution's failed start step had created, found by the event's idempotency token."""
        if step.event is None or step.execution_arn is None:
            return None
        detail = step.event.get("detail")
        token = (detail.get("IdempotencyToken") if isinstance(detail, dict) else None) or step.event.get("id")
        if not isinstance(token, str) or not token:
            return None
        try:
            job = self._catalog.get_job(job_id_for(token))
        except NotFound:
            return None
        # Rule: only the execution that created a job ends it here; a request refused because its token names
        # another execution's job (a duplicate, a conflict) must not touch that job.
        return job.job_id if job.execution_arn == step.execution_arn else None

    def _left_behind(self, job: Job) -> RecoveryPoint:
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
            retain_until=job.lifecycle.retain_until(created, self._settings.default_retention_days),
            plan_id=job.plan_id, rule_name=job.rule_name, job_id=job.job_id, native_ref=job.native_ref,
            tags=job.recovery_point_tags)
