"""The `coffer` command. `coffer local ...` runs on the embedded twin; nothing here needs Docker."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def _project_root(value: str | None) -> Path:
    root = Path(value or ".").resolve()
    if not (root / "template.yaml").is_file():
        raise SystemExit(f"coffer: no template.yaml in {root} (run from the project root or pass --project)")
    return root


def _local_demo(args: argparse.Namespace) -> int:
    from coffer.local.demo import run_demo

    return run_demo(_project_root(args.project))


def _local_invoke(args: argparse.Namespace) -> int:
    from coffer.local.sample_events import invoke_sample
    from coffer.twin.twin import TwinInvokeError

    event_file = Path(args.event).resolve()
    if not event_file.is_file():
        raise SystemExit(f"coffer: --event: no file {args.event}")
    try:
        result = invoke_sample(_project_root(args.project), event_file, args.function)
    except TwinInvokeError as error:
        print(json.dumps({"errorType": error.error_type, "errorMessage": error.error_message}, indent=2))
        return 1
    except (KeyError, ValueError) as error:
        raise SystemExit(f"coffer: {error}") from None
    print(json.dumps(result, indent=2, default=str))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="coffer", description="Coffer: a backup control plane for AWS.")
    commands = top.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run on the embedded twin (moto), no AWS account needed")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    demo = local_commands.add_parser("demo", help="backup, incremental backup, restore and WORM refusal, checked")
    demo.add_argument("--project", help="project root holding template.yaml (default: .)")
    demo.set_defaults(run=_local_demo)
    invoke = local_commands.add_parser("invoke", help="the twin of `sam local invoke`")
    invoke.add_argument("function", help="the function's logical id in template.yaml, e.g. StartBackupJobFunction")
    invoke.add_argument("-e", "--event", required=True, help="an event file from events/")
    invoke.add_argument("--project", help="project root holding template.yaml (default: .)")
    invoke.set_defaults(run=_local_invoke)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
