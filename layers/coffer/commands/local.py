"""`coffer local ...`: run on the embedded twin (moto), no AWS account and no Docker needed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from coffer.commands.common import project_root


def _demo(args: argparse.Namespace) -> int:
    from coffer.local.demo import run_demo

    return run_demo(project_root(args.project))


def _invoke(args: argparse.Namespace) -> int:
    from coffer.local.sample_events import invoke_sample
    from coffer.twin.twin import TwinInvokeError

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
