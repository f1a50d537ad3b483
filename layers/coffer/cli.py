"""The `coffer` command. Each command group lives in its own module under coffer.commands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: one line per command group
COMMAND_MODULES = (
    "coffer.commands.local",
    "coffer.commands.jobs",
    "coffer.commands.plan",
    "coffer.commands.backup",
    "coffer.commands.copy",
    "coffer.commands.vault",
    "coffer.commands.legalhold",
    "coffer.commands.audit",
    "coffer.commands.catalog",
    "coffer.commands.sweep",
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="coffer", description="Coffer: a backup control plane for AWS.")
    commands = top.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
