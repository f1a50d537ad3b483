"""How a copy reaches its destination vault: the copy role in the destination account, then the destination
Coffer stack's outputs in the destination region.

A destination vault ARN names a region, an account and a vault. The destination is the Coffer stack deployed
there under the stack name `Settings.copy_destination_stack` (the CopyDestinationStackName parameter; by
default the source stack's own name, i.e. "deploy Coffer under the same name in every region and account").
It is reached through the role `member/template.yaml` creates in the destination account
(`Settings.copy_role_name`, trusted by the source accounts it names) - also for a copy to another region of
the source's own account, so every right on a destination is granted in one place, by the destination. With
that role's credentials, DescribeStacks gives the destination's catalog table, vault and work buckets, vault
key and its VaultLockMode / DefaultRetentionDays; the destination's catalog and vault are then used exactly
as the source uses its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from coffer.adapters import aws
from coffer.domain.copies import SOURCE_ACCOUNT_TAG, VaultAddress
from coffer.domain.errors import InvalidInput
from coffer.ports.destinations import Destination, DestinationPorts
from coffer.settings import Settings

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_sts import STSClient

#: assumed-role credentials last an hour; a warm Lambda re-assumes well before they run out
_REUSE_SECONDS = 45 * 60

#: builds a destination's ports from its settings and its clients (the composition root's, entrypoints/bootstrap.py)
PortsFactory = Callable[[Settings, aws.Clients], DestinationPorts]


def assumed_session(credentials: Mapping[str, Any], region: str) -> boto3.Session:
    """A session with an assumed role's credentials. It shares botocore's service models with the process's
    default session: parsing them again for every destination costs a cold start most of a second."""
    import boto3
    import botocore.session

    core = botocore.session.Session()
    core.register_component("data_loader", botocore.session.get_session().get_component("data_loader"))
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"], region_name=region, botocore_session=core)


class DestinationResolver:
    def __init__(self, sts: STSClient, settings: Settings, ports_for: PortsFactory) -> None:
        self._sts = sts
        self._settings = settings
        self._ports_for = ports_for
        self._account: str | None = None
        self._resolved: dict[str, tuple[float, Destination]] = {}

    @property
    def own_account(self) -> str:
        if self._account is None:
            self._account = str(self._sts.get_caller_identity()["Account"])
        return self._account

    def resolve(self, address: VaultAddress) -> Destination:
        cached = self._resolved.get(address.arn)
        if cached is not None and time.monotonic() - cached[0] < _REUSE_SECONDS:
            return cached[1]
        destination = self._resolve(address)
        self._resolved[address.arn] = (time.monotonic(), destination)
        return destination

    def _resolve(self, address: VaultAddress) -> Destination:
        role_arn = address.role_arn(self._settings.copy_role_name)
        try:
            # the session tag the member template's trust policy requires (this account, which it checks) and
            # scopes the copy's catalog writes by
            credentials = self._sts.assume_role(RoleArn=role_arn, RoleSessionName="coffer-copy", DurationSeconds=3600,
                                                Tags=[{"Key": SOURCE_ACCOUNT_TAG, "Value": self.own_account}],
                                                )["Credentials"]
        except ClientError as error:
            _raise_if_transient(error)
            raise InvalidInput([f"DestinationBackupVaultArn: cannot assume the copy role {role_arn} "
                                f"({aws.error_code(error)}): deploy member/template.yaml in account "
                                f"{address.account_id}, trusting account {self.own_account}"]) from None
        clients = aws.Clients(address.region, assumed_session(credentials, address.region))
        stack_name = self._settings.copy_destination_stack
        try:
            [stack] = clients("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            _raise_if_transient(error)
            raise InvalidInput([f"DestinationBackupVaultArn: no Coffer stack '{stack_name}' in {address.region} of "
                                f"account {address.account_id} ({aws.error_code(error)}): deploy Coffer there "
                                "(CopyDestinationStackName names it)"]) from None
        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
        env = {"CATALOG_TABLE": outputs.get("CatalogTableName", ""), "VAULT_BUCKET": outputs.get("VaultBucketName", ""),
               "WORK_BUCKET": outputs.get("WorkBucketName", ""), "VAULT_KEY_ARN": outputs.get("VaultKeyArn", ""),
               "VAULT_LOCK_MODE": parameters.get("VaultLockMode") or "GOVERNANCE",
               "DEFAULT_RETENTION_DAYS": parameters.get("DefaultRetentionDays") or "35", "AWS_REGION": address.region}
        try:
            settings = Settings.from_env(env)
        except InvalidInput as error:
            raise InvalidInput([f"DestinationBackupVaultArn: stack '{stack_name}' in {address.region} of account "
                                f"{address.account_id} is not a Coffer stack ({'; '.join(error.problems)})"]) from None
        return Destination(address=address, stack_name=stack_name, role_arn=role_arn, settings=settings,
                           ports=self._ports_for(settings, clients))


def _raise_if_transient(error: ClientError) -> None:
    """Throttling or a 5xx that outlasted botocore's retries says nothing about the destination: the step is
    tried again (under the name its Retry lists), not refused as a wrong vault ARN."""
    retry = aws.transient(error)
    if retry is not None:
        raise retry from error
