"""What verify reads of the vault bucket beside the vault port's pinned reads: a version's lock, legal hold and S3
checksum in one call, and the bucket's own rules: versioning, Object Lock default, policy
(adapters/vault/inspection.py).

Read-only: nothing here changes the bucket (verify reports, never repairs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from coffer.domain.object_lock import VersionLock


@dataclass(frozen=True)
class VersionState:
    """One version of a key (or the delete marker on top of it) as HeadObject/ListObjectVersions tell it."""

    key: str
    version_id: str | None
    delete_marker: bool = False
    #: S3's full-object SHA-256 (hex) of the version; None for a composite checksum or none stored
    sha256: str | None = None
    #: S3's checksum as it tells it, full-object or composite (`<base64>-<parts>`): two versions with the same one
    #: hold the same bytes (a re-seal), whichever kind it is
    checksum: str | None = None
    size: int = 0
    lock: VersionLock = field(default_factory=VersionLock)
    last_modified: datetime | None = None


@dataclass(frozen=True)
class BucketRules:
    """The vault bucket's versioning and Object Lock configuration."""

    #: "Enabled", "Suspended", or None (never enabled)
    versioning: str | None
    object_lock: bool
    default_mode: str | None = None
    default_days: int | None = None
    default_years: int | None = None


class VaultInspection(Protocol):
    bucket: str

    def head(self, key: str, version_id: str | None = None) -> VersionState | None:
        """The version (the current one without `version_id`): lock, hold and checksum, no bytes read. The current
        one may be a delete marker (`delete_marker` True). None when the key (or the version) does not exist."""
        ...

    def rules(self) -> BucketRules: ...

    def policy(self) -> dict[str, Any] | None:
        """The bucket policy, or None when the bucket has none."""
        ...
