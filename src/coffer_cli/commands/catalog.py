"""`coffer catalog rebuild --vault V`: the catalog's vault and recovery points back from the vault alone, believing
only manifest versions that are locked as they claim and that the audit chain records (services/catalog_rebuild.py)."""

from __future__ import annotations

import argparse
from typing import Any

from coffer_cli.commands.common import add_stack_option
from coffer_cli.commands.output import print_json
from coffer_cli.commands.vault_context import vault_context


def _rebuild(args: argparse.Namespace) -> int:
    """Exit 1 when the catalog differs from the vault or something was refused (TAMPERED, UNTRUSTED, UNPARSEABLE:
    each finding printed, with what was expected and found, and the command that looks further)."""
    report = vault_context(args).rebuild().rebuild_vault(args.vault)
    print_json({"vault": report.vault, "vault_restored": report.vault_restored, "restored": len(report.restored),
                "already_present": len(report.present), "differing": report.differing, "skipped": report.skipped,
                "audit_head": report.audit_head, "refused": len(report.problems),
                "findings": [f.model_dump(mode="json", exclude_none=True) for f in report.findings]})
    return 1 if report.differing or report.refused else 0


def register(commands: Any) -> None:
    catalog = commands.add_parser("catalog", help="the DynamoDB catalog")
    sub = catalog.add_subparsers(dest="catalog_command", required=True)
    rebuild = sub.add_parser("rebuild", help="restore a vault's catalog entries from its manifests (lost table)")
    rebuild.add_argument("--vault", required=True)
    add_stack_option(rebuild)
    rebuild.set_defaults(run=_rebuild)
