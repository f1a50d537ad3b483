"""The payloads the workflows pass between states: small, so state never grows with a bucket or a fleet."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: "continuous": turn continuous backup on first; "pitr": a point-in-time S3 restore (ListPitrBatches)
Next = Literal["native", "objects", "queued", "done", "continuous", "pitr"]


class _Step(BaseModel):
    # Step Functions adds fields (error, map results) to the state; a step reads only what it needs.
    model_config = ConfigDict(extra="ignore")


class JobStep(_Step):
    job_id: str = Field(min_length=1)


class ListBatchesStep(JobStep):
    token: str | None = None
    next_seq: int = Field(default=0, ge=0)


class BatchStep(JobStep):
    batch_key: str = Field(min_length=1)


class StepError(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Error: str = "States.Runtime"
    Cause: str | None = None


class FailStep(_Step):
    job_id: str | None = None
    error: StepError = Field(default_factory=StepError)
    #: when the start step itself failed (no job id yet): the execution's input and the execution, so the
    #: job this execution may already have created is found by its idempotency token and ended
    event: dict[str, Any] | None = None
    execution_arn: str | None = None


class StartResult(BaseModel):
    job_id: str
    duplicate: bool = False
    next: Next
    wait_seconds: int = 0
    token: str | None = None
    #: backups: the next batch file's number; restores: how many manifest parts there are
    next_seq: int = 0
    #: where the Distributed Map's ItemReader lists its items (batch files or manifest parts)
    items_prefix: str | None = None


class ListBatchesResult(BaseModel):
    job_id: str
    token: str | None
    next_seq: int
    more: bool
    items_prefix: str


class BatchResult(BaseModel):
    job_id: str
    seq: int
    objects: int
    copied: int = 0
    reused: int = 0
    failed: int = 0


class PollResult(BaseModel):
    job_id: str
    done: bool
    wait_seconds: int = 0


class JobSummary(BaseModel):
    job_id: str
    kind: str
    state: str
    resource_arn: str
    recovery_point_id: str
    status_message: str | None = None
    objects: int = 0
    objects_copied: int = 0
    objects_reused: int = 0
    failed_keys: list[str] = Field(default_factory=list)
    #: a COMPLETED backup's copy actions as Copy workflow executions to start: {"name", "input"}
    copies: list[dict[str, Any]] = Field(default_factory=list)
