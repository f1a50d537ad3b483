"""The `coffer` command. Each command group lives in its own module under coffer_cli.commands.

Errors are turned into one line and an exit code in one place, here (commands/failures.py says how).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from coffer_cli.commands.failures import EXIT_CODES_HELP, Failure, explain

#: one line per command group
COMMAND_MODULES = (
    "coffer_cli.commands.local",
    "coffer_cli.commands.jobs",
    "coffer_cli.commands.recovery_points",
    "coffer_cli.commands.plan",
    "coffer_cli.commands.backup",
    "coffer_cli.commands.restore",
    "coffer_cli.commands.copy",
    "coffer_cli.commands.vault",
    "coffer_cli.commands.legalhold",
    "coffer_cli.commands.audit",
    "coffer_cli.commands.catalog",
    "coffer_cli.commands.sweep",
    "coffer_cli.commands.env_json",
    "coffer_cli.commands.aws_verbs",
)

EPILOG = f"""AWS settings: --region, else AWS_REGION, else AWS_DEFAULT_REGION, else the profile's region;
--profile, else AWS_PROFILE; AWS_ENDPOINT_URL for another endpoint. See docs/reference/cli.md.

{EXIT_CODES_HELP}"""


class CofferParser(argparse.ArgumentParser):
    """A command-line mistake is one line too (argparse's own would print its usage first); exit status 2.
    Subcommands' parsers are of this class as well (argparse makes them of their parent's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"coffer: {message} (see: {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    top = CofferParser(prog="coffer", description="Coffer: a backup control plane for AWS.",
                                  epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--debug", action="store_true",
                     help="show the traceback of an error instead of its one-line explanation")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return top


class Exit(SystemExit):
    """How main() ends on a failure it explained: the exit status is the failure's code, str() its line."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(int(failure.code))
        self.message = failure.message

    def __str__(self) -> str:
        return self.message


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except SystemExit:
        raise
    except BrokenPipeError:
        # The reader went away (`coffer jobs list | head`): not an error; nothing more can be written.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except BaseException as error:
        failure = explain(error)
        if failure is None or args.debug:
            raise
        print(f"coffer: {failure.message}", file=sys.stderr)
        raise Exit(failure) from None


if __name__ == "__main__":
    sys.exit(main())
