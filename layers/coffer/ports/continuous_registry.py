"""Which continuous adapter serves a type (adapters/resources/continuous.py's ContinuousRegistry)."""

from __future__ import annotations

from typing import Protocol

from coffer.domain.resources import ResourceType
from coffer.ports.continuous import ContinuousAdapter


class ContinuousAdapters(Protocol):
    def adapter(self, resource_type: ResourceType) -> ContinuousAdapter:
        """UnsupportedOperation naming the type and why for a type without point-in-time recovery."""
        ...
