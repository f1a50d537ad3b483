"""member/template.yaml - the copy role every destination account deploys - keeps its promises: only the source
stacks' exact copy roles assume it, it writes no catalog item but recovery points and vaults, and its S3 rights
stay in the accounts they are meant for (tests/security/test_member_copy_role.py tries each as an attacker)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from coffer_twin.cfn_yaml import load_template
from coffer_twin.packaging import package_template
from coffer_twin.sam_transform import to_cloudformation

ROOT = Path(__file__).resolve().parents[2]
CATALOG_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                  "dynamodb:ConditionCheckItem"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def role() -> dict[str, Any]:
    return dict(load_template(ROOT / "member" / "template.yaml")["Resources"]["CopyRole"]["Properties"])


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_only_the_exact_source_roles_assume_the_copy_role(role: dict[str, Any]) -> None:
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Ref": "SourceAccountIds"}}
    assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": {"Ref": "SourceRoleArns"}}}


def test_the_source_stack_names_the_roles_the_copy_role_must_trust() -> None:
    template = load_template(ROOT / "template.yaml")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        transformed = to_cloudformation(package_template(copy.deepcopy(template), ROOT, "a", "c.zip").template)
    assumers = {name for name, resource in transformed["Resources"].items()
                if resource["Type"] == "AWS::IAM::Role" and any(
                    s.get("Sid") == "AssumeCopyRole" for p in resource["Properties"].get("Policies", [])
                    for s in p["PolicyDocument"]["Statement"])}
    output = template["Outputs"]["CopyRoleAssumers"]["Value"]["Fn::Join"]
    assert output[0] == "," and {v["Fn::GetAtt"][0] for v in output[1]} == assumers


def test_catalog_writes_only_to_recovery_point_and_vault_items(role: dict[str, Any]) -> None:
    """...and, since copies are audited in the destination's chain (copy.complete), to its chain head and the
    copy.complete idempotency keys: no other action's."""
    writes = [s for s in statements(role) if CATALOG_WRITES & set(as_list(s["Action"]))]
    assert writes
    for statement in writes:
        assert not {"dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} & set(as_list(statement["Action"]))
        assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [
            "RP#*", "VAULT#*", "AUDIT", "AUDITKEY#copy.complete:*"]},
                                          "Null": {"dynamodb:LeadingKeys": "false"}}


def test_every_s3_right_is_pinned_to_its_accounts(role: dict[str, Any]) -> None:
    s3 = [s for s in statements(role) if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    assert s3
    for statement in s3:
        assert not any(a.startswith("s3:Delete") for a in as_list(statement["Action"]))
        pinned = statement["Condition"]["StringEquals"]["s3:ResourceAccount"]
        sources = any("SourceStackName" in str(r) for r in as_list(statement["Resource"]))
        assert pinned == ({"Ref": "SourceAccountIds"} if sources else {"Ref": "AWS::AccountId"}), statement["Sid"]
