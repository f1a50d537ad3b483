"""A resource adapter that records what it is asked (a native type: its backups are snapshots, polled until done),
and the registry that hands it out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from coffer.domain.errors import UnsupportedResource
from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.resources import ResourceType, resource_type_of
from coffer.ports.resources import (
    BackupStrategy,
    Capability,
    CopyTarget,
    DiscoveredResource,
    OperationStatus,
    ResourceAdapter,
    StartedBackup,
    unsupported,
)

NOT_FAKED = "the fake adapter backs up and restores only"


class RecordingAdapter:
    """`started`: job ids whose backup it started; `restored`: job ids it restored; `done`: whether polls say done."""

    strategy = BackupStrategy.NATIVE
    capabilities: frozenset[Capability] = frozenset()
    refusals: Mapping[Capability, str] = {capability: NOT_FAKED for capability in Capability}
    backup_options: Mapping[str, frozenset[str]] = {}

    def __init__(self, resource_type: ResourceType, source: dict[str, Any] | None = None) -> None:
        self.resource_type = resource_type
        self.source = source or {"volume_type": "gp3"}
        self.started: list[str] = []
        self.restored: list[str] = []
        self.done = True

    def discover(self, account_id: str) -> Iterator[DiscoveredResource]:
        return iter(())

    def describe_source(self, resource_arn: str) -> dict[str, Any]:
        return dict(self.source)

    def start_backup(self, job: Job, fresh: bool = False) -> StartedBackup:
        self.started.append(job.job_id)
        return StartedBackup(f"snapshot-of-{job.recovery_point_id}", OperationStatus(done=self.done, size_bytes=1024))

    def backup_status(self, job: Job) -> OperationStatus:
        return OperationStatus(done=self.done, size_bytes=1024)

    def start_restore(self, job: Job, manifest: Manifest) -> str | None:
        self.restored.append(job.job_id)
        return f"restored-by-{job.job_id}"

    def restore_status(self, job: Job, manifest: Manifest) -> OperationStatus:
        return OperationStatus(done=self.done)

    def target_status(self, native_ref: str) -> OperationStatus:
        """ports/restore_targets.py: the target start_restore made (restored-by-<job id>), there when `done`."""
        return OperationStatus(done=self.done, details={"restore_job_id": native_ref.removeprefix("restored-by-")})

    def validate_restore(self, job: Job, manifest: Manifest) -> dict[str, Any]:
        return {"restored": job.native_ref}

    def share_for_copy(self, recovery_point: RecoveryPoint, account_id: str) -> None:
        raise unsupported(self.resource_type, Capability.COPY_TO_ACCOUNT, NOT_FAKED)

    def unshare_after_copy(self, recovery_point: RecoveryPoint, account_id: str) -> None:
        return None

    def start_copy(self, recovery_point: RecoveryPoint, target: CopyTarget) -> str:
        raise unsupported(self.resource_type, Capability.COPY_TO_REGION, NOT_FAKED)

    def copy_status(self, native_ref: str) -> OperationStatus:
        raise unsupported(self.resource_type, Capability.COPY_TO_REGION, NOT_FAKED)

    def start_cold(self, recovery_point: RecoveryPoint) -> None:
        raise unsupported(self.resource_type, Capability.COLD_STORAGE, NOT_FAKED)

    def cold_status(self, recovery_point: RecoveryPoint) -> OperationStatus:
        raise unsupported(self.resource_type, Capability.COLD_STORAGE, NOT_FAKED)

    def delete_recovery_point(self, recovery_point: RecoveryPoint) -> None:
        raise unsupported(self.resource_type, Capability.DELETE, NOT_FAKED)


class FakeResources:
    """ports/resource_registry.py ResourceAdapters with the given adapters."""

    def __init__(self, *adapters: ResourceAdapter, types: Mapping[str, ResourceType] | None = None) -> None:
        self._adapters = {adapter.resource_type: adapter for adapter in adapters}
        self.supported = frozenset(self._adapters)
        #: ARN -> type, for ARNs whose type the resource itself decides (a DB cluster's engine)
        self.types = dict(types or {})

    def type_of(self, resource_arn: str) -> ResourceType:
        return self.types.get(resource_arn) or resource_type_of(resource_arn)

    def adapter(self, resource_type: ResourceType) -> ResourceAdapter:
        if resource_type not in self._adapters:
            raise UnsupportedResource(f"resource type {resource_type} has no adapter here")
        return self._adapters[resource_type]
