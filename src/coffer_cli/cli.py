"""The `coffer` command. Each command group lives in its own module under coffer_cli.commands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from coffer.domain.errors import CofferError
from coffer.domain.input_rules.text import one_line

#: one line per command group
COMMAND_MODULES = (
    "coffer_cli.commands.local",
    "coffer_cli.commands.jobs",
    "coffer_cli.commands.plan",
    "coffer_cli.commands.backup",
    "coffer_cli.commands.copy",
    "coffer_cli.commands.vault",
    "coffer_cli.commands.legalhold",
    "coffer_cli.commands.audit",
    "coffer_cli.commands.catalog",
    "coffer_cli.commands.sweep",
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="coffer", description="Coffer: a backup control plane for AWS.")
    commands = top.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CofferError as error:  # a refusal Coffer raised on purpose: its message, never a stack trace
        print(f"coffer: {one_line(str(error))}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
