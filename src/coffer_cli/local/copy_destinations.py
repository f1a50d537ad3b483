"""Copy destinations on the emulator: Coffer's storage (vault bucket, work bucket, catalog table, vault key) in
another region - or another account - of the same moto, for copies to go to.

In the cloud a destination is a Coffer stack deployed there (template.yaml) plus the copy role of
member/template.yaml in its account. Copies use only its storage and its outputs (adapters/copy_destinations.py),
so the emulator deploys exactly those resources, cut from template.yaml itself, through moto's CloudFormation
(with the twin's fix-ups: the vault bucket really is Object-Locked). moto's STS lets any role be assumed (the
credentials it returns act in the role's account), so the copy role needs no stand-in.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from coffer.adapters.aws_services.copy_destinations import assumed_session
from coffer_twin.cfn_yaml import load_template
from coffer_twin.fixups import TemplateResolver, apply_fixups
from coffer_twin.stack import create_stack

if TYPE_CHECKING:
    from coffer_cli.local.session import LocalCoffer

#: what a copy uses of a destination stack, and the outputs it reads
STORAGE = ("VaultKey", "VaultBucket", "WorkBucket", "CatalogTable")
PARAMETERS = ("VaultLockMode", "VaultDefaultRetentionDays", "DefaultRetentionDays", "ColdStorageClass")
OUTPUTS = {"VaultBucketName": {"Ref": "VaultBucket"}, "WorkBucketName": {"Ref": "WorkBucket"},
           "CatalogTableName": {"Ref": "CatalogTable"}, "VaultKeyArn": {"Fn::GetAtt": ["VaultKey", "Arn"]}}
#: the region the twin's copies go to, and the account standing for "another account"
DESTINATION_REGION = "us-west-2"
OTHER_ACCOUNT = "210987654321"


def storage_template(project_root: Path) -> dict[str, Any]:
    template = load_template(project_root / "template.yaml")
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": {name: copy.deepcopy(template["Parameters"][name]) for name in PARAMETERS},
            "Resources": {name: copy.deepcopy(template["Resources"][name]) for name in STORAGE},
            "Outputs": {name: {"Value": value} for name, value in OUTPUTS.items()}}


def session_in(region: str, account: str | None = None) -> boto3.Session:
    """A session of the emulator in `region`, in `account` (through an assumed role) or the default one."""
    fake = {"AccessKeyId": "testing", "SecretAccessKey": "testing", "SessionToken": "testing"}
    if account is None:
        return assumed_session(fake, region)
    credentials = assumed_session(fake, region).client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/coffer-copy", RoleSessionName="coffer-local")["Credentials"]
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


def prepare_copy_destination(coffer: LocalCoffer, project_root: Path) -> dict[str, str]:
    """The sample destination: Coffer's storage in DESTINATION_REGION of the twin's account, under the twin's stack
    name (CopyDestinationStackName's default), so `arn:aws:backup:us-west-2:<account>:backup-vault:Default` is a
    vault copies can go to."""
    return deploy_storage(session_in(DESTINATION_REGION), project_root, coffer.twin.stack_name)
