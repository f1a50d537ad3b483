from datetime import UTC, datetime, timedelta

import pytest

from coffer.domain.errors import IllegalTransition
from coffer.domain.jobs import LEGAL_TRANSITIONS, Job, JobKind, JobState
from coffer.domain.resources import ResourceType

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def a_job(**changes: object) -> Job:
    job = Job(job_id="j", kind=JobKind.BACKUP, resource_arn="arn:aws:s3:::b", resource_type=ResourceType.S3,
              vault_name="Default", recovery_point_id="rp", created_at=T0, start_by=T0 + timedelta(hours=1))
    return job.with_changes(**changes)


def test_job_goes_from_created_through_running_to_completed_and_keeps_its_history() -> None:
    job = a_job().to(JobState.RUNNING, T0, "started").to(JobState.COMPLETED, T0 + timedelta(minutes=5), "done")
    assert job.state is JobState.COMPLETED
    assert [t.state for t in job.history] == [JobState.RUNNING, JobState.COMPLETED]
    assert job.history[-1].reason == "done"
    assert job.status_message == "done"


@pytest.mark.parametrize("terminal", [s for s in JobState if s.terminal])
def test_a_terminal_job_never_changes_state_again(terminal: JobState) -> None:
    job = a_job(state=terminal)
    for target in JobState:
        with pytest.raises(IllegalTransition):
            job.to(target, T0)


def test_only_a_job_that_never_ran_can_expire() -> None:
    assert JobState.EXPIRED in LEGAL_TRANSITIONS[JobState.CREATED]
    assert JobState.EXPIRED in LEGAL_TRANSITIONS[JobState.PENDING]
    with pytest.raises(IllegalTransition):
        a_job(state=JobState.RUNNING).to(JobState.EXPIRED, T0)


def test_a_job_cannot_complete_without_running() -> None:
    with pytest.raises(IllegalTransition):
        a_job().to(JobState.COMPLETED, T0)
    with pytest.raises(IllegalTransition):
        a_job().to(JobState.PARTIAL, T0)


def test_transition_returns_a_new_job_and_leaves_the_old_one_unchanged() -> None:
    job = a_job()
    job.to(JobState.RUNNING, T0)
    assert job.state is JobState.CREATED
