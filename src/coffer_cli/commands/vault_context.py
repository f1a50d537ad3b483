"""What the vault's command groups (vault, legalhold, audit, catalog) share: the stack's services, wired
for the operator's credentials, and the operator's identity for the audit log."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from coffer.entrypoints.bootstrap import Root
from coffer.services.audit_log import AuditLog
from coffer.services.catalog_rebuild import CatalogRebuild
from coffer.services.legal_holds import LegalHolds
from coffer.services.vault_admin import VaultAdmin
from coffer.services.vault_verify import VaultVerifier
from coffer.services.vaults import Vaults
from coffer_cli.commands.common import open_stack
from coffer_cli.commands.failures import UsageError


@dataclass
class VaultContext:
    deps: Root
    outputs: dict[str, str]
    stack: str
    actor: str

    @property
    def vaults(self) -> Vaults:
        return self.deps.vaults

    @property
    def audit(self) -> AuditLog:
        return self.deps.audit_log(self.actor)

    def admin(self) -> VaultAdmin:
        return self.deps.vault_admin(self.stack, self.outputs.get("VaultBucketArn"), self.actor)

    def holds(self) -> LegalHolds:
        return self.deps.legal_holds(self.actor)

    def verifier(self) -> VaultVerifier:
        return self.deps.verifier

    def rebuild(self) -> CatalogRebuild:
        return self.deps.catalog_rebuild(self.actor)


def vault_context(args: argparse.Namespace) -> VaultContext:
    stack, deps = open_stack(args)
    # The outputs name the resources; the lock mode and default retention are the stack's parameters.
    settings = replace(deps.settings, vault_lock_mode=stack.parameters.get("VaultLockMode") or "GOVERNANCE",
                       default_retention_days=int(stack.parameters.get("DefaultRetentionDays") or 35),
                       stack_name=args.stack)
    deps = replace(deps, settings=settings)  # the vault (built on first use) takes the stack's lock mode
    actor = str(deps.client_for("sts").get_caller_identity()["Arn"])
    return VaultContext(deps, stack.outputs, args.stack, actor)


def read_policy(path: str | None) -> list[dict[str, Any]]:
    """--policy FILE: a policy document ({"Statement": [...]}) or a list of statements."""
    if not path:
        return []
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"--policy: {error}") from None
    statements = document.get("Statement", []) if isinstance(document, dict) else document
    if not isinstance(statements, list):
        statements = [statements]
    return statements
