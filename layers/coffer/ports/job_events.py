"""Job events: where the catalog announces every state change it writes (adapters/aws_services/job_events.py puts
them on EventBridge). Told after the write that made the change, in one call per write: a backup's end and its
recovery point go out together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from coffer.domain.errors import CofferError
from coffer.domain.job_events import Change


class JobEventsUndelivered(CofferError):
    """EventBridge refused some entries on every attempt; names them and why."""


class JobEvents(Protocol):
    def publish(self, changes: Sequence[Change]) -> None:
        """Put one event per change, at least once (consumers dedupe on the id and `stateVersion`); raises
        JobEventsUndelivered when an entry is still refused after the retries."""
        ...
