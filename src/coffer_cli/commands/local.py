"""`coffer local ...`: run on the embedded twin (moto), no AWS account and no Docker needed."""

from __future__ import annotations

import argparse
import json
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


def register(commands: Any) -> None:
    local = commands.add_parser("local", help="run on the embedded twin (moto), no AWS account needed")
    sub = local.add_subparsers(dest="local_command", required=True)
    demo = sub.add_parser("demo", help="backup, incremental backup, restore and WORM refusal, each checked")
    demo.add_argument("--project", help="project root holding template.yaml (default: .)")
    demo.set_defaults(run=_demo)
    invoke = sub.add_parser("invoke", help="the twin of `sam local invoke`")
    invoke.add_argument("function", help="the function's logical id in template.yaml, e.g. StartBackupJobFunction")
    invoke.add_argument("-e", "--event", required=True, help="an event file from events/")
    invoke.add_argument("--project", help="project root holding template.yaml (default: .)")
    invoke.set_defaults(run=_invoke)
    tick = sub.add_parser("tick", help="fire every plan schedule due up to a time (simulated, on the twin)")
    tick.add_argument("--until", required=True, help="simulate up to this time (ISO 8601, UTC unless given)")
    tick.add_argument("--from", dest="start", help="simulated start time (default: now)")
    tick.add_argument("--plan", action="append", required=True, help="a plan file to apply first (repeatable)")
    tick.add_argument("--project", help="project root holding template.yaml (default: .)")
    tick.set_defaults(run=_tick)
