"""Jobs and their state machine: CREATED → PENDING → RUNNING → COMPLETED | FAILED | ABORTED | EXPIRED | PARTIAL."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from coffer.domain.copies import CopyAction, CopyDestination
from coffer.domain.errors import IllegalTransition, InvalidInput
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.resources import ResourceType


class JobKind(StrEnum):
    BACKUP = "BACKUP"
    COPY = "COPY"
    RESTORE = "RESTORE"


class JobState(StrEnum):
    CREATED = "CREATED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"
    EXPIRED = "EXPIRED"
    PARTIAL = "PARTIAL"

    @property
    def terminal(self) -> bool:
        return self not in (JobState.CREATED, JobState.PENDING, JobState.RUNNING)


_ENDINGS = {JobState.FAILED, JobState.ABORTED}
LEGAL_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    # A job that never started can expire (start window) or be refused; one that ran can end any way
    # but EXPIRED, which only describes a job that never started.
    JobState.CREATED: frozenset({JobState.PENDING, JobState.RUNNING, JobState.EXPIRED, *_ENDINGS}),
    # A queued job becomes CREATED again when its resource is free, then starts like any other.
    JobState.PENDING: frozenset({JobState.CREATED, JobState.RUNNING, JobState.EXPIRED, *_ENDINGS}),
    JobState.RUNNING: frozenset({JobState.COMPLETED, JobState.PARTIAL, *_ENDINGS}),
}


class Transition(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: JobState
    at: datetime
    reason: str | None = None


class JobProgress(BaseModel):
    """What a job moved. For S3: objects copied vs. reused from earlier recovery points."""

    model_config = ConfigDict(frozen=True)

    batches_total: int | None = None
    objects: int = 0
    objects_copied: int = 0
    objects_reused: int = 0
    bytes: int = 0
    bytes_copied: int = 0
    failed_keys: list[str] = Field(default_factory=list)
    #: S3: where the backup's object list came from - "ListObjectsV2" or "S3 Inventory" - and why (or which one)
    listing_source: str | None = None
    listing_note: str | None = None
    #: S3: whether the bucket's tag events reach EventBridge (domain/tag_freshness.py: tags read only where they
    #: changed); None until the listing's first step looked. What the job wants its reader to know (e.g. why every
    #: object's tags were read) is in `warnings`.
    tag_events: bool | None = None
    warnings: list[str] = Field(default_factory=list)


class Job(BaseModel):
    """A backup, copy or restore job. Immutable: every change makes a new version (optimistic locking)."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    kind: JobKind
    state: JobState = JobState.CREATED
    resource_arn: str
    resource_type: ResourceType
    vault_name: str
    recovery_point_id: str
    created_at: datetime
    start_by: datetime
    complete_by: datetime | None = None
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    recovery_point_tags: dict[str, str] = Field(default_factory=dict)
    #: StartBackupJob's BackupOptions (checked against the adapter's declared options before the job exists)
    backup_options: dict[str, str] = Field(default_factory=dict)
    #: backup jobs: turn on continuous backup (point-in-time recovery, services/continuous.py) for the resource
    continuous: bool = False
    plan_id: str | None = None
    rule_name: str | None = None
    idempotency_token: str | None = None
    execution_arn: str | None = None
    restore_target: dict[str, str] = Field(default_factory=dict)
    #: copy jobs: where the copy goes (the job's recovery_point_id is the source it copies)
    destination: CopyDestination | None = None
    #: backup jobs: the rule's copy actions, started by the Backup workflow once the backup COMPLETED
    copy_actions: tuple[CopyAction, ...] = ()
    native_ref: str | None = None
    #: backup jobs: the counting semaphores it holds while it runs (EBS snapshots in progress per volume,
    #: domain/snapshot_quota.py), given back in the write that ends it
    quota_keys: tuple[str, ...] = ()
    #: backup jobs while PENDING: what the job waits for - its resource's lease, or a volume's snapshot slots
    waiting_for: str | None = None
    source: dict[str, Any] = Field(default_factory=dict)
    progress: JobProgress = Field(default_factory=JobProgress)
    status_message: str | None = None
    history: tuple[Transition, ...] = ()
    #: how many of `history`'s transitions were announced as job events (domain/job_events.py): the catalog
    #: announces the rest with the write that stores them
    announced: int = 0
    version: int = 0

    def to(self, state: JobState, at: datetime, reason: str | None = None) -> Job:
        """The job in its next state, or IllegalTransition: a terminal job never changes again."""
        if state not in LEGAL_TRANSITIONS.get(self.state, frozenset()):
            raise IllegalTransition(f"job {self.job_id}: {self.state} → {state} is not allowed")
        return self.model_copy(
            update={
                "state": state,
                "status_message": reason if reason is not None else self.status_message,
                "history": (*self.history, Transition(state=state, at=at, reason=reason)),
            }
        )

    def with_changes(self, **changes: object) -> Job:
        return self.model_copy(update=changes)


def queued_since(job: Job) -> datetime | None:
    """When the job was first queued (its place in a queue of turns), or None if it never was."""
    return next((t.at for t in job.history if t.state is JobState.PENDING), None)


def copy_target(job: Job) -> CopyDestination:
    """Where a copy job writes; InvalidInput for a job of another kind (a step handed another job's id)."""
    if job.kind is not JobKind.COPY or job.destination is None:
        raise InvalidInput([f"job_id: job {job.job_id} is a {job.kind} job, not a copy job"])
    return job.destination
