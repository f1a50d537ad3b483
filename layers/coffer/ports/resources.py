"""The resource adapter port: one adapter per resource type (adapters/resources/), behind one interface."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from coffer.domain.errors import UnsupportedOperation
from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.resources import ResourceType


class BackupStrategy(StrEnum):
    #: the service takes the backup (CreateBackup, CreateSnapshot ...); the workflow polls its status
    NATIVE = "native"
    #: Coffer copies objects into the vault in batches spread over a Distributed Map (S3)
    OBJECTS = "objects"


@dataclass(frozen=True)
class OperationStatus:
    """Status of a long-running native operation, as the workflow's poll loop needs it."""

    done: bool
    size_bytes: int = 0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StartedBackup:
    """What starting a backup made: the native backup's id/ARN (None for the objects strategy) and, where the create
    call's own answer says it (EBS, RDS family, DynamoDB), its status then - the start needs no Describe to know
    whether to wait. None: unknown, look with backup_status."""

    native_ref: str | None
    status: OperationStatus | None = None


class Capability(StrEnum):
    """What an adapter can do besides backing up and restoring. Each adapter declares its set; an operation
    outside it is refused with UnsupportedOperation naming the type and the operation, never faked."""

    DISCOVER = "discover resources"
    COPY_TO_REGION = "copy a recovery point to another region"
    COPY_TO_ACCOUNT = "copy a recovery point to another account"
    COLD_STORAGE = "move a recovery point to cold storage"
    DELETE = "delete a recovery point's native artefact"


@dataclass(frozen=True)
class DiscoveredResource:
    resource_arn: str
    resource_type: ResourceType
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CopyTarget:
    """Where a copy goes. Every AWS copy call (CopySnapshot, CopyImage, CopyDBSnapshot, ...) runs in the
    destination region and account, so `start_copy` is called on an adapter whose client is there."""

    #: the copy's own recovery point id: the copy is named and tagged with it
    recovery_point_id: str
    region: str
    #: None: the source's account. Otherwise the source must first have shared the artefact (share_for_copy).
    account_id: str | None = None
    #: the destination's KMS key; the copy is re-encrypted with it
    kms_key_arn: str | None = None


def unsupported(resource_type: ResourceType, capability: Capability, reason: str) -> UnsupportedOperation:
    return UnsupportedOperation(f"{resource_type}: cannot {capability}: {reason}")


def require(adapter: ResourceAdapter, capability: Capability) -> None:
    """Refuse, naming the type and the operation, what the adapter does not declare."""
    if capability not in adapter.capabilities:
        raise unsupported(adapter.resource_type, capability,
                          adapter.refusals.get(capability, "not supported by this adapter"))


class ResourceAdapter(Protocol):
    """One per resource type. Every method is safe to call twice (events and retries arrive twice)."""

    resource_type: ResourceType
    strategy: BackupStrategy
    #: what the adapter does beyond backup and restore; `refusals` says why for every other Capability
    capabilities: frozenset[Capability]
    refusals: Mapping[Capability, str]
    #: StartBackupJob BackupOptions the type accepts: option -> allowed values (anything else is refused)
    backup_options: Mapping[str, frozenset[str]]

    def discover(self, account_id: str) -> Iterator[DiscoveredResource]:
        """Every resource of the type in the client's region (all pages), with its tags. `account_id` makes
        the ARNs of resources whose descriptions carry none (EBS volumes)."""
        ...

    def describe_source(self, resource_arn: str) -> dict[str, Any]:
        """Facts about the resource recorded in the manifest (and needed to restore it)."""
        ...

    def start_backup(self, job: Job, fresh: bool = False) -> StartedBackup:
        """Start the backup, or find the one an earlier attempt of this job started. `fresh`: the job was created by
        this very call, so no earlier attempt can have made its artefact and the adapter makes no look for one."""
        ...

    def backup_status(self, job: Job) -> OperationStatus: ...

    def start_restore(self, job: Job, manifest: Manifest) -> str | None:
        """Start restoring into job.restore_target; return the new resource's ARN (None when the resource is
        made later by restore_status, e.g. once an archived EBS snapshot is back from the archive tier)."""
        ...

    def restore_status(self, job: Job, manifest: Manifest) -> OperationStatus: ...

    def validate_restore(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        """Check the restored resource against the manifest; raise RestoreMismatch if it differs."""
        ...

    # ---- recovery point operations (refused unless declared in `capabilities`) ---------------------
    def share_for_copy(self, recovery_point: RecoveryPoint, account_id: str) -> None:
        """Source side of a cross-account copy: let `account_id` read the native artefact."""
        ...

    def unshare_after_copy(self, recovery_point: RecoveryPoint, account_id: str) -> None:
        """The reverse of share_for_copy (harmless when not shared, or when the artefact is gone)."""
        ...

    def start_copy(self, recovery_point: RecoveryPoint, target: CopyTarget) -> str:
        """Destination side: start copying the recovery point's artefact here; return the copy's native ref."""
        ...

    def copy_status(self, native_ref: str) -> OperationStatus: ...

    def start_cold(self, recovery_point: RecoveryPoint) -> None:
        """Move the native artefact to the type's cold tier."""
        ...

    def cold_status(self, recovery_point: RecoveryPoint) -> OperationStatus: ...

    def delete_recovery_point(self, recovery_point: RecoveryPoint) -> None:
        """Delete the native artefact (a second call finds it gone and returns)."""
        ...
