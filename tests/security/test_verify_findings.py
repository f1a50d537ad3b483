"""Verify's findings, each earned by the principal who would do the harm (template.yaml's guards, IAM enforced).

Each test is an attack that some principal *can* still carry out - because it holds a right the guards leave to it
(the operator role, the break-glass role, the legal-hold role) or because the guard was changed first - and the
finding the scheduled Verify workflow (run as its own function roles, IAM enforced) reports for it. A finding is
reported, never repaired: the attack's result is read back afterwards, still there.
"""

from __future__ import annotations

from typing import Any

import pytest

from coffer.adapters.catalog.vaults import VaultCatalog
from coffer.domain.vault_policy import vault_sid

from .conftest import Secured


def run_verify(secured: Secured) -> tuple[str, set[tuple[str, str]], dict[str, Any]]:
    """The Verify workflow on every vault: (its status, its findings as (kind, key), its summary)."""
    arn = secured.twin.start_execution("VerifyStateMachine", {"vaults": [], "deep": False})
    done = dict(secured.twin.wait(arn, timeout=180))
    summary = VaultCatalog(secured.coffer.client("dynamodb"), secured.coffer.settings.catalog_table).get_verify_run(
        arn.rsplit(":", 1)[-1]) or {}
    return str(done["status"]), {(f["kind"], f["key"]) for f in summary.get("findings", [])}, summary


Run = tuple[str, set[tuple[str, str]], dict[str, Any]]


@pytest.fixture(scope="module")
def deployed(secured: Secured) -> tuple[Run, Run]:
    """Verify right after the deploy (before `coffer vault apply-policies`), and again after it, before any test
    attacks the stack."""
    before = run_verify(secured)
    status, _ = secured.cli("operator", "vault", "apply-policies")
    assert status == 0
    return before, run_verify(secured)


def test_a_deploy_not_followed_by_apply_policies_is_bucket_policy_drift(deployed: tuple[Run, Run],
                                                                         secured: Secured) -> None:
    (status, findings, _), _ = deployed
    sid = vault_sid("Default") + "Key"
    assert findings == {("BUCKET_POLICY_DRIFT", f"s3://{secured.vault_bucket} Sid {sid}")}
    assert status == "FAILED"


def test_a_deployed_stack_with_its_vault_statements_verifies_clean(deployed: tuple[Run, Run],
                                                                  secured: Secured) -> None:
    _, (status, findings, summary) = deployed
    assert findings == set(), [(f["kind"], f["expected"], f["found"]) for f in summary["findings"]]
    assert status == "SUCCEEDED"
    assert not secured.twin.iam.refusals(), secured.twin.iam.refusals()
