"""Copy jobs: AWS Backup's StartCopyJob, its destination addressing and the rules that decide how a copy runs.

A copy takes one COMPLETED recovery point from its vault to a destination vault named by AWS Backup's vault
ARN, `arn:<partition>:backup:<region>:<account>:backup-vault:<name>`. The destination vault lives in the
Coffer stack of that region and account (found by its stack name); the source reaches it through the copy
role that `member/template.yaml` creates in the destination account. The copy is a recovery point of its own
in the destination vault: its own lifecycle, the destination vault's KMS key and lock, and
`parent_recovery_point_id` naming the source.

How a copy moves data depends on the type (CopyMethod):
- NATIVE (EBS, EC2, RDS, Aurora, DocumentDB, Neptune): the service copies its artefact in the destination region
  and account (CopySnapshot, CopyImage, CopyDBSnapshot, CopyDBClusterSnapshot), re-encrypted with the destination key;
  across accounts the source first shares it (snapshot permissions and a KMS grant on its key).
- OBJECTS (S3): the recovery point's blobs are copied server-side into the destination vault (content-
  addressed: a blob already there is not copied again, only locked long enough) and its manifest parts are
  written again under the copy's id; a Distributed Map runs one manifest part per child.
- EXPORT (DynamoDB): no DynamoDB API copies an on-demand backup (AWS Backup copies only backups taken with
  its advanced DynamoDB features, and never across accounts): Coffer exports the table as it was at the
  recovery point's creation time (ExportTableToPointInTime, which needs point-in-time recovery on the table
  and a time inside its recovery window), then copies the export's files into the destination vault.

Copy jobs keep AWS's per-region quotas on snapshot copies in progress (QuotaKind): a counting semaphore in
the catalog, taken before the copy starts and given back in the same write that ends the job.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic.alias_generators import to_pascal

from coffer.domain.errors import InvalidInput
from coffer.domain.input_rules.arns import length_problem, recovery_point_problems
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.resources import ResourceType

#: the session tag a copy role session carries: the source account, which the member template's trust policy
#: checks and its catalog writes are scoped by (a copy's recovery point id starts with it)
SOURCE_ACCOUNT_TAG = "coffer-source-account"

_AWS_STYLE = ConfigDict(frozen=True, alias_generator=to_pascal, populate_by_name=True, extra="forbid")
_VAULT_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):backup:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):"
                        r"(?P<account>\d{12}):backup-vault:(?P<name>[a-zA-Z0-9\-_]{2,50})$")


class VaultAddress(BaseModel):
    """A vault named by AWS Backup's ARN: where a copy goes."""

    model_config = ConfigDict(frozen=True)

    partition: str = "aws"
    region: str
    account_id: str
    vault_name: str

    @classmethod
    def parse(cls, arn: str, field: str = "DestinationBackupVaultArn") -> VaultAddress:
        found = _VAULT_ARN.match(arn)
        if found is None:
            raise InvalidInput([f"{field}: {not_a_vault_arn(arn)}"])
        return cls(partition=found["partition"], region=found["region"], account_id=found["account"],
                   vault_name=found["name"])

    @property
    def arn(self) -> str:
        return f"arn:{self.partition}:backup:{self.region}:{self.account_id}:backup-vault:{self.vault_name}"

    def role_arn(self, role_name: str) -> str:
        """The copy role `member/template.yaml` makes in the destination account (one per account)."""
        return f"arn:{self.partition}:iam::{self.account_id}:role/{role_name}"


def not_a_vault_arn(arn: str) -> str:
    return f"'{arn}' is not a backup vault ARN (arn:aws:backup:<region>:<account>:backup-vault:<name>)"


def _vault_arn(value: str) -> str:
    """A field validator: pydantic names the field, so the message does not."""
    too_long = length_problem("", value)
    if too_long:
        raise ValueError(too_long.removeprefix(": "))
    if _VAULT_ARN.match(value) is None:
        raise ValueError(not_a_vault_arn(value))
    return value


def recovery_point_id_of(value: str) -> str:
    """RecoveryPointArn as AWS Backup takes it: the id alone, or arn:...:recovery-point:<id>. A field validator:
    a value of neither shape (or longer than any ARN) is refused here, before anything looks it up."""
    problems = recovery_point_problems("", value)
    if problems:
        raise ValueError(problems[0].removeprefix(": "))
    return value.rsplit("recovery-point:", 1)[-1] if value.startswith("arn:") else value


def given_recovery_point_arn(data: Any) -> str | None:
    """The RecoveryPointArn a request was given as an ARN (to check its account and region), else None."""
    if not isinstance(data, dict):
        return None
    value = data.get("RecoveryPointArn", data.get("recovery_point_id"))
    return value if isinstance(value, str) and value.startswith("arn:") else None


class CopyAction(BaseModel):
    """A rule's copy action (AWS Backup's CopyAction): where a completed backup is copied, and for how long."""

    model_config = _AWS_STYLE

    destination_backup_vault_arn: str
    lifecycle: Lifecycle | None = None

    _destination = field_validator("destination_backup_vault_arn")(_vault_arn)


class StartCopyJobRequest(BaseModel):
    """AWS Backup's StartCopyJob input. IamRoleArn is accepted for compatibility (Coffer uses its copy role)."""

    model_config = _AWS_STYLE

    recovery_point_id: str = Field(alias="RecoveryPointArn", min_length=1)
    source_backup_vault_name: str | None = Field(default=None, pattern=r"^[a-zA-Z0-9\-_]{2,50}$")
    destination_backup_vault_arn: str
    iam_role_arn: str | None = None
    idempotency_token: str | None = Field(default=None, min_length=1, max_length=256)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    #: the ARN as given (None for a bare id): checked against the stack's account and region (input_rules/gates.py)
    _given_arn: str | None = PrivateAttr(default=None)

    _id_from_arn = field_validator("recovery_point_id")(recovery_point_id_of)
    _destination = field_validator("destination_backup_vault_arn")(_vault_arn)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_arn(cls, data: Any, handler: Any) -> Any:
        model = handler(data)
        model._given_arn = given_recovery_point_arn(data)
        return model

    @property
    def recovery_point_arn(self) -> str | None:
        return self._given_arn

    @property
    def destination(self) -> VaultAddress:
        return VaultAddress.parse(self.destination_backup_vault_arn)


class CopyMethod(StrEnum):
    NATIVE = "native"
    OBJECTS = "objects"
    EXPORT = "export"


_METHODS = {ResourceType.S3: CopyMethod.OBJECTS, ResourceType.DYNAMODB: CopyMethod.EXPORT}


def method_for(resource_type: ResourceType) -> CopyMethod:
    return _METHODS.get(resource_type, CopyMethod.NATIVE)


class QuotaKind(StrEnum):
    """AWS's per-region limits on copies in progress (Service Quotas), counted per destination account and
    region. An AMI copy copies its EBS snapshots, so EC2 counts against the EBS limit."""

    EBS_SNAPSHOT_COPIES = "ebs-snapshot-copies"
    RDS_SNAPSHOT_COPIES = "rds-snapshot-copies"


_QUOTAS = {ResourceType.EBS: QuotaKind.EBS_SNAPSHOT_COPIES, ResourceType.EC2: QuotaKind.EBS_SNAPSHOT_COPIES,
           ResourceType.RDS: QuotaKind.RDS_SNAPSHOT_COPIES, ResourceType.AURORA: QuotaKind.RDS_SNAPSHOT_COPIES,
           # DocumentDB and Neptune cluster snapshots are RDS's, copied by the same CopyDBClusterSnapshot
           ResourceType.DOCUMENTDB: QuotaKind.RDS_SNAPSHOT_COPIES, ResourceType.NEPTUNE: QuotaKind.RDS_SNAPSHOT_COPIES}


def quota_key(resource_type: ResourceType, destination: VaultAddress) -> str | None:
    """The semaphore a copy of this type to this destination counts against (None: no quota applies)."""
    kind = _QUOTAS.get(resource_type)
    return None if kind is None else f"{kind}#{destination.account_id}#{destination.region}"


def quota_kind(key: str) -> QuotaKind:
    return QuotaKind(key.split("#", 1)[0])


class CopyScope(StrEnum):
    SAME_REGION = "same region"
    CROSS_REGION = "cross-region"
    CROSS_ACCOUNT = "cross-account"


def scope_of(source_region: str, source_account: str, destination: VaultAddress) -> CopyScope:
    if destination.account_id != source_account:
        return CopyScope.CROSS_ACCOUNT
    return CopyScope.SAME_REGION if destination.region == source_region else CopyScope.CROSS_REGION


def same_vault_problem(source_vault: str, source_region: str, source_account: str,
                       destination: VaultAddress) -> str | None:
    """AWS Backup refuses a copy into the vault the recovery point is in."""
    if (destination.vault_name, destination.region, destination.account_id) == (source_vault, source_region,
                                                                                source_account):
        return (f"DestinationBackupVaultArn: '{destination.arn}' is the recovery point's own vault; "
                "copy to another vault, region or account")
    return None


class CopyDestination(BaseModel):
    """What a copy job knows of its destination (kept on the job: every step of the workflow reads it)."""

    model_config = ConfigDict(frozen=True)

    vault_arn: str
    region: str
    account_id: str
    vault_name: str
    scope: CopyScope
    method: CopyMethod
    #: the copy's own recovery point id, in the destination vault
    recovery_point_id: str
    #: the semaphore the job holds while it runs (None: none applies, or not taken yet)
    quota_key: str | None = None
    #: DynamoDB: the export's files are under this work bucket prefix
    export_prefix: str | None = None
    #: the keys of this account on which the job granted the destination access (recorded before the grant is
    #: made, so whatever ends the job revokes it: services/copy_jobs.py)
    kms_grant_keys: tuple[str, ...] = ()

    @property
    def address(self) -> VaultAddress:
        return VaultAddress.parse(self.vault_arn)


# ---- what the Copy workflow's steps pass between states -------------------------------------------------
CopyNext = Literal["queued", "native", "objects", "done"]


class CopyStep(BaseModel):
    model_config = ConfigDict(extra="ignore")

    job_id: str = Field(min_length=1)


class CopyPartStep(CopyStep):
    """One Distributed Map child: one source manifest part (S3) or one export file (DynamoDB), by its key."""

    key: str = Field(min_length=1)


class SealPartStep(CopyPartStep):
    """SealCopiedParts, one child: a copy's part that waited for the part-range fan-out, by its work-area key."""

    step: Literal["seal"]


class CopyStartResult(BaseModel):
    job_id: str
    duplicate: bool = False
    next: CopyNext
    wait_seconds: int = 0
    #: S3: where the Distributed Map lists the source's manifest parts (vault bucket)
    items_prefix: str | None = None


class CopyPollResult(BaseModel):
    job_id: str
    done: bool
    #: "objects": copy the source's manifest parts; "files": copy the finished export's files (work bucket)
    next: Literal["wait", "objects", "files", "complete"]
    wait_seconds: int = 0
    items_prefix: str | None = None


def copy_executions(job_id: str, recovery_point_id: str, vault_name: str, actions: tuple[CopyAction, ...],
                    account: str, region: str, at: datetime) -> list[dict[str, Any]]:
    """A completed backup's copy actions as Copy workflow executions: a name (unique per backup job and action,
    so a retried start finds the execution it started) and the StartCopyJob event it runs on."""
    executions = []
    for n, action in enumerate(actions):
        token = f"{job_id}-copy-{n}"
        detail: dict[str, Any] = {"RecoveryPointArn": recovery_point_id, "SourceBackupVaultName": vault_name,
                                  "DestinationBackupVaultArn": action.destination_backup_vault_arn,
                                  "IdempotencyToken": token}
        if action.lifecycle is not None:
            detail["Lifecycle"] = action.lifecycle.model_dump(mode="json", by_alias=True, exclude_none=True)
        executions.append({"name": token, "input": {
            "version": "0", "id": token, "detail-type": "StartCopyJob", "source": "coffer.backup", "account": account,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region, "resources": [], "detail": detail}})
    return executions

