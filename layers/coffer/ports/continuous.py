"""Continuous backup (point-in-time recovery) of one resource type (adapters/resources/continuous.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest
from coffer.domain.resources import ResourceType
from coffer.ports.resources import OperationStatus


class ContinuousAdapter(Protocol):
    resource_type: ResourceType

    def check_protectable(self, resource_arn: str) -> None:
        """Refuse (InvalidInput naming the field) a resource that cannot be protected continuously as it is."""
        ...

    def enable(self, resource_arn: str, retention_days: int) -> dict[str, Any]:
        """Turn continuous backup on (again: sets the retention); returns the settings it replaced."""
        ...

    def status(self, resource_arn: str, retention_days: int) -> OperationStatus:
        """done once the service protects the resource with that retention."""
        ...

    def check_restore_target(self, metadata: Mapping[str, str]) -> None:
        """Refuse, naming the key, a target a point-in-time restore cannot go to."""
        ...

    def start_restore_to_time(self, job: Job, manifest: Manifest, at: datetime) -> str | None:
        """Start restoring the resource as it was at `at` into job.restore_target; the new resource's ARN."""
        ...

    # as the type's adapter: the restore is polled and checked like a snapshot restore
    def restore_status(self, job: Job, manifest: Manifest) -> OperationStatus: ...

    def validate_restore(self, job: Job, manifest: Manifest) -> dict[str, Any]: ...
