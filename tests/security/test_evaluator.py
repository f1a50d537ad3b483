"""The policy evaluator the twin enforces IAM with, on the cases moto 5.2.5's own IAM enforcement gets wrong
(probed: it knows only StringEquals conditions, supplies no context keys, treats a Deny with NotResource as an
Allow, applies a bucket policy to every principal whatever its Principal, reads a key policy only for DescribeKey
and never applies an event bus policy). Each case is what one of Coffer's guards relies on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coffer_twin.iam import PolicyEvaluator
from coffer_twin.iam.evaluator import EVALUATOR_DIR

ACCOUNT = "123456789012"
WRITER = f"arn:aws:iam::{ACCOUNT}:role/writer"
OTHER = f"arn:aws:iam::{ACCOUNT}:role/other"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/break-glass"
EVERYTHING = [{"name": "all", "policy": {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]


@pytest.fixture(scope="module")
def evaluator() -> Iterator[PolicyEvaluator]:
    found = PolicyEvaluator()
    yield found
    found.close()


def evaluate(evaluator: PolicyEvaluator, role: str, action: str, resource: str, *, identity: Any = None,
             resource_policy: Any = None, context: dict[str, Any] | None = None, account: str = ACCOUNT) -> str:
    session = role.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/test"
    simulation: dict[str, Any] = {
        "request": {"principal": session, "action": action, "resource": {"resource": resource, "accountId": account},
                    "contextVariables": {"aws:PrincipalArn": role, "aws:PrincipalAccount": role.split(":")[4],
                                         **(context or {})}},
        "identityPolicies": EVERYTHING if identity is None else identity,
        "serviceControlPolicies": [], "resourceControlPolicies": []}
    if resource_policy is not None:
        simulation["resourcePolicy"] = resource_policy
    return evaluator.evaluate(simulation).result


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_the_evaluator_installed_is_the_pinned_one() -> None:
    lock = json.loads((EVALUATOR_DIR / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/@cloud-copilot/iam-simulate"]["version"]
    manifest = EVALUATOR_DIR / "package.json"
    assert json.loads(manifest.read_text())["dependencies"]["@cloud-copilot/iam-simulate"] == pinned  # exact pin
    installed = Path(EVALUATOR_DIR / "node_modules" / "@cloud-copilot" / "iam-simulate" / "package.json")
    assert json.loads(installed.read_text())["version"] == pinned


def test_a_deny_with_not_resource_denies_everything_else(evaluator: PolicyEvaluator) -> None:
    # moto let the write through (NothingWrittenOutsideTheLayout has this shape).
    rule = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                   "NotResource": "arn:aws:s3:::vault/vaults/*"})
    assert evaluate(evaluator, WRITER, "s3:PutObject", "arn:aws:s3:::vault/planted", resource_policy=rule) \
        == "ExplicitlyDenied"
    assert evaluate(evaluator, WRITER, "s3:PutObject", "arn:aws:s3:::vault/vaults/a", resource_policy=rule) \
        == "Allowed"


def test_a_deny_conditioned_on_the_principal_denies_only_the_others(evaluator: PolicyEvaluator) -> None:
    # moto denied the named writer too, conditions ignored (every per-prefix writer statement has this shape).
    rule = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::vault/*",
                   "Condition": {"ArnNotEquals": {"aws:PrincipalArn": [WRITER]}}})
    assert evaluate(evaluator, WRITER, "s3:PutObject", "arn:aws:s3:::vault/k", resource_policy=rule) == "Allowed"
    assert evaluate(evaluator, OTHER, "s3:PutObject", "arn:aws:s3:::vault/k", resource_policy=rule) \
        == "ExplicitlyDenied"


def test_a_key_policy_deny_holds_against_kms_star_and_yields_to_break_glass(evaluator: PolicyEvaluator) -> None:
    # moto read key policies only for DescribeKey.
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1"
    rule = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
                   "Resource": "*"},
                  {"Effect": "Deny", "Principal": "*", "Action": ["kms:DisableKey", "kms:ScheduleKeyDeletion"],
                   "Resource": "*", "Condition": {"ArnNotEquals": {"aws:PrincipalArn": BREAK_GLASS}}})
    assert evaluate(evaluator, OTHER, "kms:DisableKey", key, resource_policy=rule) == "ExplicitlyDenied"
    assert evaluate(evaluator, BREAK_GLASS, "kms:DisableKey", key, resource_policy=rule) == "Allowed"
    assert evaluate(evaluator, OTHER, "kms:Decrypt", key, resource_policy=rule) == "Allowed"


def test_leading_keys_limit_a_roles_catalog_writes(evaluator: PolicyEvaluator) -> None:
    # moto knew StringEquals only and supplied no dynamodb:LeadingKeys.
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/catalog"
    identity = [{"name": "copies", "policy": policy({
        "Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": table,
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["RP#*"]},
                      "Null": {"dynamodb:LeadingKeys": "false"}}})}]
    for keys, expected in ((["RP#1"], "Allowed"), (["JOB#1"], "ImplicitlyDenied"), (None, "ImplicitlyDenied")):
        context = {} if keys is None else {"dynamodb:LeadingKeys": keys}
        assert evaluate(evaluator, OTHER, "dynamodb:PutItem", table, identity=identity, context=context) == expected


def test_an_event_bus_policy_admits_only_whom_it_names(evaluator: PolicyEvaluator) -> None:
    # moto never applied bus policies.
    bus = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/coffer-requests"
    rule = policy({"Sid": "Named", "Effect": "Allow", "Principal": {"AWS": WRITER}, "Action": "events:PutEvents",
                   "Resource": bus},
                  {"Sid": "Others", "Effect": "Deny", "Principal": "*", "Action": "events:PutEvents", "Resource": bus,
                   "Condition": {"ArnNotEquals": {"aws:PrincipalArn": WRITER}}})
    only_put = [{"name": "put", "policy": policy({"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"})}]
    assert evaluate(evaluator, WRITER, "events:PutEvents", bus, identity=[], resource_policy=rule) == "Allowed"
    assert evaluate(evaluator, OTHER, "events:PutEvents", bus, identity=only_put, resource_policy=rule) \
        == "ExplicitlyDenied"
    stranger = "arn:aws:iam::999999999999:role/x"
    assert evaluate(evaluator, stranger, "events:PutEvents", bus, identity=only_put) == "ImplicitlyDenied"


def test_a_trust_policy_admits_only_the_exact_roles_it_names(evaluator: PolicyEvaluator) -> None:
    # The member copy role's trust: the former <SourceStackName>-* pattern admitted any role named like Coffer's.
    copy_role = "arn:aws:iam::210987654321:role/coffer-copy"
    real = f"arn:aws:iam::{ACCOUNT}:role/coffer-StartCopyJobFunctionRole-ABC"
    lookalike = f"arn:aws:iam::{ACCOUNT}:role/coffer-StartCopyJobFunctionRole-LOOKALIKE"
    assume = [{"name": "assume", "policy": policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})}]

    def trust(condition: dict[str, Any]) -> dict[str, Any]:
        return policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                       "Action": "sts:AssumeRole", "Condition": condition})

    former = trust({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/coffer-*"}})
    pinned = trust({"ArnEquals": {"aws:PrincipalArn": [real]}})
    for role, expected_former, expected_pinned in ((real, "Allowed", "Allowed"),
                                                   (lookalike, "Allowed", "ImplicitlyDenied")):
        for document, expected in ((former, expected_former), (pinned, expected_pinned)):
            assert evaluate(evaluator, role, "sts:AssumeRole", copy_role, identity=assume, resource_policy=document,
                            account="210987654321") == expected, (role, document)
