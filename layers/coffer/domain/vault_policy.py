"""Per-vault statements of the vault bucket's policy, and merging them into the policy the template installs.

The template's VaultBucketPolicy holds the bucket-wide rules (TLS only, no governance bypass except by the
operator role, no version deletes except by the operator role and the lifecycle sweep's two deleting functions,
no delete markers except by the operator role, SSE-KMS with this account's keys only). Each
vault adds, under its own prefix `vaults/<name>/*`:

- `...Key`: deny PutObject (and so CopyObject) unless it names the vault's own KMS key - an object of the
  vault can never be re-encrypted with another key;
- `...Access<n>`: the operator's Deny statements (the vault's access policy), scoped to the prefix.

Statements are recognised by their Sid prefix, so re-applying a vault's statements replaces its old ones
and leaves every other statement (the template's, other vaults') as it was.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from coffer.domain.vaults import Vault

SID_PREFIX = "CofferVault"
#: A Sid of the template's policy: its presence says the stack's policy is installed on the bucket.
TEMPLATE_SID = "DenyInsecureTransport"
#: The Sid of the template's version-deletion guard before the lifecycle sweep got its delete right:
#: such a policy denies the sweep's deletions (S3 refuses them; recovery points stay DELETING, blobs stay).
OUTDATED_TEMPLATE_SID = "DenyRetentionBypassAndVersionDeletion"


def vault_sid(vault_name: str) -> str:
    """A Sid stem unique to the vault (Sids are alphanumeric; vault names may hold '-' and '_')."""
    alnum = re.sub(r"[^A-Za-z0-9]", "", vault_name)
    digest = hashlib.sha256(vault_name.encode()).hexdigest()[:8]
    return f"{SID_PREFIX}{alnum}{digest}"


def vault_resource(bucket_arn: str, vault_name: str) -> str:
    return f"{bucket_arn}/vaults/{vault_name}/*"


def vault_statements(bucket_arn: str, vault: Vault) -> list[dict[str, Any]]:
    stem, resource = vault_sid(vault.name), vault_resource(bucket_arn, vault.name)
    statements: list[dict[str, Any]] = [{
        "Sid": f"{stem}Key",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": resource,
        # Absent counts as "not equal" too: a write into the vault must name its key explicitly.
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": vault.key_arn}},
    }]
    for n, statement in enumerate(vault.access_policy):
        scoped = {k: v for k, v in statement.items() if k != "Sid"}
        statements.append({"Sid": f"{stem}Access{n}", **scoped, "Resource": resource})
    return statements


def merge_vault_statements(policy: dict[str, Any], vault_name: str,
                           statements: list[dict[str, Any]]) -> dict[str, Any]:
    """The policy with this vault's statements replaced by `statements` (none: removed)."""
    stem = vault_sid(vault_name)
    merged: list[dict[str, Any]] = []
    placed = False
    for statement in policy.get("Statement", []):
        if not _belongs_to(statement, stem):
            merged.append(statement)
        elif not placed:  # in place of the old ones: re-applying the same statements changes nothing
            merged.extend(statements)
            placed = True
    if not placed:
        merged.extend(statements)
    return {**policy, "Statement": merged}


def _belongs_to(statement: dict[str, Any], stem: str) -> bool:
    sid = str(statement.get("Sid", ""))
    return sid == f"{stem}Key" or re.fullmatch(re.escape(stem) + r"Access\d+", sid) is not None


def has_template_policy(policy: dict[str, Any] | None) -> bool:
    return policy is not None and any(s.get("Sid") == TEMPLATE_SID for s in policy.get("Statement", []))


def template_policy_notes(policy: dict[str, Any] | None) -> list[str]:
    """What is out of date in the template's own statements installed on the bucket (a stack not redeployed)."""
    if policy is not None and any(s.get("Sid") == OUTDATED_TEMPLATE_SID for s in policy.get("Statement", [])):
        return ["the vault bucket policy predates the lifecycle sweep's delete right (Sid "
                f"{OUTDATED_TEMPLATE_SID}): expiries and blob collection are refused by S3 until the stack is "
                "redeployed (`sam deploy`, then `coffer vault apply-policies`)"]
    return []
