"""`coffer audit ...`: the tamper-evident audit log - verify the hash chain, show records."""

from __future__ import annotations

import argparse
from collections import deque
from typing import Any

from coffer_cli.commands.common import add_stack_option
from coffer_cli.commands.output import add_output_option, print_rows
from coffer_cli.commands.vault_context import vault_context


def _verify(args: argparse.Namespace) -> int:
    report = vault_context(args).audit.verify()
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    for note in report.notes:
        print(f"note: {note}")
    head = f"head {report.head.seq}" if report.head else "no head in the catalog"
    print(f"{report.records} audit records, {head}: " + ("chain intact" if report.ok else "TAMPERED"))
    return 0 if report.ok else 1


def _show(args: argparse.Namespace) -> int:
    records = deque(vault_context(args).audit.records(), maxlen=args.last)
    print_rows(args, ["seq", "at", "actor", "action", "target"],
               [(r.seq, r.at.isoformat(timespec="seconds"), r.actor, r.action, r.target) for r in records],
               [r.model_dump(mode="json") for r in records])
    return 0


def register(commands: Any) -> None:
    audit = commands.add_parser("audit", help="the audit log of control-plane changes (hash-chained, in the vault)")
    sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = sub.add_parser("verify", help="check every record's hash and the chain; exit 1 if tampered")
    verify.set_defaults(run=_verify)
    show = sub.add_parser("show", help="the last records")
    show.add_argument("--last", type=int, default=20)
    add_output_option(show)
    show.set_defaults(run=_show)
    for parser in (verify, show):
        add_stack_option(parser)
