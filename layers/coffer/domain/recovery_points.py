"""Recovery points: one backup of one resource at one time, in one vault."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from coffer.domain.lifecycle import Lifecycle
from coffer.domain.resources import ResourceType


class RecoveryPointStatus(StrEnum):
    """AWS Backup's recovery point statuses (CREATING until data and manifest are durable)."""

    CREATING = "CREATING"
    COMPLETED = "COMPLETED"
    PARTIAL = "PARTIAL"
    EXPIRED = "EXPIRED"
    DELETING = "DELETING"


class StorageClass(StrEnum):
    WARM = "WARM"
    COLD = "COLD"
    DELETED = "DELETED"


class RecoveryPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    recovery_point_id: str
    vault_name: str
    resource_arn: str
    resource_type: ResourceType
    status: RecoveryPointStatus = RecoveryPointStatus.CREATING
    creation_date: datetime
    completion_date: datetime | None = None
    backup_size_bytes: int = 0
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    cold_at: datetime | None = None
    delete_at: datetime | None = None
    retain_until: datetime
    storage_class: StorageClass = StorageClass.WARM
    encryption_key_arn: str | None = None
    plan_id: str | None = None
    rule_name: str | None = None
    job_id: str
    parent_recovery_point_id: str | None = None
    manifest_key: str | None = None
    manifest_sha256: str | None = None
    #: the manifest's VersionId in the vault, beside its SHA-256: the version restore, copy and verify read
    #: (None: written before versions were pinned; the manifest itself never holds it - it is known after the write)
    manifest_version_id: str | None = None
    native_ref: str | None = None
    legal_holds: tuple[str, ...] = ()
    #: why it is as it is, when something went wrong (DescribeRecoveryPoint's StatusMessage): an expiry the sweep
    #: could not finish says why here until it is finished
    status_message: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    version: int = 0
