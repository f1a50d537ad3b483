"""What users ask for: AWS Backup's StartBackupJob / StartRestoreJob inputs, with AWS's field names.

Unknown fields are refused (extra="forbid") so a typo like `DeleteAfterDay` is an error naming the field,
never a silently ignored setting.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic.alias_generators import to_pascal

from coffer.domain.copies import CopyAction, given_recovery_point_arn, recovery_point_id_of
from coffer.domain.input_rules.arns import length_problem, resource_arn_problems
from coffer.domain.input_rules.scalars import Flag, WholeNumber
from coffer.domain.lifecycle import Lifecycle

_AWS_STYLE = ConfigDict(frozen=True, alias_generator=to_pascal, populate_by_name=True, extra="forbid")
#: AWS Backup: both windows at most 100 years
MAX_WINDOW_MINUTES = 52_560_000


class StartBackupJobRequest(BaseModel):
    """AWS Backup's StartBackupJob input (IamRoleArn and BackupOptions are accepted for compatibility)."""

    model_config = _AWS_STYLE

    backup_vault_name: str = Field(default="Default", min_length=2, max_length=50, pattern=r"^[a-zA-Z0-9\-_]+$")
    resource_arn: str
    iam_role_arn: str | None = None
    idempotency_token: str | None = Field(default=None, min_length=1, max_length=256)
    start_window_minutes: WholeNumber = Field(default=60, ge=60, le=MAX_WINDOW_MINUTES)
    complete_window_minutes: WholeNumber = Field(default=10080, ge=60, le=MAX_WINDOW_MINUTES)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    recovery_point_tags: dict[str, str] = Field(default_factory=dict)
    backup_options: dict[str, str] = Field(default_factory=dict)
    plan_id: str | None = Field(default=None, alias="BackupPlanId")
    rule_name: str | None = Field(default=None, alias="BackupRuleName")
    #: a plan rule's copy actions (AWS Backup keeps them on the rule; a rule's StartBackupJob event carries
    #: them): each is started as a copy job once the backup COMPLETED
    copy_actions: list[CopyAction] = Field(default_factory=list)
    #: AWS Backup's rule flag: protect the resource continuously (point-in-time recovery, 1-35 days kept in
    #: Lifecycle.DeleteAfterDays) instead of taking one snapshot; domain/continuous.py
    enable_continuous_backup: Flag = False

    @field_validator("resource_arn")
    @classmethod
    def _supported(cls, value: str) -> str:
        # the shape and length of each service's ARNs (input_rules/arns.py); pydantic names the field
        problems = resource_arn_problems(value, path="")
        if problems:
            raise ValueError("; ".join(p.removeprefix(": ") for p in problems))
        return value

    @field_validator("iam_role_arn")
    @classmethod
    def _role_arn_length(cls, value: str | None) -> str | None:
        too_long = length_problem("", value) if value is not None else None
        if too_long:
            raise ValueError(too_long.removeprefix(": "))
        return value

    @field_validator("complete_window_minutes")
    @classmethod
    def _after_start(cls, value: int, info: object) -> int:
        start = getattr(info, "data", {}).get("start_window_minutes", 60)
        if value < start:
            raise ValueError(f"must be at least StartWindowMinutes ({start})")
        return value

    def fingerprint(self) -> str:
        """Hash of the request without its token: the same token with other parameters is a conflict."""
        # Without copy actions the fingerprint is what it was before they existed (tokens stay valid).
        exclude = {"idempotency_token"} | (set() if self.copy_actions else {"copy_actions"}) \
            | (set() if self.enable_continuous_backup else {"enable_continuous_backup"})
        body = self.model_dump(mode="json", by_alias=True, exclude=exclude)
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class StartRestoreJobRequest(BaseModel):
    """AWS Backup's StartRestoreJob input. Metadata keys depend on the resource type:

    - S3: DestinationBucketName (required), NewBucket ("true", the default, creates it; "false" restores into an
      existing bucket whose versioning is Enabled), DestinationPrefix (optional), Region (of a new bucket)
    - DynamoDB: targetTableName (required)
    - EBS: nothing required; availabilityZone, volumeType, volumeSize (GiB), iops, throughput and kmsKeyId
      override what the recovery point recorded (a kmsKeyId makes the new volume encrypted with that key)
    - EC2: nothing required; InstanceType, SubnetId, SecurityGroupIds (comma-separated) and KeyName override
      the recorded launch configuration (the instance profile is recorded but not attached: that needs
      iam:PassRole)
    - RDS: DBInstanceIdentifier (required, a new instance); DBInstanceClass, DBSubnetGroupName and
      VpcSecurityGroupIds (comma-separated) override the recorded ones
    - Aurora, DocumentDB, Neptune: DBClusterIdentifier (required, a new cluster, restored without DB instances as
      AWS Backup does); DBSubnetGroupName and VpcSecurityGroupIds (comma-separated) override the recorded ones
    - a continuous recovery point (S3, DynamoDB, RDS, Aurora) also takes RestoreTime or UseLatestRestorableTime
    Any other key is refused by name.
    """

    model_config = _AWS_STYLE

    recovery_point_id: str = Field(alias="RecoveryPointArn", min_length=1)
    metadata: dict[str, str] = Field(default_factory=dict)
    iam_role_arn: str | None = None
    idempotency_token: str | None = Field(default=None, min_length=1, max_length=256)
    #: the ARN as given (None when the id was given alone): its account, region and partition are checked
    #: against the stack's before anything is written (input_rules/gates.py)
    _given_arn: str | None = PrivateAttr(default=None)

    @field_validator("recovery_point_id")
    @classmethod
    def _id_from_arn(cls, value: str) -> str:
        # Accept the bare id or AWS Backup's recovery point ARN (arn:...:recovery-point:<id>).
        return recovery_point_id_of(value)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_arn(cls, data: Any, handler: Any) -> Any:
        model = handler(data)
        model._given_arn = given_recovery_point_arn(data)
        return model

    @property
    def recovery_point_arn(self) -> str | None:
        return self._given_arn
