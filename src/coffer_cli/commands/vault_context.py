"""What the vault's command groups (vault, legalhold, audit, catalog) share: the stack's services, wired
for the operator's credentials, and the operator's identity for the audit log."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from coffer.domain.errors import CofferError
from coffer.entrypoints.bootstrap import Root
from coffer.services.audit_log import AuditLog
from coffer.services.catalog_rebuild import CatalogRebuild
from coffer.services.legal_holds import LegalHolds
from coffer.services.vault_admin import VaultAdmin
from coffer.services.vault_verify import VaultVerifier
from coffer.services.vaults import Vaults
from coffer_cli.commands.common import stack_deps


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
    deps, outputs = stack_deps(args)
    # The outputs name the resources; the lock mode and default retention are the stack's parameters.
    stack = deps.client_for("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    settings = replace(deps.settings, vault_lock_mode=parameters.get("VaultLockMode") or "GOVERNANCE",
                       default_retention_days=int(parameters.get("DefaultRetentionDays") or 35))
    deps = replace(deps, settings=settings)  # (the vault's lock mode is the stack's)
    actor = str(deps.client_for("sts").get_caller_identity()["Arn"])
    return VaultContext(deps, outputs, args.stack, actor)


@contextmanager
def refusals() -> Iterator[None]:
    """Coffer's own errors end the command with their message (exit status 1), not a traceback."""
    try:
        yield
    except CofferError as error:
        raise SystemExit(f"coffer: {type(error).__name__}: {error}") from None


def command(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        with refusals():
            return run(args)
    return wrapped


def read_policy(path: str | None) -> list[dict[str, Any]]:
    """--policy FILE: a policy document ({"Statement": [...]}) or a list of statements."""
    if not path:
        return []
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SystemExit(f"coffer: --policy: {error}") from None
    statements = document.get("Statement", []) if isinstance(document, dict) else document
    if not isinstance(statements, list):
        statements = [statements]
    return statements
