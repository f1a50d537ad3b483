"""`coffer jobs list|describe|watch`: backup, copy and restore jobs of a deployed stack."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from coffer.domain.clock import SystemClock
from coffer.domain.jobs import Job, JobKind
from coffer.entrypoints.bootstrap import Root
from coffer_cli.commands.common import Stack, add_name_argument, add_stack_option, open_stack
from coffer_cli.commands.failures import CliError, ExitCode, UsageError
from coffer_cli.commands.job_filters import JobFilter, TimeRange, add_job_filters, list_jobs
from coffer_cli.commands.job_watch import NOT_FOUND_GRACE_SECONDS, Display, Follower, ProgressReader
from coffer_cli.commands.output import add_output_option, console, print_document, print_rows

JOB_HEADERS = ["job", "kind", "type", "state", "created", "resource", "message"]


def job_row(job: Job) -> tuple[object, ...]:
    return (job.job_id, job.kind.value, job.resource_type.value, job.state.value,
            job.created_at.isoformat(timespec="seconds"), job.resource_arn, job.status_message)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date (YYYY-MM-DD)") from None


def job_span(args: argparse.Namespace, default_days: int = 0) -> TimeRange:
    """The listing's time range, checked before any AWS call (job_filters.py: how the catalog is read)."""
    if getattr(args, "day", None):
        if args.by_created_after or args.by_created_before:
            raise UsageError("--day: give either --day or --by-created-after/--by-created-before")
        return TimeRange.of_day(args.day)
    return TimeRange.from_args(args, SystemClock().now(), default_days)


def listed_jobs(args: argparse.Namespace, stack: Stack, deps: Root, span: TimeRange,
                kinds: tuple[JobKind, ...] = ()) -> list[Job]:
    return list(list_jobs(deps.catalog, span, JobFilter.from_args(args, kinds), stack.account))


def _list(args: argparse.Namespace) -> int:
    span = job_span(args)
    stack, deps = open_stack(args)
    jobs = listed_jobs(args, stack, deps, span)
    print_rows(args, JOB_HEADERS, [job_row(j) for j in jobs], [j.model_dump(mode="json") for j in jobs])
    return ExitCode.OK


def _describe(args: argparse.Namespace) -> int:
    _, deps = open_stack(args)
    print_document(args, deps.catalog.get_job(args.job_id).model_dump(mode="json"))
    return ExitCode.OK


def _watch(args: argparse.Namespace) -> int:
    """Follow a job until it ends: a live display on a terminal, a line per change elsewhere."""
    _, deps = open_stack(args)
    display = Display(console(), args.job_id)
    with display.shown():
        outcome = Follower(ProgressReader(deps), display, args.poll, args.timeout).follow(
            args.job_id, not_found_grace=NOT_FOUND_GRACE_SECONDS)
    job = outcome.job
    if job is None or outcome.timed_out:
        state = job.state.value if job else "not found"
        raise CliError(f"job {args.job_id} is still {state} after {args.timeout:g} s", ExitCode.STILL_RUNNING)
    display.note(f"job {job.job_id} ended {job.state.value}: {job.status_message or ''}".rstrip(": "))
    return outcome.exit_code


def _stop(args: argparse.Namespace) -> int:
    """Stop a job that has not ended: its workflow stopped, the job ABORTED, what it held given back."""
    _, deps = open_stack(args)
    actor = str(deps.client_for("sts").get_caller_identity()["Arn"])
    ended = deps.job_control.stop(args.job_id, actor)
    print_document(args, ended.model_dump(mode="json"))
    return ExitCode.OK


def add_stop(parser: argparse.ArgumentParser, option: str | None = None) -> None:
    add_name_argument(parser, "job_id", option)
    add_output_option(parser, default="json")
    add_stack_option(parser)
    parser.set_defaults(run=_stop)


def add_list_arguments(parser: argparse.ArgumentParser, kinds: bool) -> None:
    add_job_filters(parser, kinds)
    add_output_option(parser)
    add_stack_option(parser)


def register(commands: Any) -> None:
    jobs = commands.add_parser("jobs", help="backup, copy and restore jobs of a deployed stack")
    sub = jobs.add_subparsers(dest="jobs_command", required=True)
    listing = sub.add_parser("list", help="jobs, newest first (default: created today, UTC)")
    listing.add_argument("--day", type=_day, help="YYYY-MM-DD: the jobs of one day (UTC)")
    add_list_arguments(listing, kinds=True)
    listing.set_defaults(run=_list)
    describe = sub.add_parser("describe", help="one job with its history of transitions")
    describe.add_argument("job_id")
    add_output_option(describe, default="json")
    add_stack_option(describe)
    describe.set_defaults(run=_describe)
    watch = sub.add_parser("watch", help="follow a job to its end: state, objects and bytes done, elapsed; exits "
                                         "with its end state's code (0 COMPLETED, 3 PARTIAL, 1 otherwise)")
    watch.add_argument("job_id")
    watch.add_argument("--poll", type=float, default=2.0, help="seconds between two looks (default 2)")
    watch.add_argument("--timeout", type=float, default=None, help="give up after this many seconds (exit 8)")
    add_stack_option(watch)
    watch.set_defaults(run=_watch)
    add_stop(sub.add_parser("stop", help="stop a backup, copy or restore that has not ended: ABORTED, its workflow "
                                         "stopped, what it held given back, what it wrote left to the sweep"))
