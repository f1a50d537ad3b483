"""`coffer local ...`: run on the embedded twin (moto), no AWS account and no Docker needed."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coffer_cli.commands.common import project_root


def _demo(args: argparse.Namespace) -> int:
    from coffer_cli.local.demo import run_demo

    return run_demo(project_root(args.project))


def _invoke(args: argparse.Namespace) -> int:
    from coffer_cli.local.sample_events import invoke_sample
    from coffer_twin.twin import TwinInvokeError

    event_file = Path(args.event).resolve()
    if not event_file.is_file():
        raise SystemExit(f"coffer: --event: no file {args.event}")
    try:
        result = invoke_sample(project_root(args.project), event_file, args.function)
    except TwinInvokeError as error:
        print(json.dumps({"errorType": error.error_type, "errorMessage": error.error_message}, indent=2))
        return 1
    except (KeyError, ValueError) as error:
        raise SystemExit(f"coffer: {error}") from None
    print(json.dumps(result, indent=2, default=str))
    return 0


def _when(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"coffer: {option}: '{value}' is not an ISO 8601 time (e.g. 2026-12-01T00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _tick(args: argparse.Namespace) -> int:
    from coffer_cli.local.ticks import run_local_tick

    start = _when(args.start, "--from") if args.start else datetime.now(UTC).replace(second=0, microsecond=0)
    until = _when(args.until, "--until")
    if until <= start:
        raise SystemExit("coffer: --until must be after --from")
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
    invoke = sub.add_parser("invoke", help="the twin of `sam local invoke`")
    invoke.add_argument("function", help="the function's logical id in template.yaml, e.g. StartBackupJobFunction")
    invoke.add_argument("-e", "--event", required=True, help="an event file from events/")
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
