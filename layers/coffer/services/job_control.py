"""Stop a job (`coffer jobs stop`, AWS Backup's StopBackupJob): a running - or created, or queued - backup, copy or
restore ends ABORTED.

First its workflow's execution is stopped, so no later step carries on; then the job is ended exactly as the
workflow's Catch ends a job (services/job_failures.py): what it holds is given back (a backup's lease on its
resource and its snapshot slots, a copy's quota slot and its destination's access, a restore's or a copy's hold on
its recovery point), what a backup wrote so far is recorded as a DELETING recovery point for the sweep, and the
jobs queued behind it are woken.
"""

from __future__ import annotations

from coffer.domain.errors import InvalidInput
from coffer.domain.steps import FailStep, JobSummary, StepError
from coffer.ports.catalog import Catalog
from coffer.ports.workflows import Workflows
from coffer.services.job_failures import JobFailures

#: the error name the stopped execution and the job's history carry (jobs_common: it ends a job ABORTED)
STOPPED = "JobStopped"


class JobControl:
    def __init__(self, catalog: Catalog, workflows: Workflows, failures: JobFailures) -> None:
        self._catalog = catalog
        self._workflows = workflows
        self._failures = failures

    def stop(self, job_id: str, actor: str) -> JobSummary:
        """The job ABORTED; NotFound for no such job, InvalidInput for one that has ended already."""
        job = self._catalog.get_job(job_id)
        if job.state.terminal:
            raise InvalidInput([f"JobId: job {job_id} has ended already ({job.state.value}); only a job that has "
                                "not ended can be stopped"])
        cause = f"stopped by {actor}"
        if job.execution_arn:
            self._workflows.stop(job.execution_arn, STOPPED, cause)
        ended = self._failures.fail(FailStep(job_id=job_id, error=StepError(Error=STOPPED, Cause=cause)))
        assert ended is not None  # a job id was given: the job is ended (or had been, by a racing step)
        return ended
