"""The interfaces the services depend on. Adapters implement them; tests may fake them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest
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


class ResourceAdapter(Protocol):
    """One per resource type. Every method is safe to call twice (events and retries arrive twice)."""

    resource_type: ResourceType
    strategy: BackupStrategy

    def describe_source(self, resource_arn: str) -> dict[str, Any]:
        """Facts about the resource recorded in the manifest (and needed to restore it)."""
        ...

    def start_backup(self, job: Job) -> str | None:
        """Start the backup; return the native backup's id/ARN (None for the objects strategy)."""
        ...

    def backup_status(self, job: Job) -> OperationStatus: ...

    def start_restore(self, job: Job, manifest: Manifest) -> str:
        """Start restoring into job.restore_target; return the new resource's ARN."""
        ...

    def restore_status(self, job: Job) -> OperationStatus: ...

    def validate_restore(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        """Check the restored resource against the manifest; raise RestoreMismatch if it differs."""
        ...
