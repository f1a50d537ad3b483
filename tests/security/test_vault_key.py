"""The vault key's policy, tried by the principals who would destroy or share the key (template.yaml VaultKey).

Losing the key loses every recovery point, whatever Object Lock keeps: an account administrator with ``kms:*`` in
its own policy may neither disable it, schedule its deletion, rewrite its policy nor grant it to a stranger; the
break-glass role may; the copy workflow's grants to copy roles still work. The key read back afterwards is as it
was (state, policy, grants).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Secured

STRANGER = "arn:aws:iam::999999999999:root"


def key_state(secured: Secured) -> dict[str, Any]:
    kms = secured.coffer.client("kms")
    key = secured.coffer.settings.vault_key_arn
    return {"state": kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"],
            "policy": kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"],
            "grants": sorted(g["GranteePrincipal"] for g in kms.list_grants(KeyId=key)["Grants"])}


@pytest.mark.parametrize("who", ["admin", "operator"])
def test_neither_an_admin_nor_the_operator_can_disable_or_delete_the_vault_key(secured: Secured, who: str) -> None:
    before = key_state(secured)
    kms, key = secured.session(who).client("kms"), secured.coffer.settings.vault_key_arn
    with secured.refused("kms:DisableKey", "resource:OnlyBreakGlassDisablesDeletesOrRewritesTheKey"):
        kms.disable_key(KeyId=key)
    with secured.refused("kms:ScheduleKeyDeletion", "resource:OnlyBreakGlassDisablesDeletesOrRewritesTheKey"):
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert key_state(secured) == before and before["state"] == "Enabled"


def test_an_account_admin_cannot_rewrite_the_key_policy(secured: Secured) -> None:
    before = key_state(secured)
    kms, key = secured.session("admin").client("kms"), secured.coffer.settings.vault_key_arn
    permissive = {"Version": "2012-10-17", "Statement": [
        {"Sid": "All", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{secured.twin.account_id}:root"},
         "Action": "kms:*", "Resource": "*"}]}
    with secured.refused("kms:PutKeyPolicy", "resource:OnlyBreakGlassDisablesDeletesOrRewritesTheKey"):
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(permissive))
    assert key_state(secured) == before


def test_nobody_but_break_glass_grants_the_key_to_a_stranger(secured: Secured) -> None:
    before = key_state(secured)
    key = secured.coffer.settings.vault_key_arn
    # StartCopyJob's own policy may create grants (for copies): the key policy still allows only copy roles.
    for session in (secured.session("admin"), secured.as_function("StartCopyJobFunction")):
        with secured.refused("kms:CreateGrant", "resource:GrantsOnlyToCopyRolesOrAwsServices"):
            session.client("kms").create_grant(KeyId=key, GranteePrincipal=STRANGER, Operations=["Decrypt"])
    assert key_state(secured) == before


def test_the_copy_workflow_grants_the_key_to_this_accounts_copy_role(secured: Secured) -> None:
    kms, key = secured.as_function("StartCopyJobFunction").client("kms"), secured.coffer.settings.vault_key_arn
    copy_role = f"arn:aws:iam::{secured.twin.account_id}:role/coffer-copy"
    grant = kms.create_grant(KeyId=key, GranteePrincipal=copy_role, Operations=["Decrypt", "DescribeKey"],
                             Name="coffer-copy-security-test")
    assert copy_role in key_state(secured)["grants"]
    kms.revoke_grant(KeyId=key, GrantId=grant["GrantId"])


def test_break_glass_may_disable_and_enable_the_key_and_rewrite_its_policy(secured: Secured) -> None:
    before = key_state(secured)
    kms = secured.session("breakglass").client("kms")
    key = secured.coffer.settings.vault_key_arn.rsplit("/", 1)[-1]  # moto's DisableKey takes the id, not the ARN
    kms.disable_key(KeyId=key)
    assert key_state(secured)["state"] == "Disabled"
    kms.enable_key(KeyId=key)
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=before["policy"])
    assert key_state(secured) == before
