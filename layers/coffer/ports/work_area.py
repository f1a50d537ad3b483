"""The work bucket: a job's scratch files (batch lists, staging copies); nothing there is ever the only copy
(adapters/vault/work_area.py)."""

from __future__ import annotations

from typing import Any, Protocol


class WorkArea(Protocol):
    bucket: str

    def write_json(self, key: str, document: Any) -> None: ...

    def read_json(self, key: str) -> Any: ...

    def delete(self, key: str) -> None: ...

    def size_of(self, key: str) -> int: ...

    def listing(self, prefix: str) -> list[dict[str, Any]]:
        """Every object under `prefix`: [{"key", "size"}] (all pages)."""
        ...

    def first_key(self, prefix: str) -> str | None:
        """The first key under `prefix`, or None: one call whatever is there."""
        ...
