"""Object versions of the vault one at a time, as the lifecycle sweeper deletes them (adapters/vault/versions.py).

No deletion passes a governance bypass: S3 Object Lock refuses a version under a retention or legal hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from coffer.domain.object_lock import LockMode, VersionLock


@dataclass(frozen=True)
class VersionFacts:
    key: str
    version_id: str
    retain_until: datetime | None
    legal_hold: bool
    size: int
    mode: LockMode | None = None

    @property
    def lock(self) -> VersionLock:
        return VersionLock(self.mode, self.retain_until, self.legal_hold)


#: where a listing of versions resumes: {"key": ..., "version": ...}
VersionMarker = dict[str, str]


class VaultVersionStore(Protocol):
    def page(self, prefix: str, marker: VersionMarker | None,
             max_keys: int = 1000) -> tuple[list[tuple[str, str, int]], VersionMarker | None]:
        """One page of versions under `prefix`: ([(key, version id, size)], the next marker or None)."""
        ...

    def facts(self, key: str, version_id: str, size: int = 0) -> VersionFacts | None:
        """The version's retention and legal hold (no bytes read), or None if it is gone."""
        ...

    def delete(self, key: str, version_id: str) -> bool:
        """Delete one version, no bypass; False when S3 refuses it (still locked or held)."""
        ...
