"""Copy destinations on the emulator: Coffer's storage (vault bucket, work bucket, catalog table, vault key) in
another region - or another account - of the same moto, for copies to go to.

In the cloud a destination is a Coffer stack deployed there (template.yaml) plus the copy role of
member/template.yaml in its account. Copies use only its storage and its outputs (adapters/copy_destinations.py),
so the emulator deploys exactly those resources, cut from template.yaml itself, through moto's CloudFormation
(with the twin's fix-ups: the vault bucket really is Object-Locked). moto's STS lets any role be assumed (the
credentials it returns act in the role's account); the copy role itself is deployed from member/template.yaml,
trusting the twin's copy functions, so that with IAM enforced (coffer_twin.iam) copies go through its real policy.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from coffer.adapters.aws_services.copy_destinations import assumed_session
from coffer_twin.cfn_yaml import load_template
from coffer_twin.fixups import TemplateResolver, apply_fixups
from coffer_twin.iam import HARNESS_SESSION
from coffer_twin.stack import create_stack

if TYPE_CHECKING:
    from coffer_cli.local.session import LocalCoffer

#: what a copy uses of a destination stack, and the outputs it reads
STORAGE = ("VaultKey", "VaultBucket", "WorkBucket", "CatalogTable")
PARAMETERS = ("VaultLockMode", "VaultDefaultRetentionDays", "DefaultRetentionDays", "ColdStorageClass",
              "BreakGlassRoleArn", "CopyRoleName", "CopyDestinationRoleArns")
#: the conditions the storage's resources use (VaultKey's policy)
CONDITIONS = ("HasBreakGlassRole", "HasCopyDestinationRoles")
OUTPUTS = {"VaultBucketName": {"Ref": "VaultBucket"}, "WorkBucketName": {"Ref": "WorkBucket"},
           "CatalogTableName": {"Ref": "CatalogTable"}, "VaultKeyArn": {"Fn::GetAtt": ["VaultKey", "Arn"]}}
#: the region the twin's copies go to, and the account standing for "another account"
DESTINATION_REGION = "us-west-2"
OTHER_ACCOUNT = "210987654321"


def storage_template(project_root: Path) -> dict[str, Any]:
    template = load_template(project_root / "template.yaml")
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": {name: copy.deepcopy(template["Parameters"][name]) for name in PARAMETERS},
            "Conditions": {name: copy.deepcopy(template["Conditions"][name]) for name in CONDITIONS},
            "Resources": {name: copy.deepcopy(template["Resources"][name]) for name in STORAGE},
            "Outputs": {name: {"Value": value} for name, value in OUTPUTS.items()}}


def session_in(region: str, account: str | None = None) -> boto3.Session:
    """A session of the emulator in `region`, in `account` (through an assumed role) or the default one."""
    fake = {"AccessKeyId": "testing", "SecretAccessKey": "testing", "SessionToken": "testing"}
    if account is None:
        return assumed_session(fake, region)
    credentials = assumed_session(fake, region).client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/coffer-copy", RoleSessionName=HARNESS_SESSION)["Credentials"]
    return assumed_session(credentials, region)


def deploy_storage(session: boto3.Session, project_root: Path, stack_name: str,
                   parameters: dict[str, str] | None = None) -> dict[str, str]:
    """Deploy Coffer's storage as stack `stack_name` in the session's region and account; return its outputs."""
    template = storage_template(project_root)
    deployed = create_stack(session, stack_name, template, parameters or {})
    account = str(session.client("sts").get_caller_identity()["Account"])
    resolver = TemplateResolver(account, str(session.region_name), stack_name)
    apply_fixups(session, resolver, template, dict(deployed.physical_ids), stack_name)
    return dict(deployed.outputs)


def vault_arn(region: str, account: str, vault: str = "Default") -> str:
    return f"arn:aws:backup:{region}:{account}:backup-vault:{vault}"


#: the functions whose sample events copy to the sample destination (events/index.yaml)
COPY_FUNCTIONS = frozenset({"StartCopyJobFunction", "CheckCopyFunction", "CopyPartFunction", "CompleteCopyFunction"})


#: the stack of member/template.yaml (the copy role) in a destination account
COPY_ROLE_STACK = "coffer-copy-role"


def deploy_copy_role(session: boto3.Session, project_root: Path, coffer: LocalCoffer) -> str:
    """member/template.yaml in the session's account, trusting exactly the twin's copy functions (its
    CopyRoleAssumers output), once per account; returns the copy role's ARN."""
    cfn = session.client("cloudformation")
    try:
        [stack] = cfn.describe_stacks(StackName=COPY_ROLE_STACK)["Stacks"]
        return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "CopyRoleArn")
    except ClientError:
        pass  # not deployed in this account yet
    twin = coffer.twin
    deployed = create_stack(session, COPY_ROLE_STACK, load_template(project_root / "member" / "template.yaml"), {
        "SourceAccountIds": twin.account_id, "SourceRoleArns": twin.outputs["CopyRoleAssumers"],
        "SourceStackName": twin.stack_name, "CofferStackName": twin.stack_name})
    return deployed.outputs["CopyRoleArn"]


def prepare_copy_destination(coffer: LocalCoffer, project_root: Path) -> dict[str, str]:
    """The sample destination: Coffer's storage in DESTINATION_REGION of the twin's account, under the twin's stack
    name (CopyDestinationStackName's default), so `arn:aws:backup:us-west-2:<account>:backup-vault:Default` is a
    vault copies can go to; and the account's copy role (member/template.yaml), which copies go through."""
    session = session_in(DESTINATION_REGION)
    deploy_copy_role(session, project_root, coffer)
    return deploy_storage(session, project_root, coffer.twin.stack_name)
