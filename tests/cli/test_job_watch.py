"""The loop behind `jobs watch` and `--wait`, driven with a scripted catalog and an injected clock: how it ends
(and with which exit code), and what it shows on a terminal and off one. The real thing, over HTTP against the
twin's workflows, is in test_cli_over_http.py."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console

from coffer.domain.errors import NotFound
from coffer.domain.jobs import Job, JobKind, JobState
from coffer.domain.resources import ResourceType
from coffer_cli.commands.failures import ExitCode
from coffer_cli.commands.job_watch import Display, Follower, Outcome, RequestExecution, Snapshot

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def job(state: JobState, execution: str = "arn:exec:mine") -> Job:
    return Job(job_id="j-1", kind=JobKind.BACKUP, state=state, resource_arn="arn:aws:s3:::b",
               resource_type=ResourceType.S3, vault_name="Default", recovery_point_id="rp-1", created_at=T0,
               start_by=T0 + timedelta(hours=1), execution_arn=execution)


class ScriptedReader:
    """What successive polls see: a Snapshot, or None for 'not in the catalog yet'."""

    def __init__(self, *seen: Snapshot | None) -> None:
        self._seen: Iterator[Snapshot | None] = iter(seen)
        self._last: Snapshot | None = None

    def read(self, job_id: str) -> Snapshot:
        self._last = next(self._seen, self._last)
        if self._last is None:
            raise NotFound(f"job {job_id} not found")
        return self._last


class Ticking:
    """monotonic() and sleep() of a clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def snapshot(state: JobState, objects: int | None = None, total: int | None = None, **more: Any) -> Snapshot:
    return Snapshot(job=job(state, **more), elapsed=timedelta(seconds=12), objects_done=objects,
                    objects_total=total, bytes_done=objects and objects * 1000, bytes_total=total and total * 1000)


def follow(reader: ScriptedReader, out: io.StringIO, timeout: float | None = None, terminal: bool = False,
           request: Any = None, grace: float | None = None) -> Outcome:
    clock = Ticking()
    display = Display(Console(file=out, force_terminal=terminal, width=120), "j-1")
    with display.shown():
        return Follower(reader, display, 1.0, timeout, clock.monotonic, clock.sleep).follow(  # type: ignore[arg-type]
            "j-1", request, not_found_grace=grace)


@pytest.mark.parametrize(("end", "code"), [(JobState.COMPLETED, ExitCode.OK), (JobState.PARTIAL, ExitCode.PARTIAL),
                                           (JobState.FAILED, ExitCode.FAILED), (JobState.ABORTED, ExitCode.FAILED),
                                           (JobState.EXPIRED, ExitCode.FAILED)])
def test_the_watch_ends_with_the_exit_code_of_the_jobs_end_state(end: JobState, code: ExitCode) -> None:
    outcome = follow(ScriptedReader(snapshot(JobState.RUNNING, 3, None), snapshot(end, 15, 15)), io.StringIO())
    assert outcome.job is not None and outcome.job.state is end and outcome.exit_code == code


def test_off_a_terminal_the_watch_prints_one_plain_line_per_change_not_per_poll() -> None:
    out = io.StringIO()
    running = snapshot(JobState.RUNNING, 3, None)
    follow(ScriptedReader(None, running, running, running, snapshot(JobState.COMPLETED, 15, 15)), out)
    lines = out.getvalue().splitlines()
    assert lines == ["job j-1 RUNNING   objects 3/? bytes 3.0 kB/? batches 0/? elapsed 0:00:12",
                     "job j-1 COMPLETED objects 15/15 bytes 15.0 kB/15.0 kB batches 0/? elapsed 0:00:12"]


def test_on_a_terminal_the_watch_is_a_live_rich_progress_bar() -> None:
    out = io.StringIO()
    follow(ScriptedReader(snapshot(JobState.RUNNING, 3, 15), snapshot(JobState.COMPLETED, 15, 15)), out,
           terminal=True)
    shown = out.getvalue()
    assert "\x1b[" in shown and "━" in shown  # terminal codes and rich's bar
    assert "COMPLETED" in shown and "objects 15/15" in shown and "0:00:12" in shown


def test_a_job_that_does_not_end_in_time_is_still_running_with_exit_8() -> None:
    outcome = follow(ScriptedReader(snapshot(JobState.RUNNING, 3, None)), io.StringIO(), timeout=5)
    assert outcome.timed_out and outcome.exit_code == ExitCode.STILL_RUNNING
    assert outcome.job is not None and outcome.job.state is JobState.RUNNING


def test_a_job_never_made_is_not_found_after_the_grace_period() -> None:
    with pytest.raises(NotFound):
        follow(ScriptedReader(None), io.StringIO(), grace=3)


class ScriptedRequest(RequestExecution):
    """The request's execution as successive looks find it: (arn or None, DescribeExecution's answer)."""

    def __init__(self, *looks: tuple[str | None, dict[str, Any] | None], refusal_line: str = "") -> None:
        self._looks = iter(looks)
        self.arn = None
        self._refusal_line = refusal_line

    def describe(self) -> dict[str, Any] | None:
        self.arn, described = next(self._looks)
        return described

    def refusal(self, described: dict[str, Any] | None) -> Any:
        if described and described.get("error") == "RequestRefused":
            from coffer_cli.commands.job_watch import Refusal

            return Refusal("IdempotencyConflict", self._refusal_line, str(self.arn))
        return None


def test_a_refused_request_ends_the_wait_at_once_even_when_its_token_names_an_older_job() -> None:
    # The token was used before for another request: its job exists (COMPLETED, made by another execution),
    # but this request was refused, and that is what --wait reports.
    older = snapshot(JobState.COMPLETED, 15, 15, execution="arn:exec:older")
    request = ScriptedRequest((None, None), ("arn:exec:mine", {"status": "RUNNING"}),
                              ("arn:exec:mine", {"status": "FAILED", "error": "RequestRefused"}),
                              refusal_line="used for a different request")
    outcome = follow(ScriptedReader(older), io.StringIO(), request=request)
    assert outcome.refusal is not None and outcome.job is None and outcome.exit_code == ExitCode.FAILED


def test_a_repeated_request_waits_for_the_job_its_token_made_before() -> None:
    older = snapshot(JobState.COMPLETED, 15, 15, execution="arn:exec:older")
    request = ScriptedRequest(("arn:exec:mine", {"status": "RUNNING"}), ("arn:exec:mine", {"status": "SUCCEEDED"}))
    outcome = follow(ScriptedReader(older), io.StringIO(), request=request)
    assert outcome.job is not None and outcome.exit_code == ExitCode.OK
    assert outcome.notes == ["this request repeats an earlier one (same idempotency token): job j-1 was made by "
                             "arn:exec:older"]
