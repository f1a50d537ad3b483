"""template.yaml keeps its promises: the contracts of docs/reference/contracts.md, the vault's safety properties and
least-privilege IAM. Read with the twin's own loader and SAM transform (coffer_twin), so the template the
tests check is the template the twin deploys.

IAM is checked on the *transformed* template too: that is where SAM's generated roles (and the managed
policies it attaches) are.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coffer.domain.manifest import WorkLayout
from coffer_twin.cfn_yaml import load_template
from coffer_twin.packaging import package_template
from coffer_twin.sam_transform import to_cloudformation

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

SUBSTITUTION = re.compile(r"\$\{([^}]+)\}")

ENV_CONTRACT = {
    "CATALOG_TABLE": {"Ref": "CatalogTable"},
    "VAULT_BUCKET": {"Ref": "VaultBucket"},
    "WORK_BUCKET": {"Ref": "WorkBucket"},
    "VAULT_KEY_ARN": {"Fn::GetAtt": ["VaultKey", "Arn"]},
    "POLL_SECONDS": {"Ref": "PollSeconds"},
    "BATCH_SIZE": {"Ref": "BatchSize"},
    "DEFAULT_RETENTION_DAYS": {"Ref": "DefaultRetentionDays"},
    "LOCK_SLACK_DAYS": {"Ref": "LockSlackDays"},
    "TAG_REFRESH_DAYS": {"Ref": "TagRefreshDays"},
    "COPY_CONCURRENCY": {"Ref": "CopyConcurrency"},
    "POWERTOOLS_SERVICE_NAME": "coffer",
    "POWERTOOLS_METRICS_NAMESPACE": "Coffer",
    "POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"},
    "STACK_NAME": {"Ref": "AWS::StackName"},  # verify reads the template the stack was deployed with
}

#: Actions AWS authorises only on Resource "*" (no resource-level permissions); nothing else may use it.
STAR_RESOURCE_ACTIONS = {
    "dynamodb:ListBackups",
    "tag:GetResources", "s3:ListAllMyBuckets", "dynamodb:ListTables",  # plan selections (SelectResources)
    "ec2:DescribeVolumes", "ec2:DescribeSnapshots", "ec2:DescribeSnapshotTierStatus", "ec2:DescribeInstances",
    "ec2:DescribeImages",
    # no resource type in AWS's authorization reference: the task token names the task
    "states:SendTaskSuccess", "states:SendTaskFailure",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}
#: The only AWS managed policies a role may carry (SAM attaches them for logging and X-Ray tracing).
MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
#: What could destroy or unlock what the vault holds: no role may be allowed these on the vault.
VAULT_DESTRUCTIVE = {
    "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:DeleteBucket",
    "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration", "s3:PutObjectLegalHold",
}
CATALOG_ACTIONS = {
    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
    "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
}
BACKUP_FUNCTIONS = {"StartBackupJobFunction", "ListBatchesFunction", "CopyBatchFunction", "CopyLargeObjectFunction",
                    "CheckBackupFunction", "AwaitTurnFunction", "CompleteBackupFunction", "RecordObjectChangeFunction"}
RESTORE_FUNCTIONS = {"StartRestoreJobFunction", "RestoreBatchFunction", "CheckRestoreFunction",
                     "CompleteRestoreFunction", "ListPitrBatchesFunction"}
AUDIT_WRITERS = {"RecordAuditFunction"}
VERIFY_FUNCTIONS = {"ListVerifyItemsFunction", "VerifyBatchFunction", "CompleteVerifyFunction"}
#: The only roles that may delete vault object versions (never bypassing governance), each on its own prefix.
SWEEP_DELETERS = {"SweepBatchFunction": "${VaultBucket.Arn}/vaults/*/recovery-points/*",
                  "CollectBlobsFunction": "${VaultBucket.Arn}/vaults/*/blobs/*"}
#: ItemReader / ResultWriter resources -> (S3 action the state machine's role needs, on objects?)
MAP_S3_RESOURCES = {
    "arn:aws:states:::s3:listObjectsV2": ("s3:ListBucket", False),
    "arn:aws:states:::s3:getObject": ("s3:GetObject", True),
    "arn:aws:states:::s3:putObject": ("s3:PutObject", True),
}


# ---- helpers ----------------------------------------------------------------------------------------
def render(value: Any) -> str:
    """An intrinsic as a readable string: Ref X -> ${X}, GetAtt X.Arn -> ${X.Arn}, Sub kept as written."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return f"${{{arg}}}"
        if key == "Fn::GetAtt":
            return "${" + ".".join(arg if isinstance(arg, list) else [arg]) + "}"
        if key == "Fn::Sub":
            if isinstance(arg, list):
                text, variables = arg
                for name, inner in variables.items():
                    text = text.replace(f"${{{name}}}", render(inner))
                return str(text)
            return str(arg)
        if key == "Fn::Join":
            separator, parts = arg
            return str(separator).join(render(p) for p in parts)
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def references(value: Any, logical_id: str) -> bool:
    return re.search(r"\$\{" + re.escape(logical_id) + r"[.}]", render(value)) is not None


def statements_of_role(role: dict[str, Any]) -> list[dict[str, Any]]:
    policies = role["Properties"].get("Policies", [])
    return [s for policy in policies for s in as_list(policy["PolicyDocument"]["Statement"])]


def allows(statements: list[dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(action, rendered resource, statement) for every Allow."""
    for s in statements:
        if s["Effect"] != "Allow":
            continue
        for action in as_list(s["Action"]):
            for resource in as_list(s["Resource"]):
                yield action, render(resource), s


def denies(statements: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for s in statements:
        if s["Effect"] == "Deny":
            for action in as_list(s["Action"]):
                for resource in as_list(s["Resource"]):
                    yield action, render(resource)


def contract_functions() -> dict[str, str]:
    """Logical id -> CodeUri, from the table in docs/reference/contracts.md."""
    text = (ROOT / "docs" / "reference" / "contracts.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\|\s*`?(\w+Function)`?\s*\|\s*`?(functions/[\w/]+)`?\s*\|", text, flags=re.MULTILINE)
    return dict(rows)


def load_asl(uri: str) -> tuple[str, dict[str, Any]]:
    text = (ROOT / uri).read_text(encoding="utf-8")
    return text, json.loads(text)


def walk_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        for nested in ("ItemProcessor", "Iterator"):
            if nested in state:
                yield from walk_states(state[nested]["States"])
        for branch in state.get("Branches", []):
            yield from walk_states(branch["States"])


# ---- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="module")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        packaged = package_template(copy.deepcopy(template), ROOT, "artifacts", "code.zip")
        return to_cloudformation(packaged.template)


@pytest.fixture(scope="module")
def roles(transformed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in transformed["Resources"].items() if v["Type"] == "AWS::IAM::Role"}


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


# ---- shape and contracts ----------------------------------------------------------------------------
def test_is_a_sam_template_with_the_contract_parameters(template: dict[str, Any]) -> None:
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    params = template["Parameters"]
    assert {k: params[k]["Default"] for k in ("PollSeconds", "BatchSize", "DefaultRetentionDays", "LogLevel",
                                               "VaultLockMode", "VaultDefaultRetentionDays")} == {
        "PollSeconds": 30, "BatchSize": 1000, "DefaultRetentionDays": 35, "LogLevel": "INFO",
        "VaultLockMode": "GOVERNANCE", "VaultDefaultRetentionDays": 1}
    assert params["VaultLockMode"]["AllowedValues"] == ["GOVERNANCE", "COMPLIANCE"]
    assert params["OperatorRoleArn"]["Default"] == ""


def test_every_contract_function_exists_with_its_code(resources: dict[str, Any]) -> None:
    expected = contract_functions()
    assert len(expected) == 36, expected  # with RenewLocks, Notify and ResumeNative (native backups' event waits)
    functions = of_type(resources, "AWS::Serverless::Function")
    assert set(functions) == set(expected)
    for logical_id, code_uri in expected.items():
        assert functions[logical_id]["Properties"]["CodeUri"].rstrip("/") == code_uri.rstrip("/"), logical_id
        assert (ROOT / code_uri / "app.py").is_file(), f"{code_uri}app.py is missing"


def test_function_globals(template: dict[str, Any], resources: dict[str, Any]) -> None:
    g = template["Globals"]["Function"]
    # python3.11 can no longer be created in Lambda (deprecated 2026-06-30); python3.13 is supported to 2029-06-30
    assert (g["Runtime"], g["Handler"], g["Tracing"]) == ("python3.13", "app.lambda_handler", "Active")
    assert g["Layers"] == [{"Ref": "CofferLayer"}]
    env = g["Environment"]["Variables"]
    for name, value in ENV_CONTRACT.items():
        assert env.get(name) == value, name
    for fn in of_type(resources, "AWS::Serverless::Function").values():
        props = fn["Properties"]
        for key in ("Runtime", "Handler", "Layers", "Architectures", "Environment"):
            assert key not in props, f"{key} belongs in Globals"


def test_layer_is_built_for_the_functions_architecture(template: dict[str, Any], resources: dict[str, Any]) -> None:
    layer = resources["CofferLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"].rstrip("/") == "layers"
    runtime = template["Globals"]["Function"]["Runtime"]
    # built by and for the functions' runtime: its binary wheels (pydantic-core) are per Python version
    assert layer["Metadata"]["BuildMethod"] == runtime
    assert layer["Properties"]["CompatibleRuntimes"] == [runtime]
    architectures = template["Globals"]["Function"]["Architectures"]
    assert len(architectures) == 1
    # Without BuildArchitecture `sam build` makes an x86_64 layer, whatever the functions run on.
    assert layer["Metadata"]["BuildArchitecture"] == architectures[0]
    assert layer["Properties"]["CompatibleArchitectures"] == architectures


def test_layer_requirements_are_pinned() -> None:
    lines = [line.strip() for line in (ROOT / "layers" / "requirements.txt").read_text().splitlines()]
    requirements = [line for line in lines if line and not line.startswith("#")]
    assert requirements and all("==" in r for r in requirements), requirements
    names = {r.split("==")[0] for r in requirements}
    assert {"aws-lambda-powertools[tracer,parser]", "pydantic"} <= names


# ---- storage ----------------------------------------------------------------------------------------
def _bucket_policies(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """bucket logical id -> its BucketPolicy's PolicyDocument"""
    return {p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]
            for p in of_type(resources, "AWS::S3::BucketPolicy").values()}


def test_every_bucket_is_encrypted_private_and_tls_only(resources: dict[str, Any]) -> None:
    buckets = of_type(resources, "AWS::S3::Bucket")
    assert {"VaultBucket", "WorkBucket"} <= set(buckets)
    policies = _bucket_policies(resources)
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", name
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": ["VaultKey", "Arn"]}
        assert rule["BucketKeyEnabled"] is True
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}, name
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        tls = [s for s in policies[name]["Statement"]
               if s["Effect"] == "Deny"
               and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
        assert tls, f"{name} has no deny-non-TLS statement"
        covered = {render(r) for s in tls for r in as_list(s["Resource"])}
        assert {f"${{{name}.Arn}}", f"${{{name}.Arn}}/*"} <= covered, name
        assert all(s["Principal"] == "*" and "s3:*" in as_list(s["Action"]) for s in tls)


def test_vault_is_object_locked_versioned_and_kept(resources: dict[str, Any]) -> None:
    vault = resources["VaultBucket"]
    props = vault["Properties"]
    assert props["ObjectLockEnabled"] is True
    lock = props["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"] == {"Mode": {"Ref": "VaultLockMode"},
                                                "Days": {"Ref": "VaultDefaultRetentionDays"}}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert (vault["DeletionPolicy"], vault["UpdateReplacePolicy"]) == ("Retain", "Retain")
    for rule in props.get("LifecycleConfiguration", {}).get("Rules", []):
        assert not {"ExpirationInDays", "ExpirationDate", "NoncurrentVersionExpiration"} & set(rule), rule


def test_vault_policy_denies_the_governance_bypass_to_all_but_the_operator(resources: dict[str, Any],
                                                                             template: dict[str, Any]) -> None:
    [guard] = [s for s in _bucket_policies(resources)["VaultBucket"]["Statement"]
               if "s3:BypassGovernanceRetention" in as_list(s["Action"])]
    assert guard["Effect"] == "Deny" and guard["Principal"] == "*"
    assert as_list(guard["Action"]) == ["s3:BypassGovernanceRetention"]
    assert render(guard["Resource"]) == "${VaultBucket.Arn}/*"
    # Operator role given: everyone else is denied. Empty parameter: no condition, so everyone is denied.
    condition = guard["Condition"]["Fn::If"]
    assert condition[0] == "HasOperatorRole"
    assert condition[1] == {"ArnNotEquals": {"aws:PrincipalArn": {"Ref": "OperatorRoleArn"}}}
    assert condition[2] == {"Ref": "AWS::NoValue"}
    assert template["Conditions"]["HasOperatorRole"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "OperatorRoleArn"}, ""]}]}


def test_vault_policy_denies_version_deletion_to_all_but_the_operator_and_the_sweep_deleters(
        resources: dict[str, Any]) -> None:
    # S3 Object Lock refuses deleting a locked or held version to everyone without the bypass; the lifecycle
    # sweep's two deleting functions need s3:DeleteObjectVersion for what is no longer locked.
    [guard] = [s for s in _bucket_policies(resources)["VaultBucket"]["Statement"]
               if "s3:DeleteObjectVersion" in as_list(s["Action"])]
    assert (guard["Effect"], guard["Principal"], as_list(guard["Action"])) == ("Deny", "*", ["s3:DeleteObjectVersion"])
    assert render(guard["Resource"]) == "${VaultBucket.Arn}/*"
    condition, with_operator, without = guard["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]["Fn::If"]
    sweepers = [{"Fn::GetAtt": [f"{f}Role", "Arn"]} for f in SWEEP_DELETERS]
    assert condition == "HasOperatorRole"
    assert with_operator == [{"Ref": "OperatorRoleArn"}, *sweepers]
    assert without == sweepers


def test_vault_policy_denies_delete_markers_to_all_but_the_operator(resources: dict[str, Any]) -> None:
    # Object Lock protects versions; a DeleteObject without a version id only adds a delete marker, which
    # S3 allows on a locked object and which hides it from restores.
    statements = _bucket_policies(resources)["VaultBucket"]["Statement"]
    [guard] = [s for s in statements if s.get("Sid") == "DenyDeleteMarkers"]
    assert (guard["Effect"], guard["Principal"], as_list(guard["Action"])) == ("Deny", "*", ["s3:DeleteObject"])
    assert render(guard["Resource"]) == "${VaultBucket.Arn}/*"
    assert guard["Condition"]["Fn::If"] == [
        "HasOperatorRole", {"ArnNotEquals": {"aws:PrincipalArn": {"Ref": "OperatorRoleArn"}}}, {"Ref": "AWS::NoValue"}]


def test_vault_policy_denies_re_encryption_with_another_key(resources: dict[str, Any]) -> None:
    statements = {s.get("Sid"): s for s in _bucket_policies(resources)["VaultBucket"]["Statement"]}
    other_sse = statements["DenyEncryptionOtherThanKms"]
    assert (other_sse["Effect"], other_sse["Principal"], other_sse["Action"]) == ("Deny", "*", "s3:PutObject")
    assert other_sse["Condition"] == {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                                      "Null": {"s3:x-amz-server-side-encryption": "false"}}
    foreign = statements["DenyKmsKeysOfOtherAccounts"]
    assert (foreign["Effect"], foreign["Principal"], foreign["Action"]) == ("Deny", "*", "s3:PutObject")
    key_id = "s3:x-amz-server-side-encryption-aws-kms-key-id"
    assert render(foreign["Condition"]["StringNotLike"][key_id]) == \
        "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"
    assert foreign["Condition"]["Null"] == {key_id: "false"}
    for statement in (other_sse, foreign):
        assert render(statement["Resource"]) == "${VaultBucket.Arn}/*"


def test_vault_keys_are_usable_only_through_s3_and_only_when_tagged_for_this_stack(roles: dict[str, Any]) -> None:
    users = set()
    for name, role in roles.items():
        for action, resource, statement in allows(statements_of_role(role)):
            if statement.get("Sid") == "VaultKeysThroughS3" and resource.endswith(":key/*"):
                users.add(name.removesuffix("Role"))
                condition = statement["Condition"]["StringEquals"]
                assert render(condition["kms:ViaService"]) == "s3.${AWS::Region}.amazonaws.com", name
                assert condition["aws:ResourceTag/coffer:stack"] == {"Ref": "AWS::StackName"}, name
                assert action in {"kms:Decrypt", "kms:GenerateDataKey"}, (name, action)
    # Every function that writes or reads vault objects encrypted with a vault's own key.
    assert {"CopyBatchFunction", "CompleteBackupFunction", "StartRestoreJobFunction", "RestoreBatchFunction",
            "CompleteRestoreFunction", "VerifyBatchFunction"} <= users


def test_verify_functions_never_write_delete_or_unlock_the_vault(roles: dict[str, Any]) -> None:
    for function in VERIFY_FUNCTIONS:
        for action, resource, _ in allows(_function_role(roles, function)):
            if "VaultBucket" in resource:  # reads only: objects and their versions, locks and holds; the rules
                assert action in {"s3:ListBucket", "s3:GetObject", "s3:GetObjectAttributes", "s3:GetObjectVersion",
                                  "s3:GetObjectVersionAttributes", "s3:GetObjectRetention", "s3:GetObjectLegalHold",
                                  "s3:ListBucketVersions", "s3:GetBucketPolicy", "s3:GetBucketVersioning",
                                  "s3:GetBucketObjectLockConfiguration"}, (function, action)
    granted = {(a, r) for a, r, _ in allows(_function_role(roles, "CompleteVerifyFunction"))}
    # the catalog; besides, since the audit chain is verified (issue 18): the chain head's record read (audit/ only,
    # with the vault key to decrypt it) and a broken chain told to the stack's notification topic
    others = {(a, r) for a, r in granted if a not in CATALOG_ACTIONS}
    assert {a for a, _ in granted} - {a for a, _ in others} == CATALOG_ACTIONS
    assert {(a, r) for a, r in others if a == "s3:GetObject"} and all(
        "/audit/*" in r for a, r in others if a.startswith("s3:")), others
    assert {a for a, _ in others} == {"s3:GetObject", "kms:Decrypt", "sns:Publish", "kms:GenerateDataKey*"}, others
    assert all("NotificationTopic" in r for a, r in others if a == "sns:Publish"), others


def test_verify_schedule_starts_only_the_verify_workflow(resources: dict[str, Any]) -> None:
    schedule = resources["VerifySchedule"]["Properties"]
    assert schedule["ScheduleExpression"] == {"Ref": "VerifyScheduleExpression"}
    assert schedule["Target"]["Arn"] == {"Ref": "VerifyStateMachine"}
    assert json.loads(schedule["Target"]["Input"]) == {"vaults": [], "deep": False}
    role = resources[schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    [statement] = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert (statement["Effect"], statement["Action"], statement["Resource"]) == (
        "Allow", "states:StartExecution", {"Ref": "VerifyStateMachine"})


def test_sweep_schedule_starts_only_the_sweep_workflow_daily(resources: dict[str, Any],
                                                             template: dict[str, Any]) -> None:
    schedule = resources["SweepSchedule"]["Properties"]
    assert schedule["ScheduleExpression"] == {"Ref": "SweepScheduleExpression"}
    assert template["Parameters"]["SweepScheduleExpression"]["Default"] == "cron(0 3 * * ? *)"
    assert schedule["Target"]["Arn"] == {"Ref": "SweepStateMachine"}
    role = resources[schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    [statement] = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert (statement["Effect"], statement["Action"], statement["Resource"]) == (
        "Allow", "states:StartExecution", {"Ref": "SweepStateMachine"})


def test_work_bucket_is_scratch(resources: dict[str, Any]) -> None:
    rule, staging = resources["WorkBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == 7
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    # CopyBatch's staging copies are removed by this rule, not one DeleteObject each (domain/manifest.py WorkLayout)
    assert (staging["Status"], staging["Prefix"], staging["ExpirationInDays"]) == (
        "Enabled", WorkLayout.STAGING_PREFIX, 1)
    assert WorkLayout.staging("job", 0, 0).startswith(WorkLayout.STAGING_PREFIX)
    # a large object's staging copy is read by steps that may run days later: the week's scratch rule, not the day's
    assert not WorkLayout.large_staging("job", 0, 0).startswith(WorkLayout.STAGING_PREFIX)


def test_catalog_table(resources: dict[str, Any]) -> None:
    table = resources["CatalogTable"]
    props = table["Properties"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                  {"AttributeName": "sk", "KeyType": "RANGE"}]
    [gsi] = props["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "gsi1"
    assert gsi["KeySchema"] == [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                                {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        "pk": "S", "sk": "S", "gsi1pk": "S", "gsi1sk": "S"}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["DeletionProtectionEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}


def test_vault_key(resources: dict[str, Any]) -> None:
    key = resources["VaultKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    # The key policy lets the account administer the key and IAM grant its use, except what would destroy or share
    # it (tests/security/test_vault_key.py tries each as an administrator); the policy denies PutKeyPolicy to its
    # own creator too, which KMS's lockout safety check would refuse.
    allow, destroy, grants = key["Properties"]["KeyPolicy"]["Statement"]
    assert (allow["Effect"], allow["Action"]) == ("Allow", "kms:*")
    assert allow["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert (destroy["Sid"], destroy["Effect"], destroy["Principal"]) == (
        "OnlyBreakGlassDisablesDeletesOrRewritesTheKey", "Deny", "*")
    assert set(destroy["Action"]) == {"kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"}
    assert destroy["Condition"]["Fn::If"] == [
        "HasBreakGlassRole", {"ArnNotEquals": {"aws:PrincipalArn": {"Ref": "BreakGlassRoleArn"}}},
        {"Ref": "AWS::NoValue"}]
    assert (grants["Sid"], grants["Effect"], grants["Action"]) == (
        "GrantsOnlyToCopyRolesOrAwsServices", "Deny", "kms:CreateGrant")
    with_break_glass, without = grants["Condition"]["Fn::If"][1:]
    for condition in (with_break_glass, without):
        assert condition["BoolIfExists"] == {"kms:GrantIsForAWSResource": "false"}
        assert "kms:GranteePrincipal" in condition["StringNotEquals"]
    assert with_break_glass["ArnNotEquals"] == {"aws:PrincipalArn": {"Ref": "BreakGlassRoleArn"}}
    assert "ArnNotEquals" not in without
    assert key["Properties"]["BypassPolicyLockoutSafetyCheck"] is True
    assert resources["VaultKeyAlias"]["Properties"]["TargetKeyId"] == {"Ref": "VaultKey"}


def _vault_statement(resources: dict[str, Any], sid: str) -> dict[str, Any]:
    [found] = [s for s in _bucket_policies(resources)["VaultBucket"]["Statement"] if s.get("Sid") == sid]
    return found


def _named(value: Any) -> set[str]:
    """Role logical ids (GetAtt X.Arn) and parameter names (Ref X) in a condition's value, through every !If."""
    if isinstance(value, list):
        return set().union(*(_named(v) for v in value)) if value else set()
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return {value["Fn::GetAtt"][0]}
    if isinstance(value, dict) and "Ref" in value:
        return {value["Ref"]}
    if isinstance(value, dict) and "Fn::If" in value:
        return _named(value["Fn::If"][1:])
    if isinstance(value, dict) and "Fn::Sub" in value:
        return {render(value)}
    return set()


#: bucket policy statement -> the prefix of the vault it keeps to its writers
WRITER_STATEMENTS = {"OnlyBackupWritersWriteBlobs": "${VaultBucket.Arn}/vaults/*/blobs/*",
                     "OnlyBackupWritersWriteRecoveryPoints": "${VaultBucket.Arn}/vaults/*/recovery-points/*",
                     "OnlyOperatorWritesVaultDescriptors": "${VaultBucket.Arn}/vaults/*/vault.json",
                     "OnlyAuditWritersWriteAudit": "${VaultBucket.Arn}/audit/*"}
COPY_ROLE = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${CopyRoleName}"


def test_vault_policy_names_who_writes_each_prefix_and_nothing_else_is_written(resources: dict[str, Any],
                                                                                roles: dict[str, Any]) -> None:
    # The layout the statements follow is the code's (VaultLayout, the audit log's keys).
    from coffer.domain.audit import AUDIT_PREFIX
    from coffer.domain.manifest import VaultLayout

    written: dict[str, set[str]] = {}
    for sid, prefix in WRITER_STATEMENTS.items():
        statement = _vault_statement(resources, sid)
        assert (statement["Effect"], statement["Principal"]) == ("Deny", "*")
        assert set(as_list(statement["Action"])) == {"s3:PutObject", "s3:PutObjectRetention"}
        assert render(statement["Resource"]) == prefix
        condition = statement["Condition"]
        condition = condition["Fn::If"][1] if "Fn::If" in condition else condition  # else: nobody
        written[sid] = _named(condition["ArnNotEquals"]["aws:PrincipalArn"])
    assert written["OnlyBackupWritersWriteRecoveryPoints"] == written["OnlyBackupWritersWriteBlobs"] | {
        "CompleteBackupFunctionRole"}
    assert COPY_ROLE in written["OnlyBackupWritersWriteBlobs"]  # copies into this stack's vaults
    assert written["OnlyOperatorWritesVaultDescriptors"] == {"OperatorRoleArn"}
    # audit/: RecordAudit, CompleteBackup (backup.complete), the copy role (copy.complete into this stack's chain)
    assert written["OnlyAuditWritersWriteAudit"] == {"RecordAuditFunctionRole", "CompleteBackupFunctionRole", COPY_ROLE,
                                                     "OperatorRoleArn", "LegalHoldRoleArn"}
    # Every function role whose own policy writes the vault is named, and no role that does not.
    vault_writers = {name for name, role in roles.items()
                     for a, r, _ in allows(statements_of_role(role))
                     if a in {"s3:PutObject", "s3:PutObjectRetention"} and "VaultBucket" in r}
    named_roles = {n for names in written.values() for n in names if n.endswith("Role")}
    assert named_roles == vault_writers
    # Nothing lands outside the layout: every key the code writes is under one of the prefixes, and the rest is
    # refused to everyone.
    outside = _vault_statement(resources, "NothingWrittenOutsideTheLayout")
    assert "Condition" not in outside and "Resource" not in outside
    assert sorted(render(r) for r in outside["NotResource"]) == sorted(WRITER_STATEMENTS.values())
    keys = [VaultLayout.blob("v", "ab"), VaultLayout.composite_blob("v", "ab", 3), VaultLayout.manifest("v", "rp"),
            VaultLayout.part("v", "rp", 1), "vaults/v/vault.json", f"{AUDIT_PREFIX}000000000001.json"]
    for key in keys:
        assert any(re.fullmatch(p.replace("${VaultBucket.Arn}/", "").replace("*", ".*"), key)
                   for p in WRITER_STATEMENTS.values()), key


def test_vault_policy_reserves_legal_holds_tags_and_its_own_rules(resources: dict[str, Any]) -> None:
    holds = _vault_statement(resources, "OnlyLegalHoldRolesChangeLegalHolds")
    assert (holds["Effect"], holds["Principal"], holds["Action"]) == ("Deny", "*", "s3:PutObjectLegalHold")
    assert holds["Condition"]["Fn::If"][0] == "HasOperatorOrLegalHoldRole"
    assert holds["Condition"]["Fn::If"][2] == {"Ref": "AWS::NoValue"}  # neither role: nobody
    assert _named(holds["Condition"]["Fn::If"][1]["ArnNotEquals"]["aws:PrincipalArn"]) == {
        "OperatorRoleArn", "LegalHoldRoleArn"}
    tags = _vault_statement(resources, "OnlyTieringTagsVaultObjects")
    assert _named(tags["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) == {
        "CopyBatchFunctionRole", "CopyLargeObjectFunctionRole", "MovePartToColdFunctionRole"}
    rules = _vault_statement(resources, "OnlyOperatorOrBreakGlassChangesTheRules")
    assert set(rules["Action"]) == {"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutLifecycleConfiguration",
                                    "s3:PutBucketObjectLockConfiguration"}
    assert rules["Resource"] == {"Fn::GetAtt": ["VaultBucket", "Arn"]}
    assert rules["Condition"]["Fn::If"][0] == "HasOperatorOrBreakGlassRole"
    assert rules["Condition"]["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    assert _named(rules["Condition"]["Fn::If"][1]["ArnNotEquals"]["aws:PrincipalArn"]) == {
        "OperatorRoleArn", "BreakGlassRoleArn"}


#: function -> (its "any bucket / any table" statement's Deny Sid on the stack's own, the actions it denies there)
OWN_RESOURCE_DENIES = {
    "StartBackupJobFunction": ("NeverBackUpTheStacksOwn", {"s3:GetBucketLocation", "dynamodb:CreateBackup"}),
    "ListBatchesFunction": ("NeverReadTheVault", {"s3:ListBucket", "s3:GetObject"}),
    "StartRestoreJobFunction": ("NeverRestoreIntoTheStacksOwn", {
        "s3:CreateBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning", "dynamodb:RestoreTableFromBackup",
        "dynamodb:ImportTable", "dynamodb:RestoreTableToPointInTime"}),
    # (DeleteObject(Version): a restore deletes the version it wrote whose checksum is not the manifest's)
    "RestoreBatchFunction": ("NeverRestoreIntoTheVault", {"s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject",
                                                          "s3:DeleteObjectVersion"}),
    "StartCopyJobFunction": ("NeverExportTheCatalog", {"dynamodb:ExportTableToPointInTime"}),
    "EnableContinuousBackupFunction": ("NeverTheCatalogsRecovery", {"dynamodb:UpdateContinuousBackups"}),
}


@pytest.mark.parametrize("function", sorted(OWN_RESOURCE_DENIES))
def test_roles_reading_any_source_or_writing_any_target_are_denied_the_stacks_own(function: str,
                                                                                  roles: dict[str, Any]) -> None:
    sid, actions = OWN_RESOURCE_DENIES[function]
    [statement] = [s for s in _function_role(roles, function) if s.get("Sid") == sid]
    assert statement["Effect"] == "Deny" and set(as_list(statement["Action"])) == actions
    assert {render(r).split("}")[0] + "}" for r in as_list(statement["Resource"])} <= {
        "${VaultBucket.Arn}", "${WorkBucket.Arn}", "${CatalogTable.Arn}"}
    # Each allows the denied actions on "any" resource: the Deny is what keeps Coffer's own out.
    granted = {a for a, r, _ in allows(_function_role(roles, function)) if "*" in r}
    assert actions <= granted, (function, actions - granted)


# ---- IAM --------------------------------------------------------------------------------------------
def test_no_wildcard_actions_and_resource_star_only_where_aws_requires_it(roles: dict[str, Any]) -> None:
    assert roles
    for name, role in roles.items():
        for s in statements_of_role(role):
            assert "NotAction" not in s and "NotResource" not in s, (name, s)
        for action, resource, _ in allows(statements_of_role(role)):
            assert action != "*" and not action.endswith(":*"), (name, action)
            assert "*" not in action.split(":", 1)[1] or action.endswith("GenerateDataKey*"), (name, action)
            if resource == "*":
                assert action in STAR_RESOURCE_ACTIONS, (name, action)


def test_only_known_managed_policies(roles: dict[str, Any]) -> None:
    for name, role in roles.items():
        assert set(role["Properties"].get("ManagedPolicyArns", [])) <= MANAGED_POLICIES, name


#: a restore deletes, in its target bucket (any of the account's), only the version it wrote whose SHA-256 is not the
#: manifest's: RestoreBatch's role may delete in any bucket of the account but the stack's own, which it denies itself
RESTORE_DISCARDS = {("RestoreBatchFunctionRole", "s3:DeleteObject"),
                    ("RestoreBatchFunctionRole", "s3:DeleteObjectVersion")}


def test_no_role_can_destroy_or_unlock_the_vault(roles: dict[str, Any]) -> None:
    deleters = {f"{function}Role": prefix for function, prefix in SWEEP_DELETERS.items()}
    for name, role in roles.items():
        for action, resource, _ in allows(statements_of_role(role)):
            if action == "s3:DeleteObjectVersion" and name in deleters:
                # the one exception: the sweep deletes versions on its own prefix, never bypassing governance
                assert resource == deleters[name], (name, resource)
                continue
            if (name, action) in RESTORE_DISCARDS and resource == "arn:${AWS::Partition}:s3:::*/*":
                # the other: restore targets, the stack's own buckets denied in the role (the vault's policy also
                # denies both to all but the sweep and the operator: DenyVersionDeletion, DenyDeleteMarkers)
                denied = {(a, r) for s in statements_of_role(role) if s["Effect"] == "Deny"
                          for a in as_list(s["Action"]) for r in (render(x) for x in as_list(s["Resource"]))}
                assert {(action, "${VaultBucket.Arn}/*"), (action, "${WorkBucket.Arn}/*")} <= denied, (name, action)
                continue
            if action in VAULT_DESTRUCTIVE:
                assert "VaultBucket" not in resource and not resource.startswith("arn:${AWS::Partition}:s3:::*"), (
                    name, action, resource)
    for name in deleters:
        granted = {(a, r) for a, r, _ in allows(statements_of_role(roles[name]))}
        assert ("s3:DeleteObjectVersion", deleters[name]) in granted


def test_buckets_outside_the_stack_are_pinned_to_this_account(roles: dict[str, Any]) -> None:
    for name, role in roles.items():
        for action, resource, statement in allows(statements_of_role(role)):
            if resource.startswith("arn:${AWS::Partition}:s3:::*") and action != "s3:CreateBucket":
                condition = statement.get("Condition", {}).get("StringEquals", {})
                assert condition.get("s3:ResourceAccount") == {"Ref": "AWS::AccountId"}, (name, action)


def _function_role(roles: dict[str, Any], function: str) -> list[dict[str, Any]]:
    return statements_of_role(roles[f"{function}Role"])


def test_fail_job_only_touches_the_catalog(roles: dict[str, Any]) -> None:
    statements = _function_role(roles, "FailJobFunction")
    granted = {(a, r) for a, r, _ in allows(statements)}
    # ... and wakes the backup queued behind the job it ends (adapters/catalog_turns.py), nothing else
    wake = {("states:SendTaskSuccess", "*")}
    assert granted & wake == wake
    granted -= wake
    # ... and records a failed copy's leftovers in its destination, through the copy role (CopyJobs.record_left_behind)
    copy_role = {(a, "arn:${AWS::Partition}:iam::*:role/${CopyRoleName}") for a in ("sts:AssumeRole", "sts:TagSession")}
    assert granted & copy_role == copy_role
    granted -= copy_role
    # ... and revokes the KMS grants a failed copy made for its destination (CopyJobs.withdraw_access)
    revoke = {(a, "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*")
              for a in ("kms:ListGrants", "kms:RevokeGrant")}
    assert granted & revoke == revoke
    granted -= revoke
    # ... and withdraws the share a failed cross-account native copy made of its snapshot / AMI / DB snapshot
    # (CopyJobs.withdraw_access): on Coffer's own artefacts only (DescribeImages: an AMI's snapshots)
    unshare = {("ec2:DescribeImages", "*")} | {
        (a, r) for a in ("ec2:ModifySnapshotAttribute", "ec2:ModifyImageAttribute")
        for r in ("arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*",
                  "arn:${AWS::Partition}:ec2:${AWS::Region}::image/*")} | {
        (a, r) for a in ("rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute")
        for r in ("arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:snapshot:coffer-*",
                  "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster-snapshot:coffer-*")}
    assert granted & unshare == unshare
    assert all(s.get("Condition") == {"Null": {"aws:ResourceTag/coffer:recovery-point-id": "false"}}
               for a, _, s in allows(statements) if a.startswith("ec2:Modify"))
    granted -= unshare
    # ... and announces the job's end as a job event (domain/job_events.py): test_job_writers_put_job_events_only...
    granted -= {("events:PutEvents", JOB_EVENTS_BUS)}
    assert {a for a, _ in granted} == CATALOG_ACTIONS
    assert {r for _, r in granted} == {"${CatalogTable.Arn}", "${CatalogTable.Arn}/index/*"}


JOB_EVENTS_BUS = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
#: the functions whose services write job transitions or recovery point statuses (the catalog announces them)
JOB_WRITERS = {"StartBackupJobFunction", "CheckBackupFunction", "AwaitTurnFunction", "CompleteBackupFunction",
               "StartRestoreJobFunction", "CheckRestoreFunction", "CompleteRestoreFunction", "FailJobFunction",
               "StartCopyJobFunction", "CheckCopyFunction", "CopyPartFunction", "CompleteCopyFunction",
               "EnableContinuousBackupFunction", "SweepBatchFunction"}


def test_job_writers_put_job_events_only_on_the_default_bus_and_only_as_coffer(roles: dict[str, Any],
                                                                               template: dict[str, Any]) -> None:
    assert template["Globals"]["Function"]["Environment"]["Variables"]["JOB_EVENTS_BUS"] == "default"
    for function in contract_functions():
        puts = [(r, s) for a, r, s in allows(_function_role(roles, function)) if a == "events:PutEvents"]
        if function not in JOB_WRITERS:
            assert puts == [], function
            continue
        assert [r for r, _ in puts] == [JOB_EVENTS_BUS], function
        # a job writer's role cannot pass off events as AWS Backup's, nor start Coffer's own workflows
        assert puts[0][1]["Condition"] == {"ForAnyValue:StringEquals": {"events:source": "coffer.backup"}}, function


def test_every_function_has_the_catalog(roles: dict[str, Any]) -> None:
    for function in contract_functions():
        if function == "NotifyFunction":  # reads a vault's notification settings, writes nothing: GetItem only
            on_table = {a for a, r, _ in allows(_function_role(roles, function)) if r == "${CatalogTable.Arn}"}
            assert on_table == {"dynamodb:GetItem"}, on_table
            continue
        if function == "ResumeNativeFunction":  # marks a snapshot's end on its waiter record: UpdateItem only
            on_table = {a for a, r, _ in allows(_function_role(roles, function)) if r == "${CatalogTable.Arn}"}
            assert on_table == {"dynamodb:UpdateItem"}, on_table
            continue
        on_table = {a for a, r, _ in allows(_function_role(roles, function)) if r == "${CatalogTable.Arn}"}
        assert on_table >= CATALOG_ACTIONS, function


def test_only_backup_writers_write_the_vault_and_restores_never(roles: dict[str, Any]) -> None:
    # SettlePage lengthens the retention of a recovery point a later plan rule joined (extends its locks,
    # writes a lifecycle amendment beside the manifest).
    # RecordObjectChange copies each changed version of a continuously protected bucket into the vault.
    # CopyLargeObject copies objects of many parts into the vault (UploadPartCopy) and writes their manifest parts.
    writers = {"CopyBatchFunction", "CompleteBackupFunction", "SettlePageFunction", "RecordObjectChangeFunction",
               "CopyLargeObjectFunction"}
    for function in contract_functions():
        statements = _function_role(roles, function)
        writes = {a for a, r, _ in allows(statements)
                  if a in {"s3:PutObject", "s3:PutObjectRetention"} and "VaultBucket" in r}
        if function == "RenewLocksFunction":
            # The lock renewal of kept-forever recovery points extends locks and writes no object.
            where = {r for a, r, _ in allows(statements) if a == "s3:PutObjectRetention"}
            assert writes == {"s3:PutObjectRetention"} and where == {
                "${VaultBucket.Arn}/vaults/*/recovery-points/*", "${VaultBucket.Arn}/vaults/*/blobs/*"}, where
        elif function in writers:
            # An object put under Object Lock needs s3:PutObjectRetention as well as s3:PutObject.
            assert writes == {"s3:PutObject", "s3:PutObjectRetention"}, function
        elif function in AUDIT_WRITERS:
            # The audit log's writer writes records under audit/ and nowhere else in the vault.
            where = {r for a, r, _ in allows(statements)
                     if a in {"s3:PutObject", "s3:PutObjectRetention"} and "VaultBucket" in r}
            assert writes == {"s3:PutObject", "s3:PutObjectRetention"} and where == {"${VaultBucket.Arn}/audit/*"}
        else:
            assert not writes, function
        if function in RESTORE_FUNCTIONS and any(r.startswith("arn:${AWS::Partition}:s3:::*/")
                                                 for a, r, _ in allows(statements) if a == "s3:PutObject"):
            assert ("s3:PutObject", "${VaultBucket.Arn}/*") in set(denies(statements)), function


def test_backup_functions_write_no_bucket_but_their_own(roles: dict[str, Any]) -> None:
    for function in BACKUP_FUNCTIONS:
        for action, resource, _ in allows(_function_role(roles, function)):
            if action.startswith("s3:Put") or action.startswith("s3:Delete") or action == "s3:CreateBucket":
                assert "VaultBucket" in resource or "WorkBucket" in resource, (function, action, resource)


def test_only_the_restore_start_creates_buckets_and_tables(roles: dict[str, Any]) -> None:
    for function in contract_functions():
        actions = {a for a, _, _ in allows(_function_role(roles, function))}
        if function != "StartRestoreJobFunction":
            assert not {"s3:CreateBucket", "dynamodb:RestoreTableFromBackup", "dynamodb:RestoreTableToPointInTime",
                        "rds:RestoreDBInstanceToPointInTime"} & actions, function


def test_only_enable_continuous_backup_changes_a_sources_protection_and_never_the_stacks_buckets(
        roles: dict[str, Any]) -> None:
    changes = {"s3:PutBucketNotification", "dynamodb:UpdateContinuousBackups", "rds:ModifyDBInstance"}
    for function in contract_functions():
        granted = {a for a, _, _ in allows(_function_role(roles, function))}
        if function != "EnableContinuousBackupFunction":
            assert not changes & granted, function
    statements = _function_role(roles, "EnableContinuousBackupFunction")
    assert {a for a, _, _ in allows(statements)} >= changes
    # It reads no object data and writes no object anywhere; the stack's own buckets keep their notifications.
    assert not {a for a, _, _ in allows(statements) if a.startswith("s3:") and "Object" in a}
    assert {("s3:PutBucketNotification", "${VaultBucket.Arn}"),
            ("s3:PutBucketNotification", "${WorkBucket.Arn}")} <= set(denies(statements))


def test_object_changes_reach_only_record_object_change_with_a_dead_letter_queue(
        resources: dict[str, Any], transformed: dict[str, Any]) -> None:
    rule = resources["ObjectChangeRule"]["Properties"]
    # (tag events too: they mark the keys whose tags the next S3 backup reads, domain/tag_freshness.py)
    assert rule["EventPattern"] == {"source": ["aws.s3"], "detail-type": [
        "Object Created", "Object Deleted", "Object Tags Added", "Object Tags Deleted"]}
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["RecordObjectChangeFunction", "Arn"]}
    permission = resources["ObjectChangeRulePermission"]["Properties"]
    assert (permission["Principal"], permission["SourceArn"]) == (
        "events.amazonaws.com", {"Fn::GetAtt": ["ObjectChangeRule", "Arn"]})
    function = transformed["Resources"]["RecordObjectChangeFunction"]["Properties"]
    assert function["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["ObjectChangeDeadLetterQueue", "Arn"]}}


def test_snapshot_ends_reach_only_resume_native_which_can_touch_only_waiter_records(
        resources: dict[str, Any], roles: dict[str, dict[str, Any]]) -> None:
    """AWS's snapshot end events (and restore targets' creations) go to ResumeNative alone; it writes only NATIVE#
    waiter records, reads snapshots (RDS: Coffer's coffer-* only) and restore targets (volumes; DB instances and
    clusters of this account and region) and resumes tasks - no job, lease or vault write (domain/native_waits.py)."""
    rule = resources["NativeEndRule"]["Properties"]
    sources = sorted(p["source"][0] for p in rule["EventPattern"]["$or"])
    assert sources == ["aws.ec2", "aws.rds"]
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ResumeNativeFunction", "Arn"]}
    permission = resources["NativeEndRulePermission"]["Properties"]
    assert (permission["Principal"], permission["SourceArn"]) == (
        "events.amazonaws.com", {"Fn::GetAtt": ["NativeEndRule", "Arn"]})
    [role] = [r for name, r in roles.items() if name.startswith("ResumeNativeFunction")]
    granted = sorted({action for action, _, _ in allows(statements_of_role(role))})
    # (restores, issue 16: the restore target's Describe - ec2:DescribeVolumes, rds:DescribeDBInstances/Clusters)
    assert granted == ["dynamodb:UpdateItem", "ec2:DescribeSnapshots", "ec2:DescribeVolumes",
                       "rds:DescribeDBClusterSnapshots", "rds:DescribeDBClusters", "rds:DescribeDBInstances",
                       "rds:DescribeDBSnapshots", "states:SendTaskFailure", "states:SendTaskSuccess"]
    for action, resource, statement in allows(statements_of_role(role)):
        if action == "dynamodb:UpdateItem":
            assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["NATIVE#*"]}}
        if action in ("rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"):
            assert resource.rsplit(":", 1)[-1] == "coffer-*", resource
        elif action.startswith("rds:"):  # a restore target: the caller names it; this account and region only
            assert resource.split(":")[-2:] in (["db", "*"], ["cluster", "*"]), resource
            assert "${AWS::AccountId}" in resource and "${AWS::Region}" in resource, resource
    # restores' ends: their own rule, to the same function; RDS creations of Coffer's restores only (their tag)
    restore_rule = resources["NativeRestoreEndRule"]["Properties"]
    assert [t["Arn"] for t in restore_rule["Targets"]] == [{"Fn::GetAtt": ["ResumeNativeFunction", "Arn"]}]
    for pattern in restore_rule["EventPattern"]["$or"]:
        if pattern["source"] == ["aws.rds"]:
            assert pattern["detail"]["Tags"] == {"coffer:restore-job-id": [{"exists": True}]}, pattern
    permission = resources["NativeRestoreEndRulePermission"]["Properties"]
    assert permission["SourceArn"] == {"Fn::GetAtt": ["NativeRestoreEndRule", "Arn"]}
    restore_machine = resources["RestoreStateMachine"]["Properties"]["Policies"]
    [restore_park] = [s for p in restore_machine if isinstance(p, dict) and "Statement" in p for s in p["Statement"]
                      if s.get("Sid") == "ParkOnRestoreEvents"]
    assert restore_park["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["NATIVE#*"]}}
    # the Backup workflow parks its token itself: UpdateItem of waiter records only
    machine = resources["BackupStateMachine"]["Properties"]["Policies"]
    [park] = [s for p in machine if isinstance(p, dict) and "Statement" in p for s in p["Statement"]
              if s.get("Sid") == "ParkOnSnapshotEvents"]
    assert park["Action"] == "dynamodb:UpdateItem"
    assert park["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["NATIVE#*"]}}


# ---- workflows --------------------------------------------------------------------------------------
STATE_MACHINES = ("BackupStateMachine", "RestoreStateMachine", "VerifyStateMachine", "PlanRunStateMachine",
                  "CopyStateMachine", "SweepStateMachine")


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_every_asl_substitution_is_defined(machine: str, resources: dict[str, Any]) -> None:
    props = resources[machine]["Properties"]
    text, _ = load_asl(props["DefinitionUri"])
    used = set(SUBSTITUTION.findall(text))
    defined = set(props["DefinitionSubstitutions"])
    assert used, f"{props['DefinitionUri']} uses no substitution at all"
    assert used <= defined, f"{props['DefinitionUri']} uses undefined {sorted(used - defined)}"


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_substitutions_follow_the_contract(machine: str, resources: dict[str, Any]) -> None:
    subs = resources[machine]["Properties"]["DefinitionSubstitutions"]
    assert subs["WorkBucket"] == {"Ref": "WorkBucket"}
    assert subs["VaultBucket"] == {"Ref": "VaultBucket"}
    functions = contract_functions()
    for key, value in subs.items():
        if key.endswith("FunctionArn"):
            logical_id = key.removesuffix("Arn")
            assert logical_id in functions, key
            assert value == {"Fn::GetAtt": [logical_id, "Arn"]}, key


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_state_machine_invokes_exactly_the_functions_its_asl_uses(machine: str, resources: dict[str, Any]) -> None:
    props = resources[machine]["Properties"]
    text, _ = load_asl(props["DefinitionUri"])
    used = {name.removesuffix("Arn") for name in SUBSTITUTION.findall(text) if name.endswith("FunctionArn")}
    invokable = {p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in props["Policies"]
                 if isinstance(p, dict) and "LambdaInvokePolicy" in p}
    assert used == invokable


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_state_machine_settings(machine: str, resources: dict[str, Any]) -> None:
    props = resources[machine]["Properties"]
    assert props["Type"] == "STANDARD"
    assert props["Tracing"] == {"Enabled": True}
    assert props["Logging"]["Level"] in {"ERROR", "FATAL"}
    [destination] = props["Logging"]["Destinations"]
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert resources[log_group]["Properties"]["RetentionInDays"]


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_the_substituted_asl_is_valid_json(machine: str, resources: dict[str, Any]) -> None:
    props = resources[machine]["Properties"]
    text, _ = load_asl(props["DefinitionUri"])
    substituted = SUBSTITUTION.sub(lambda m: f"substituted-{m.group(1)}", text)
    definition = json.loads(substituted)
    assert definition["StartAt"] in definition["States"]


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_distributed_maps_have_what_they_need(machine: str, resources: dict[str, Any],
                                              roles: dict[str, Any]) -> None:
    props = resources[machine]["Properties"]
    _, asl = load_asl(props["DefinitionUri"])
    statements = statements_of_role(roles[f"{machine}Role"])
    granted = {(a, r) for a, r, _ in allows(statements)}
    maps = [s for _, s in walk_states(asl["States"])
            if s["Type"] == "Map"
            and s.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"]
    name = render(props["Name"])
    assert name.startswith("${AWS::StackName}-")
    if maps:
        arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
        assert ("states:StartExecution", f"{arn}:stateMachine:{name}") in granted
        assert {("states:DescribeExecution", f"{arn}:execution:{name}/*"),
                ("states:StopExecution", f"{arn}:execution:{name}/*")} <= granted
    for state in maps:
        for part in ("ItemReader", "ResultWriter"):
            if part not in state:
                continue
            action, on_objects = MAP_S3_RESOURCES[state[part]["Resource"]]
            [bucket] = SUBSTITUTION.findall(state[part]["Parameters"]["Bucket"])
            resource = f"${{{bucket}.Arn}}/*" if on_objects else f"${{{bucket}.Arn}}"
            assert (action, resource) in granted, (machine, part, action, resource)
            if part == "ResultWriter":
                assert ("s3:AbortMultipartUpload", resource) in granted
        if maps:
            assert {("kms:Decrypt", "${VaultKey.Arn}"), ("kms:GenerateDataKey", "${VaultKey.Arn}")} <= granted


@pytest.mark.parametrize(("rule", "detail_type", "machine", "bus"), [
    ("StartBackupJobRule", "StartBackupJob", "BackupStateMachine", None),
    ("StartRestoreJobRule", "StartRestoreJob", "RestoreStateMachine", {"Ref": "CofferEventBus"}),
    ("StartCopyJobRule", "StartCopyJob", "CopyStateMachine", {"Ref": "CofferEventBus"}),
])
def test_event_rules_start_only_their_workflow(rule: str, detail_type: str, machine: str, bus: Any,
                                               resources: dict[str, Any]) -> None:
    props = resources[rule]["Properties"]
    assert props["EventPattern"] == {"source": ["coffer"], "detail-type": [detail_type]}
    # Backups from the default bus; restores and copies (authorised acts) only from the stack's own bus.
    assert props.get("EventBusName") == bus
    [target] = props["Targets"]
    assert target["Arn"] == {"Ref": machine}
    role = resources[target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    [statement] = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert (statement["Effect"], statement["Action"], statement["Resource"]) == (
        "Allow", "states:StartExecution", {"Ref": machine})


def test_the_request_bus_admits_only_the_named_requesters(template: dict[str, Any],
                                                         resources: dict[str, Any]) -> None:
    bus = resources["CofferEventBus"]["Properties"]
    assert bus["Name"] == {"Fn::Sub": "${AWS::StackName}-requests"}
    condition, policy, otherwise = bus["Policy"]["Fn::If"]
    assert condition == "HasRestoreRequesters" and otherwise == {"Ref": "AWS::NoValue"}
    allow, deny = policy["Statement"]
    arn = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${AWS::StackName}-requests"
    assert (allow["Effect"], allow["Principal"], allow["Action"], render(allow["Resource"])) == (
        "Allow", {"AWS": {"Ref": "RestoreRequesterArns"}}, "events:PutEvents", arn)
    assert (deny["Effect"], deny["Principal"], deny["Action"], render(deny["Resource"])) == (
        "Deny", "*", "events:PutEvents", arn)
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": {"Ref": "RestoreRequesterArns"}}}
    assert template["Outputs"]["CofferEventBusName"]["Value"] == {"Ref": "CofferEventBus"}


def test_outputs_name_every_bucket_table_key_and_state_machine(template: dict[str, Any]) -> None:
    values = [render(o["Value"]) for o in template["Outputs"].values()]
    for logical_id in ("VaultBucket", "WorkBucket", "CatalogTable", "BackupStateMachine", "RestoreStateMachine"):
        assert f"${{{logical_id}}}" in values, logical_id
        assert any(v.startswith(f"${{{logical_id}.") for v in values), logical_id
    assert "${VaultKey.Arn}" in values


def test_samconfig_names_no_account_or_region() -> None:
    text = (ROOT / "samconfig.toml").read_text(encoding="utf-8")
    config = tomllib.loads(text)
    assert config["default"]["global"]["parameters"]["stack_name"] == "coffer"
    deploy = config["default"]["deploy"]["parameters"]
    assert deploy["resolve_s3"] is True and deploy["confirm_changeset"] is True
    assert all("region" not in section.get("parameters", {}) for section in config["default"].values())
    assert not re.search(r"\b\d{12}\b", text), "an account id does not belong in samconfig.toml"


def test_only_this_accounts_alarms_publish_to_the_notification_topic_and_only_over_tls() -> None:
    """The topic's policy (not made on the twin: coffer_twin.twin.NOT_EMULATED) read from the template."""
    policy = load_template(TEMPLATE)["Resources"]["NotificationTopicPolicy"]["Properties"]["PolicyDocument"]
    allow, deny = policy["Statement"]
    assert (allow["Effect"], allow["Principal"], allow["Action"]) == (
        "Allow", {"Service": "cloudwatch.amazonaws.com"}, "sns:Publish")
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert (deny["Effect"], deny["Principal"], deny["Condition"]) == (
        "Deny", "*", {"Bool": {"aws:SecureTransport": "false"}})
