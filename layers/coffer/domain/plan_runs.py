"""Plan runs: one firing of one rule over its plan's selections, and how overlapping rules share a backup.

Overlap (AWS Backup's rule): when rules of several plans (or of one plan) select the same resource in the
same backup window, one backup is taken and kept under the longest retention. Coffer's reading of "the same
window": runs whose scheduled times fall in the same UTC hour (:func:`window_slot`). Rules fire at most
hourly, so one rule never has two runs in a slot, and with start windows of at least 60 minutes two runs in
a slot have overlapping start windows.

Who takes the backup is decided by the catalog, not by luck: the first run to claim (resource, slot) with a
conditional write takes it; a later run in the slot only lengthens that recovery point's lifecycle when its
own rule keeps backups longer (:func:`longer_lifecycle`), once the backup has ended.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from coffer.domain.lifecycle import Lifecycle

_IDS = uuid.UUID("6c6f6666-6572-4a6f-6273-000000000005")

#: the run's work files in the work bucket
def pages_prefix(run_id: str) -> str:
    return f"plan-runs/{run_id}/pages/"


def page_key(run_id: str, seq: int) -> str:
    return f"{pages_prefix(run_id)}{seq:08d}.json"


def seq_of(key: str) -> int:
    return int(key.rsplit("/", 1)[-1].split(".", 1)[0])


def run_id_for(plan_name: str, rule_name: str, scheduled_time: datetime) -> str:
    """One run per rule and scheduled time: a schedule delivered twice names the same run."""
    return str(uuid.uuid5(_IDS, f"run:{plan_name}/{rule_name}@{_iso(scheduled_time)}"))


def backup_token(plan_name: str, rule_name: str, scheduled_time: datetime, resource_arn: str) -> str:
    """The IdempotencyToken of the backup a run asks for (at most 256 characters, whatever the ARN)."""
    digest = hashlib.sha256(f"{plan_name}/{rule_name}@{_iso(scheduled_time)}#{resource_arn}".encode()).hexdigest()
    return f"plan-{digest[:48]}"


def execution_name(token: str) -> str:
    """Name of the nested Backup execution: StartExecution with a name already used returns that execution,
    so a retried start never runs a second backup."""
    return token[:80]


def window_slot(scheduled_time: datetime) -> str:
    return scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_scheduled_time(text: str | None, fallback: datetime) -> datetime:
    """EventBridge Scheduler's <aws.scheduled-time> (ISO 8601, UTC); a manual run without one uses `fallback`
    (to the minute)."""
    if not text or text.startswith("<"):
        return fallback.astimezone(UTC).replace(second=0, microsecond=0)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def retention_days(lifecycle: Lifecycle) -> float:
    """How long a lifecycle keeps a backup: DeleteAfterDays, or forever."""
    return float("inf") if lifecycle.delete_after_days is None else float(lifecycle.delete_after_days)


def longer_lifecycle(current: Lifecycle, candidate: Lifecycle) -> Lifecycle:
    """The lifecycle that keeps the backup longer; on a tie the current one stays (no needless rewrite)."""
    return candidate if retention_days(candidate) > retention_days(current) else current


# ---- records ---------------------------------------------------------------------------------------
class RunState(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class RuleSnapshot(BaseModel):
    """What a run needs of its rule, fixed when the run starts (a plan applied meanwhile does not change it)."""

    model_config = ConfigDict(frozen=True)

    plan_name: str
    plan_id: str
    rule_name: str
    vault_name: str
    start_window_minutes: int
    completion_window_minutes: int
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    recovery_point_tags: dict[str, str] = Field(default_factory=dict)
    #: the rule's copy actions as AWS Backup writes them (DestinationBackupVaultArn, Lifecycle): each backup's
    #: StartBackupJob event carries them, and the Backup workflow starts one copy per action once it COMPLETED
    copy_actions: list[dict[str, Any]] = Field(default_factory=list)
    #: the rule's EnableContinuousBackup: each backup of a type with point-in-time recovery (S3, DynamoDB, RDS)
    #: asks for a continuous backup; other types get a snapshot backup, as AWS Backup does
    enable_continuous_backup: bool = False
    #: the rule's schedule's longest gap between two fires (domain/alerts.py frequency_of); with the windows, how old
    #: a resource's newest COMPLETED recovery point may be before its schedule counts as missed (None: not checked)
    frequency_minutes: int | None = None


class RunCounts(BaseModel):
    """A run's outcome. Every selected resource ends in exactly one of started / skipped / failed, and every
    started one in completed / partial / failed (or is still pending when the run gave up waiting)."""

    model_config = ConfigDict(frozen=True)

    seen: int = 0
    selected: int = 0
    unsupported: int = 0
    excluded: int = 0
    started: int = 0
    completed: int = 0
    partial: int = 0
    failed: int = 0
    skipped: int = 0
    lengthened: int = 0
    pending: int = 0

    def __add__(self, other: RunCounts) -> RunCounts:
        return RunCounts(**{name: getattr(self, name) + getattr(other, name) for name in RunCounts.model_fields})


class PlanRun(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    plan_name: str
    rule_name: str
    scheduled_time: datetime
    started_at: datetime
    state: RunState = RunState.RUNNING
    execution_arn: str | None = None
    rule: RuleSnapshot | None = None
    selections: list[dict[str, Any]] = Field(default_factory=list)
    counts: RunCounts = Field(default_factory=RunCounts)
    unsupported: list[dict[str, str]] = Field(default_factory=list)
    excluded: list[str] = Field(default_factory=list)
    failures: list[dict[str, str]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    ended_at: datetime | None = None
    version: int = 0

    @property
    def slot(self) -> str:
        return window_slot(self.scheduled_time)

    @property
    def start_deadline(self) -> datetime:
        minutes = self.rule.start_window_minutes if self.rule else 60
        return self.scheduled_time + timedelta(minutes=minutes)


#: started: this run takes the backup; joined: another run of the slot took it; unclaimed: never reached
Role = Literal["started", "joined", "unclaimed"]


class PageEntry(BaseModel):
    """One selected resource of a page, after its claim: this run takes its backup, or joins another run's."""

    model_config = ConfigDict(frozen=True)

    arn: str
    resource_type: str
    role: Role
    job_id: str
    outcome: str | None = None
    reason: str | None = None


class WindowClaim(BaseModel):
    """Who takes the backup of one resource in one window slot."""

    model_config = ConfigDict(frozen=True)

    resource_arn: str
    slot: str
    job_id: str
    run_id: str
    plan_name: str
    rule_name: str
    start_deadline: datetime
