"""The payloads the PlanRun workflow passes between its states: small, whatever the number of resources."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from coffer.domain.plan_runs import RunCounts
from coffer.domain.steps import StepError


class _Step(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PlanRunInput(BaseModel):
    """What a rule's schedule sends (EventBridge Scheduler substitutes the scheduled time)."""

    model_config = ConfigDict(extra="forbid")

    plan_name: str = Field(min_length=1)
    rule_name: str = Field(min_length=1)
    scheduled_time: str | None = None


class StartPlanRunStep(_Step):
    input: PlanRunInput
    execution_arn: str | None = None


class StartPlanRunResult(BaseModel):
    run_id: str
    next: Literal["select", "done"]
    duplicate: bool = False
    token: str | None = None
    call: int = 0
    next_seq: int = 0
    items_prefix: str = ""


class SelectStep(_Step):
    run_id: str = Field(min_length=1)
    token: str | None = None
    call: int = Field(default=0, ge=0)
    next_seq: int = Field(default=0, ge=0)


class SelectResult(BaseModel):
    run_id: str
    token: str | None
    call: int
    next_seq: int
    more: bool
    items_prefix: str


class PageStep(_Step):
    run_id: str = Field(min_length=1)
    page_key: str = Field(min_length=1)


class BackupStart(BaseModel):
    """One nested Backup execution: its name (from the idempotency token) and its input (a StartBackupJob
    event, as EventBridge would deliver it)."""

    name: str
    input: dict[str, Any]


class ClaimResult(BaseModel):
    run_id: str
    seq: int
    backups: list[BackupStart]
    joined: int


class SettleStep(_Step):
    run_id: str = Field(min_length=1)
    seq: int = Field(ge=0)


class SettleResult(BaseModel):
    run_id: str
    seq: int
    pending: int
    wait_seconds: int
    counts: RunCounts


class CompletePlanRunStep(_Step):
    run_id: str | None = None
    error: StepError | None = None


class PlanRunSummary(BaseModel):
    run_id: str | None
    plan_name: str | None = None
    rule_name: str | None = None
    scheduled_time: str | None = None
    state: str
    counts: RunCounts = Field(default_factory=RunCounts)
    unsupported: list[dict[str, str]] = Field(default_factory=list)
    failures: list[dict[str, str]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
