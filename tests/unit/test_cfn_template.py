"""domain/cfn_template.py: template.yaml's guards resolved as CloudFormation resolves them, for each way its
parameters can name (or not name) the operator, legal-hold and break-glass roles. The twin's clean verify covers the
case with every role named (tests/security/test_verify_findings.py); these cover the empty ones, where Fn::If
chooses AWS::NoValue and a statement loses its Condition."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from coffer.domain.cfn_template import DeployedStack
from coffer.domain.errors import InvalidInput
from coffer.domain.policy_drift import drift
from coffer_twin.cfn_yaml import load_template
from coffer_twin.packaging import package_template
from coffer_twin.sam_transform import to_cloudformation

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = "arn:aws:iam::111122223333:role/operator"


@pytest.fixture(scope="module")
def processed() -> dict[str, Any]:
    """The template after the SAM transform, as CloudFormation's GetTemplate (processed stage) gives it."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        packaged = package_template(copy.deepcopy(load_template(ROOT / "template.yaml")), ROOT, "artifacts", "c.zip")
        return to_cloudformation(packaged.template)


def deployed(template: dict[str, Any], **parameters: str) -> DeployedStack:
    physical = {logical: f"{logical.lower()}-x1" for logical in template["Resources"]}
    return DeployedStack(template=template, parameters=parameters, physical_ids=physical, account="111122223333",
                         region="eu-west-1", stack_name="coffer")


def statements(stack: DeployedStack) -> dict[str, dict[str, Any]]:
    document = stack.resolved_property("VaultBucketPolicy", "PolicyDocument")
    return {s["Sid"]: s for s in document["Statement"]}


def test_without_an_operator_role_the_bypass_guard_denies_everyone_and_names_no_exemption(
        processed: dict[str, Any]) -> None:
    guards = statements(deployed(processed))
    assert "Condition" not in guards["DenyRetentionBypass"]  # !If [HasOperatorRole, ..., AWS::NoValue]
    assert guards["DenyVersionDeletion"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        "arn:aws:iam::111122223333:role/sweepbatchfunctionrole-x1",
        "arn:aws:iam::111122223333:role/collectblobsfunctionrole-x1"]
    assert guards["DenyRetentionBypass"]["Resource"] == "arn:aws:s3:::vaultbucket-x1/*"


def test_with_an_operator_role_it_is_the_one_exemption_and_a_policy_resolved_without_it_drifts(
        processed: dict[str, Any]) -> None:
    named = deployed(processed, OperatorRoleArn=OPERATOR)
    guards = statements(named)
    assert guards["DenyRetentionBypass"]["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": OPERATOR}}
    # the live policy as deployed without the operator: the stack now names one, so the guard is expected changed
    live = deployed(processed).resolved_property("VaultBucketPolicy", "PolicyDocument")
    drifted = {sid for sid, what, _ in drift(list(guards.values()), live)}
    assert {"DenyRetentionBypass", "DenyDeleteMarkers", "DenyVersionDeletion"} <= drifted


def test_the_key_policy_loses_its_break_glass_condition_without_a_break_glass_role(processed: dict[str, Any]) -> None:
    key = deployed(processed).resolved_property("VaultKey", "KeyPolicy")
    [deny] = [s for s in key["Statement"] if s["Sid"] == "OnlyBreakGlassDisablesDeletesOrRewritesTheKey"]
    assert "Condition" not in deny and deny["Principal"] == "*"


def test_a_function_the_resolver_does_not_know_is_named_not_skipped() -> None:
    template = {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"X": {"Fn::Base64": "x"}}}}}
    with pytest.raises(InvalidInput, match="Fn::Base64"):
        deployed(template).resolved_property("B", "X")
