"""What the vault's command groups (vault, legalhold, audit, catalog) share: the stack's services, wired
for the operator's credentials, and the operator's identity for the audit log."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from coffer.adapters.catalog.vaults import VaultCatalog
from coffer.adapters.vault.admin import VaultBucketPolicy, VaultKeys
from coffer.adapters.vault.s3_vault import S3Vault
from coffer.services.audit_log import AuditLog
from coffer.services.catalog_rebuild import CatalogRebuild
from coffer.services.legal_holds import LegalHolds
from coffer.services.vault_admin import VaultAdmin
from coffer.services.vault_verify import VaultVerifier
from coffer.services.vaults import Vaults
from coffer.services.wiring import Deps
from coffer_cli.commands.common import open_stack
from coffer_cli.commands.failures import UsageError


@dataclass
class VaultContext:
    deps: Deps
    outputs: dict[str, str]
    stack: str
    actor: str

    @property
    def vaults(self) -> Vaults:
        return Vaults.from_deps(self.deps)

    @property
    def audit(self) -> AuditLog:
        return AuditLog.from_deps(self.deps, self.actor)

    def admin(self) -> VaultAdmin:
        d = self.deps
        policy = VaultBucketPolicy(d.client_for("s3"), d.settings.vault_bucket, self.outputs.get("VaultBucketArn"))
        return VaultAdmin(self.vaults, d.catalog, d.vault, VaultKeys(d.client_for("kms"), self.stack), policy,
                          self.audit, d.clock, d.settings.default_retention_days)

    def holds(self) -> LegalHolds:
        d = self.deps
        return LegalHolds(VaultCatalog(d.client_for("dynamodb"), d.settings.catalog_table), d.catalog, d.vault,
                          d.clock, self.audit)

    def verifier(self) -> VaultVerifier:
        return VaultVerifier(self.deps, self.vaults)

    def rebuild(self) -> CatalogRebuild:
        return CatalogRebuild(self.deps, self.vaults, self.audit)


def vault_context(args: argparse.Namespace) -> VaultContext:
    stack, deps = open_stack(args)
    # The outputs name the resources; the lock mode and default retention are the stack's parameters.
    settings = replace(deps.settings, vault_lock_mode=stack.parameters.get("VaultLockMode") or "GOVERNANCE",
                       default_retention_days=int(stack.parameters.get("DefaultRetentionDays") or 35))
    deps = replace(deps, settings=settings,
                   vault=S3Vault(deps.client_for("s3"), settings.vault_bucket, settings.vault_lock_mode))
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
