"""EventBridge Scheduler: one schedule per plan rule, in the stack's schedule group
(adapters/aws_services/schedules.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol


class Schedules(Protocol):
    group: str

    def get(self, name: str) -> dict[str, Any] | None:
        """The schedule as GetSchedule describes it, or None."""
        ...

    def create(self, definition: dict[str, Any]) -> None:
        """ConcurrentUpdate when it exists already."""
        ...

    def update(self, definition: dict[str, Any]) -> None:
        """NotFound when it does not exist."""
        ...

    def delete(self, name: str) -> bool:
        """False if it was already gone."""
        ...

    def names(self, prefix: str | None = None) -> Iterator[str]: ...

    def full(self) -> Iterator[dict[str, Any]]:
        """Every schedule of the group with its details."""
        ...
