"""`coffer local ...`: run on the embedded twin (moto), no AWS account and no Docker needed."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coffer.domain.errors import InvalidInput
from coffer_cli.commands.common import project_root
from coffer_cli.commands.failures import ExitCode, UsageError


def _demo(args: argparse.Namespace) -> int:
    from coffer_cli.local.demo import run_demo

    return run_demo(project_root(args.project))


def _read_json(source: str, option: str) -> tuple[Any, Path | None]:
    """The JSON document of a file, or of stdin for `-`; (document, its path or None)."""
    path = None if source == "-" else Path(source)
    try:
        text = sys.stdin.read() if path is None else path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"{option}: cannot read {source}: {error.strerror or error}") from None
    try:
        return json.loads(text), path
    except ValueError as error:
        raise UsageError(f"{option}: {'stdin' if path is None else source} is not JSON ({error})") from None


def _invoke(args: argparse.Namespace) -> int:
    """Like `sam local invoke`: notes and the function's log lines on stderr, then its response on stdout."""
    from coffer_cli.commands.function_logs import StdoutCapture
    from coffer_cli.local.sample_events import EnvVars, plan_invocation, run_invocation
    from coffer_twin.twin import TwinInvokeError

    root = project_root(args.project)
    body, event_file = _read_json(args.event, "--event") if args.event else ({}, None)
    source = "stdin" if args.event == "-" else (event_file.name if event_file else "the empty event {}")
    try:  # what is wrong with the command line is said before a twin is deployed
        env_vars = EnvVars.parse(_read_json(args.env_vars, "--env-vars")[0]) if args.env_vars else None
        invocation = plan_invocation(root, args.function, body, event_file, source)
    except InvalidInput as error:
        raise UsageError("; ".join(error.problems)) from None

    def note(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    for line in invocation.notes:
        note(line)
    capture = StdoutCapture()
    failure: TwinInvokeError | None = None
    result: Any = None
    with capture:
        try:
            result = run_invocation(root, invocation, env_vars, around_target=capture.segment, notes=note)
        except TwinInvokeError as failed:
            failure = failed
    for logged in capture.segments:
        sys.stderr.write(logged if logged.endswith("\n") or not logged else logged + "\n")
    sys.stderr.flush()
    if failure is not None:
        print(json.dumps({"errorType": failure.error_type, "errorMessage": failure.error_message}, indent=2))
        return ExitCode.FAILED
    print(json.dumps(result, indent=2, default=str))
    return ExitCode.OK


def _when(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option}: '{value}' is not an ISO 8601 time (e.g. 2026-12-01T00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _tick(args: argparse.Namespace) -> int:
    from coffer_cli.local.ticks import run_local_tick

    start = _when(args.start, "--from") if args.start else datetime.now(UTC).replace(second=0, microsecond=0)
    until = _when(args.until, "--until")
    if until <= start:
        raise UsageError("--until must be after --from")
    return run_local_tick(project_root(args.project), args.plan, start, until)


DEMO_DESCRIPTION = """\
Deploy template.yaml on the embedded twin, then, each step checked:
  - back up a sample S3 bucket (nested keys, an object over 8 MiB, metadata, tags) and a DynamoDB table
    through the Backup workflow, started by StartBackupJob events; deliver one event twice (one job);
  - restore both into new resources and compare them with the originals;
  - back the bucket up again after changing one object (only that object is copied);
  - show S3 Object Lock refusing to delete a locked vault object;
  - back up an encrypted EBS volume, an EC2 instance and an encrypted RDS instance (native snapshots, each
    tagged with its recovery point id), restore each into a new resource and compare it with its manifest;
  - show cold storage refused for an RDS recovery point.
Exits 1 at the first claim that does not hold."""

VERBOSE_HELP = "also print the emulator's own log lines (moto's warnings and its interpreter's errors)"


def _emulator_logs(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """`run` with the emulator's log lines kept off the terminal unless --verbose."""

    def quiet_unless_verbose(args: argparse.Namespace) -> int:
        from coffer_twin.quiet import emulator_logs

        with emulator_logs(verbose=args.verbose):
            return run(args)

    return quiet_unless_verbose


def register(commands: Any) -> None:
    local = commands.add_parser(
        "local", help="run Coffer on the embedded twin (moto): no AWS account, no Docker",
        description="Every `coffer local` command deploys template.yaml into an in-process moto (the embedded "
                    "twin) and runs the real workflows and handlers on it: no AWS account, no Docker.")
    sub = local.add_subparsers(dest="local_command", required=True)
    demo = sub.add_parser("demo", help="back up and restore S3, DynamoDB, EBS, EC2 and RDS on the twin, each "
                                       "step checked", description=DEMO_DESCRIPTION,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--project", help="project root holding template.yaml (default: .)")
    demo.set_defaults(run=_demo)
    invoke = sub.add_parser(
        "invoke", help="the twin of `sam local invoke`: the function's logs on stderr, its response on stdout",
        description="Invoke one function of template.yaml on a fresh twin. A sample of events/ listed in "
                    "events/index.yaml first replays the events it depends on (each listed on stderr); any "
                    "other event (a file anywhere, or - for stdin) runs alone. FUNCTION `bus` puts the event "
                    "({\"Source\", \"DetailType\", \"Detail\"}) on EventBridge and waits for the workflows it "
                    "starts.")
    invoke.add_argument("function", nargs="?", metavar="FUNCTION",
                        help="the function's logical id in template.yaml, e.g. StartBackupJobFunction, or bus "
                             "(default: the function events/index.yaml names for a sample)")
    invoke.add_argument("-e", "--event", help="event file (JSON), or - for stdin (default: {})")
    invoke.add_argument("-n", "--env-vars", metavar="FILE",
                        help="SAM's env-vars JSON: {\"FunctionLogicalId\": {\"VAR\": \"value\"}, \"Parameters\": "
                             "{...}}; only variables the template declares are overridden, as sam does")
    invoke.add_argument("--project", help="project root holding template.yaml (default: .)")
    invoke.set_defaults(run=_invoke)
    tick = sub.add_parser(
        "tick", help="apply plans, then fire every schedule due up to a time (simulated, on the twin)",
        description="Deploy a twin at --from with the sample bucket and table (tagged coffer-sample=true), apply "
                    "the plan files, then fire every schedule due up to --until on a simulated clock: each plan "
                    "rule's runs, the daily lifecycle sweep, the weekly vault verify, and S3's daily lifecycle "
                    "transitions. Prints each run's "
                    "outcome, then the jobs and recovery points; exits 1 if a run did not succeed.")
    tick.add_argument("--until", required=True, help="simulate up to this time (ISO 8601, UTC unless given)")
    tick.add_argument("--from", dest="start", help="simulated start time (default: now)")
    tick.add_argument("--plan", action="append", required=True, help="a plan file to apply first (repeatable)")
    tick.add_argument("--project", help="project root holding template.yaml (default: .)")
    tick.set_defaults(run=_tick)
    for command in sub.choices.values():  # each deploys a twin: each is quiet unless asked
        command.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
        command.set_defaults(run=_emulator_logs(command.get_default("run")))
