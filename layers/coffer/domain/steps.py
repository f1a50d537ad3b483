"""The payloads the workflows pass between states: small, so state never grows with a bucket or a fleet."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: "continuous": turn continuous backup on first; "pitr": a point-in-time S3 restore (ListPitrBatches)
#: "native": poll the native backup (Wait, then CheckBackup); "native_events": a snapshot still running whose end
#: AWS announces, wait on that event (WaitForSnapshot); "native_done": the start's own look found it complete
Next = Literal["native", "native_events", "native_done", "objects", "queued", "done", "continuous", "pitr"]


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


class AwaitTurnStep(JobStep):
    """Backup workflow, WaitForTurn (lambda:invoke.waitForTaskToken): park a queued job until it is woken."""

    #: what the job waits for: its resource's lease, or a volume's snapshot slots (a volume ARN)
    waiting_for: str | None = None
    task_token: str = Field(min_length=1)


class LargeObjectStep(JobStep):
    """A part-range fan-out step's event (CopyLargeObject; RestoreBatch and CopyPart with `step`): which of its
    steps (then read as one of the two models below)."""

    step: Literal["find", "copy_range", "finish"]


class FindLargeCopiesStep(JobStep):
    """Backup, Restore, Copy workflows: has round `round` of the large objects' fan-out anything to copy?"""

    step: Literal["find"]
    round: int = Field(ge=0)


class LargeCopyStep(JobStep):
    """Backup, Restore, Copy workflows, one Distributed Map child: copy one range file's parts, or finish one
    deferred object."""

    step: Literal["copy_range", "finish"]
    key: str = Field(min_length=1)


class LargeCopiesResult(BaseModel):
    job_id: str
    round: int
    next_round: int
    any: bool
    ranges_prefix: str
    uploads_prefix: str


class LargeCopyResult(BaseModel):
    job_id: str
    key: str
    parts: int = 0
    failed: bool = False


class StepError(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Error: str = "States.Runtime"
    Cause: str | None = None


class Refusal(BaseModel):
    """A start step's answer to a request refused before anything was written (a rule it breaks, a token used for
    another request, a busy resource): the workflow's Choice routes it to a Fail state whose cause is this one
    line, so no stack trace reaches the execution's history (a raised error's would)."""

    next: Literal["refused"] = "refused"
    error: StepError


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
    #: queued backups: what the job waits for (its resource's lease, or a volume's snapshot slots)
    waiting_for: str | None = None
    token: str | None = None
    #: backups: the next batch file's number; restores: how many manifest parts there are
    next_seq: int = 0
    #: where the Distributed Map's ItemReader lists its items (batch files or manifest parts)
    items_prefix: str | None = None
    #: "native_events": the waiter record's partition key and TTL (as PollResult's; domain/native_waits.py)
    waiter_key: str | None = None
    waiter_ttl: str | None = None


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
    #: restore of archived data: objects still coming back from the archive tier; the workflow waits
    #: `poll_seconds` and runs the batch again (0: the batch is done)
    pending: int = 0
    poll_seconds: int = 0


class PollResult(BaseModel):
    job_id: str
    done: bool
    wait_seconds: int = 0
    #: how a native backup that is not done waits: "poll" (Wait, then check again) or "events" (parked on AWS's
    #: completion event with a task token, `wait_seconds` its safety net: domain/native_waits.py)
    wait: Literal["poll", "events"] = "poll"
    #: "events": the waiter record's partition key, and its DynamoDB TTL (epoch seconds, as a string for "N")
    waiter_key: str | None = None
    waiter_ttl: str | None = None


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
