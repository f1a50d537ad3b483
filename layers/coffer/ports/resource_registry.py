"""Which resource adapter serves a type (implemented by adapters/resources/__init__.py's ResourceRegistry)."""

from __future__ import annotations

from typing import Protocol

from coffer.domain.resources import ResourceType
from coffer.ports.resources import ResourceAdapter


class ResourceAdapters(Protocol):
    #: the types an adapter is registered for (a selection classifies resources against these)
    supported: frozenset[ResourceType]

    def type_of(self, resource_arn: str) -> ResourceType:
        """A resource's type: its ARN's, or where one ARN form serves several types (a DB cluster: Aurora,
        DocumentDB, Neptune) what the resource itself says; UnsupportedResource for an ARN Coffer cannot protect."""
        ...

    def adapter(self, resource_type: ResourceType) -> ResourceAdapter:
        """The type's adapter; UnsupportedResource naming the supported types for any other."""
        ...
