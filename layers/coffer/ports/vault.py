"""The WORM vault: the S3 Object Lock bucket that holds blobs, manifests and the audit log (adapters/vault/s3_vault.py).

Every object written carries an explicit retention; a retention is only ever extended, in the mode the version
already has. Methods that touch one object of a backup or restore raise ObjectRefused (ObjectArchived) when S3
refuses that object for good, so a batch can name it and go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from coffer.domain.cold_tier import ThawOutcome
from coffer.domain.object_lock import LockMode, VersionLock
from coffer.domain.vaults import Seal


class LockFacts(tuple[bool, datetime | None]):
    """(exists, retain-until) of an object's current version, plus its mode, legal hold, version id and storage."""

    mode: LockMode | None
    legal_hold: bool
    version_id: str | None
    #: HeadObject's StorageClass and Restore header: whether the bytes are in the archive tier (domain/cold_tier)
    storage_class: str | None
    restore: str | None
    #: S3's checksum of the version as a blob's content address names it (`<sha256 hex>`, or `<hex>-<parts>` for a
    #: composite one), from the same HeadObject (ChecksumMode): a version written over a blob with other bytes shows
    #: here, at no extra call. None where S3 has none.
    checksum: str | None

    def __new__(cls, exists: bool, until: datetime | None, mode: str | None = None, legal_hold: bool = False,
                version_id: str | None = None, storage_class: str | None = None,
                restore: str | None = None, checksum: str | None = None) -> LockFacts:
        made = super().__new__(cls, (exists, until))
        made.checksum = checksum
        made.mode = LockMode(mode) if mode else None
        made.legal_hold = legal_hold
        made.version_id = version_id
        made.storage_class = storage_class
        made.restore = restore
        return made

    @property
    def lock(self) -> VersionLock:
        return VersionLock(self.mode, self[1], self.legal_hold)

    def holds(self, blob_key: str) -> bool:
        """Whether this version may be relied on as the content `blob_key` addresses: it exists and S3's checksum
        (where S3 reported one) is the address. False for a version someone wrote over the blob with other bytes."""
        return bool(self[0]) and (self.checksum is None or self.checksum == blob_key.rsplit("/", 1)[-1])


class Written(str):
    """What a vault write returns: the SHA-256 (hex) as before, and the VersionId S3 gave the new version (None where
    a store has none). A `str`, so callers that only want the checksum are unchanged; a recovery point pins
    `version_id` (DESIGN invariant 6)."""

    version_id: str | None

    def __new__(cls, sha256: str, version_id: str | None = None) -> Written:
        made = super().__new__(cls, sha256)
        made.version_id = version_id
        return made

    @property
    def sha256(self) -> str:
        return str(self)


@dataclass(frozen=True)
class StoredObject:
    """One current object of a listing."""

    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class ListedVersion:
    """One version (or delete marker) of one key, as ListObjectVersions lists it."""

    key: str
    version_id: str
    last_modified: datetime
    delete_marker: bool = False
    latest: bool = False


class VaultStore(Protocol):
    bucket: str
    #: the stack's Object Lock mode (what a write without a seal uses)
    lock_mode: str

    def put_locked(self, key: str, body: bytes, retain_until: datetime, content_type: str = "application/json",
                   *, mode: str | None = None, kms_key_id: str | None = None, create_only: bool = False) -> Written:
        """Write an object under Object Lock; its SHA-256 (hex) as sent and as S3 stored it (IntegrityError if they
        differ), with the new version's id. `create_only`: AlreadyStored when the key exists."""
        ...

    def put_json_locked(self, key: str, document: Any, retain_until: datetime,
                        seal: Seal | None = None) -> Written: ...

    def get_bytes(self, key: str) -> bytes:
        """NotFound if missing; IntegrityError when the bytes do not match S3's stored checksum."""
        ...

    def get_json(self, key: str) -> Any: ...

    def get_bytes_version(self, key: str, version_id: str) -> bytes:
        """One pinned version's bytes (GetObject with VersionId), never whatever is newest: NotFound if that version
        is missing, IntegrityError when its bytes do not match S3's stored checksum."""
        ...

    def get_json_version(self, key: str, version_id: str) -> Any: ...

    def lock_of_version(self, key: str, version_id: str) -> LockFacts:
        """The lock of one pinned version (HeadObject with VersionId); exists False if that version is missing."""
        ...

    def lock_of(self, key: str) -> LockFacts: ...

    def extend_retention(self, key: str, until: datetime) -> bool:
        """Make the current version's lock last at least until `until`; never shortens. True if it changed."""
        ...

    def extend_pinned(self, key: str, version_id: str, recorded: VersionLock, mode: LockMode,
                      until: datetime) -> LockMode | None:
        """Lengthen one pinned version's lock to `until` in one call, trusting `recorded` (the lock the catalog
        noted) instead of looking: its mode is kept while active, else `mode` is set. The mode set; None where S3
        refused (the version is gone, or its lock is not as recorded): the caller then looks (`secure`)."""
        ...

    def copy_in(self, source_bucket: str, source_key: str, key: str, retain_until: datetime,
                source_version: str | None = None, seal: Seal | None = None,
                tags: dict[str, str] | None = None, if_match: str | None = None) -> Written:
        """Server-side copy into the vault under Object Lock; the SHA-256 S3 computed (hex) and the new version's id.
        `source_version` pins the version read (a vault blob read by a copy is always pinned where known); without
        one, `if_match` (the source's ETag) makes S3 refuse a source replaced since it was described."""
        ...

    def tags_of(self, key: str) -> dict[str, str]: ...

    def set_tags(self, key: str, tags: dict[str, str]) -> None: ...

    def thaw(self, key: str, days: int, tier: str, version_id: str | None = None) -> ThawOutcome:
        """Ask for an archived version (`version_id`, the pinned one; else the newest) back for `days`; whether it
        is readable now."""
        ...

    def secure(self, key: str, seal: Seal) -> LockFacts:
        """Make an existing (shared) object meet a recovery point's seal: locked at least until its date, in its mode
        or stricter (a GOVERNANCE version re-sealed as a new COMPLIANCE version). NotFound if missing."""
        ...

    def checksum_of(self, key: str, version_id: str | None = None) -> tuple[str | None, int] | None:
        """(S3's full-object SHA-256 hex or None, size) without reading bytes; None if missing. `version_id`: of that
        version, not the newest."""
        ...

    def stream_sha256(self, key: str, chunk: int = 8 * 1024 * 1024,
                      version_id: str | None = None) -> tuple[str, int]:
        """Re-read and hash the bytes (streamed): (sha256 hex, size). NotFound, IntegrityError. `version_id`: pinned."""
        ...

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None: ...

    def delete_version_bypassing_governance(self, key: str, version_id: str) -> None:
        """Only the audited operator command calls this."""
        ...

    def versions(self, prefix: str) -> Iterator[tuple[str, str]]:
        """(key, version id) of every version under a prefix (delete markers left out)."""
        ...

    def history(self, key: str, *, under: bool = False) -> list[ListedVersion]:
        """Every version and delete marker of exactly `key` (`under`: of every key under the prefix `key`, key by
        key), each key's newest first (paginated ListObjectVersions): what rebuild weighs, one manifest.json at a
        time, and the audit records' first versions."""
        ...

    def keys(self, prefix: str) -> Iterator[StoredObject]:
        """Every current object under a prefix."""
        ...

    def list_page(self, prefix: str, token: str | None, max_keys: int = 1000,
                  delimiter: str | None = None) -> tuple[list[StoredObject], list[str], str | None]:
        """One page: (objects, common prefixes, next token or None)."""
        ...
