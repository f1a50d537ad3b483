"""Following a job to its end: `coffer jobs watch` and `--wait` of the start verbs.

What one poll costs (every `--poll` seconds): a GetItem of the job; while an S3 job runs, a Query of its batch
records (one page per ~1 MB of records, ~300 bytes each: a 10,000-batch job reads 3 pages). A `--wait`
also looks for the workflow execution its PutEvents started, until it has found it: one ListExecutions page
(newest first, back to the put's time) and a DescribeExecution of each execution started since; then one
DescribeExecution per poll until the job is known to be this request's. A request the workflow refused makes
no job: its execution fails with `RequestRefused`, and the refusal (the start step's error) is read from the
execution's history, so `--wait` reports it at once instead of waiting for a job that will never exist.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn

from coffer.domain.errors import NotFound
from coffer.domain.jobs import Job, JobKind, JobState
from coffer.domain.resources import ResourceType
from coffer.entrypoints.bootstrap import Root
from coffer_cli.commands.failures import ExitCode

#: how long `jobs watch` waits for a job that is not in the catalog yet (its workflow may not have made it)
NOT_FOUND_GRACE_SECONDS = 30.0


def exit_code_of(state: JobState) -> ExitCode:
    if state is JobState.COMPLETED:
        return ExitCode.OK
    if state is JobState.PARTIAL:
        return ExitCode.PARTIAL
    return ExitCode.FAILED if state.terminal else ExitCode.STILL_RUNNING


@dataclass(frozen=True)
class Snapshot:
    """What one poll saw of a job. None: not known (Coffer does not record it, or not yet)."""

    job: Job
    elapsed: timedelta
    batches_done: int = 0
    batches_total: int | None = None
    objects_done: int | None = None
    objects_total: int | None = None
    bytes_done: int | None = None
    bytes_total: int | None = None

    def fraction(self) -> tuple[float | None, float]:
        """(total, completed) for the bar: bytes where both are known, else objects, else batches."""
        for done, total in ((self.bytes_done, self.bytes_total), (self.objects_done, self.objects_total),
                            (self.batches_done, self.batches_total)):
            if done is not None and total:
                return float(total), float(min(done, total))
        return None, 0.0

    def line(self) -> str:
        return " ".join((f"{self.job.state.value:<9}", f"objects {_of(self.objects_done, self.objects_total)}",
                         f"bytes {_of(self.bytes_done, self.bytes_total, decimal)}",
                         f"batches {_of(self.batches_done, self.batches_total)}", f"elapsed {_clock(self.elapsed)}"))


def _of(done: int | None, total: int | None, show: Callable[[int], str] = str) -> str:
    return f"{'?' if done is None else show(done)}/{'?' if total is None else show(total)}"


def _clock(elapsed: timedelta) -> str:
    seconds = max(0, int(elapsed.total_seconds()))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressReader:
    """A job's progress from the catalog (module docstring: what it costs)."""

    def __init__(self, deps: Root) -> None:
        self._d = deps
        self._totals: dict[str, tuple[int | None, int | None]] = {}

    def read(self, job_id: str) -> Snapshot:
        job = self._d.catalog.get_job(job_id)  # NotFound: not (yet) in the catalog
        end = job.history[-1].at if job.state.terminal and job.history else self._d.clock.now()
        snapshot = Snapshot(job=job, elapsed=end - job.created_at, batches_total=job.progress.batches_total)
        objects_total, bytes_total = self._source_totals(job)
        if job.state.terminal:
            objects = job.progress.objects
            size = None if job.kind is JobKind.RESTORE else job.progress.bytes
            batches = sum(1 for _ in self._d.catalog.list_parts(job.job_id)) \
                if job.resource_type is ResourceType.S3 else 0  # once, as the job ends
            return _replace(snapshot, objects_done=objects, bytes_done=size, batches_done=batches,
                            objects_total=objects_total if objects_total is not None else objects,
                            bytes_total=bytes_total if bytes_total is not None else size)
        if job.state is not JobState.RUNNING or job.resource_type is not ResourceType.S3:
            return _replace(snapshot, objects_total=objects_total, bytes_total=bytes_total)
        records = list(self._d.catalog.list_parts(job.job_id))
        objects = sum(_objects_of(r) for r in records)
        size = None if job.kind is JobKind.RESTORE else sum(_bytes_of(r) for r in records)
        return _replace(snapshot, batches_done=len(records), objects_done=objects, bytes_done=size,
                        objects_total=objects_total, bytes_total=bytes_total)

    def _source_totals(self, job: Job) -> tuple[int | None, int | None]:
        """A copy or restore knows its totals from the recovery point it reads (read once per watch); a
        backup learns them only as it ends."""
        if job.kind is JobKind.BACKUP:
            return None, None
        if job.job_id not in self._totals:
            point = self._d.catalog.get_recovery_point(job.recovery_point_id)
            objects = (self._d.restore_jobs.load_manifest(point.recovery_point_id).objects
                       if point.resource_type is ResourceType.S3 and point.manifest_key else None)
            self._totals[job.job_id] = (objects, point.backup_size_bytes)
        return self._totals[job.job_id]


def _replace(snapshot: Snapshot, **changes: Any) -> Snapshot:
    from dataclasses import replace

    return replace(snapshot, **changes)


def _objects_of(record: dict[str, Any]) -> int:
    if "part" in record:
        return int(record["part"].get("objects", 0))
    return int(record.get("restored", record.get("copied", 0)))


def _bytes_of(record: dict[str, Any]) -> int:
    if "part" in record:
        return int(record["part"].get("bytes", 0))
    return int(record.get("file", {}).get("size", record.get("bytes_copied", 0)))


class Display:
    """A live rich progress bar on a terminal; elsewhere (CI, a pipe, a file) one plain line per change."""

    def __init__(self, console: Console, job_id: str) -> None:
        self._console = console
        self._job_id = job_id
        self._last = ""
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    @contextmanager
    def shown(self) -> Iterator[Display]:
        if not self._console.is_terminal:
            yield self
            return
        self._progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.fields[state]}"), BarColumn(),
            TextColumn("objects {task.fields[objects]}"), TextColumn("bytes {task.fields[bytes]}"),
            TextColumn("batches {task.fields[batches]}"), TextColumn("{task.fields[elapsed]}"),
            console=self._console, transient=False)
        self._task = self._progress.add_task(self._job_id, total=None, state="waiting", objects="?/?",
                                             bytes="?/?", batches="?/?", elapsed="0:00:00")
        with self._progress:
            yield self

    def show(self, snapshot: Snapshot) -> None:
        if self._progress is not None and self._task is not None:
            total, completed = snapshot.fraction()
            self._progress.update(
                self._task, total=total, completed=completed, state=snapshot.job.state.value,
                objects=_of(snapshot.objects_done, snapshot.objects_total),
                bytes=_of(snapshot.bytes_done, snapshot.bytes_total, decimal),
                batches=_of(snapshot.batches_done, snapshot.batches_total), elapsed=_clock(snapshot.elapsed))
            return
        line = snapshot.line()
        if line.split(" elapsed ")[0] != self._last.split(" elapsed ")[0]:  # a change, not just time passing
            self._console.print(f"job {self._job_id} {line}", highlight=False, soft_wrap=True)
        self._last = line

    def note(self, text: str) -> None:
        self._console.print(text, highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class Refusal:
    """A request the workflow refused before making a job: the start step's error."""

    error: str
    message: str
    execution_arn: str


class RequestExecution:
    """The workflow execution EventBridge started for one PutEvents (its input is the event: `id` matches)."""

    #: executions started this long before the put are not looked at (clock skew between here and AWS)
    SKEW = timedelta(minutes=5)

    def __init__(self, sfn: Any, state_machine_arn: str, event_id: str, put_at: datetime) -> None:
        self._sfn = sfn
        self._machine = state_machine_arn
        self._event_id = event_id
        self._since = put_at - self.SKEW
        self._seen: set[str] = set()
        self.arn: str | None = None

    def find(self) -> str | None:
        if self.arn is not None:
            return self.arn
        for page in self._sfn.get_paginator("list_executions").paginate(stateMachineArn=self._machine):
            for execution in page["executions"]:  # newest first
                if execution["startDate"] < self._since:
                    return None
                arn = str(execution["executionArn"])
                if arn in self._seen:
                    continue
                self._seen.add(arn)
                described = self._sfn.describe_execution(executionArn=arn)
                if _event_id_of(described.get("input")) == self._event_id:
                    self.arn = arn
                    return arn
        return None

    def describe(self) -> dict[str, Any] | None:
        if self.find() is None:
            return None
        described: dict[str, Any] = self._sfn.describe_execution(executionArn=self.arn)
        return described

    def refusal(self, described: dict[str, Any] | None) -> Refusal | None:
        if not described or described.get("status") != "FAILED" or described.get("error") != "RequestRefused":
            return None
        history = self._sfn.get_execution_history(executionArn=self.arn, reverseOrder=True, maxResults=100)
        for event in history["events"]:
            details = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails")
            if details and details.get("error") != "RequestRefused":
                error, message = _lambda_error(details)
                return Refusal(error, message, str(self.arn))
        # a start step's refusal ends in the workflow's Refused state, whose cause is "<Error>: <message>"
        cause = str(described.get("cause") or "")
        kind, colon, message = cause.partition(": ")
        if colon and kind.isidentifier():
            return Refusal(kind, message, str(self.arn))
        return Refusal("RequestRefused", cause, str(self.arn))


def _event_id_of(raw: str | None) -> str | None:
    try:
        value = json.loads(raw or "null")
    except ValueError:
        return None
    found = value.get("id") if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


def _lambda_error(details: dict[str, Any]) -> tuple[str, str]:
    """(errorType, errorMessage) of a failed Lambda task; its cause is the runtime's error payload (JSON)."""
    cause = str(details.get("cause") or "")
    try:
        payload = json.loads(cause)
    except ValueError:
        return str(details.get("error")), cause
    if not isinstance(payload, dict):
        return str(details.get("error")), cause
    return str(payload.get("errorType") or details.get("error")), str(payload.get("errorMessage") or cause)


@dataclass
class Outcome:
    job: Job | None = None
    refusal: Refusal | None = None
    timed_out: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        if self.refusal is not None:
            return ExitCode.FAILED
        if self.timed_out or self.job is None:
            return ExitCode.STILL_RUNNING
        return exit_code_of(self.job.state)


@dataclass
class Follower:
    """Polls a job (and, for --wait, its request's execution) until it ends, the request is refused, or time
    runs out. `monotonic` and `sleep` are injected: tests drive the loop without waiting."""

    reader: ProgressReader
    display: Display
    poll_seconds: float
    timeout_seconds: float | None
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def follow(self, job_id: str, request: RequestExecution | None = None,
               not_found_grace: float | None = None) -> Outcome:
        start = self.monotonic()
        outcome = Outcome()
        while True:
            described: dict[str, Any] | None = None
            if request is not None:
                described = request.describe()
                refusal = request.refusal(described)
                if refusal is not None:
                    return Outcome(refusal=refusal)
            try:
                snapshot: Snapshot | None = self.reader.read(job_id)
            except NotFound:
                snapshot = None
                if not_found_grace is not None and self.monotonic() - start > not_found_grace:
                    raise
            if snapshot is not None and request is not None and _answers(snapshot.job, request, described):
                if snapshot.job.execution_arn != request.arn:
                    outcome.notes.append(f"this request repeats an earlier one (same idempotency token): "
                                         f"job {job_id} was made by {snapshot.job.execution_arn}")
                request = None  # the job is this request's: from now on only the job is polled
            if snapshot is not None and request is None:
                self.display.show(snapshot)
                if snapshot.job.state.terminal:
                    outcome.job = snapshot.job
                    return outcome
            if self.timeout_seconds is not None and self.monotonic() - start >= self.timeout_seconds:
                outcome.job = snapshot.job if snapshot is not None else None
                outcome.timed_out = True
                return outcome
            self.sleep(self.poll_seconds)


def _answers(job: Job, request: RequestExecution, described: dict[str, Any] | None) -> bool:
    """Is `job` the answer to the request? Its own job, or (its execution ended without refusing) the job an
    earlier request with the same token made. A job of a token reused with other parameters is not: that
    request is refused, and the refusal is what --wait reports."""
    if request.arn is not None and job.execution_arn == request.arn:
        return True
    return described is not None and described.get("status") not in (None, "RUNNING")
