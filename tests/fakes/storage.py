"""The vault and the work bucket in memory: versioned buckets with Object Lock (`MemoryBuckets`), and the two ports
over them. The vault keeps S3's rules as the adapter checks them (domain/object_lock.py): a retention is only ever
extended, a COMPLIANCE version keeps its mode, a GOVERNANCE one needing COMPLIANCE is re-sealed as a new version.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from coffer.domain.clock import Clock
from coffer.domain.cold_tier import ARCHIVE_CLASSES, ThawOutcome, thaw_outcome
from coffer.domain.errors import AlreadyStored, NotFound, ObjectLockRefusal
from coffer.domain.object_lock import LockMode, VersionLock, retention_change_refusal
from coffer.domain.vaults import Seal
from coffer.ports.vault import ListedVersion, LockFacts, StoredObject, Written

_IDS = itertools.count(1)


@dataclass
class Version:
    id: str
    body: bytes
    modified: datetime
    mode: LockMode | None = None
    retain_until: datetime | None = None
    legal_hold: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"
    #: a delete marker (no bytes): hides the versions under it from unversioned reads
    delete_marker: bool = False
    restored: bool = False
    content_type: str = "application/octet-stream"

    @property
    def lock(self) -> VersionLock:
        return VersionLock(self.mode, self.retain_until, self.legal_hold)


class MemoryBuckets:
    """Versioned buckets: bucket -> key -> versions, oldest first. `writes` logs every write in order (bucket, key)."""

    def __init__(self, clock: Clock, writes: list[tuple[str, str]] | None = None) -> None:
        self.clock = clock
        self.buckets: dict[str, dict[str, list[Version]]] = {}
        #: shared with the catalog's fakes, the order of writes across both shows (MemoryTable.writes)
        self.writes: list[tuple[str, str]] = [] if writes is None else writes
        #: (bucket, key prefix) -> why: a write there fails (the fault a service test aims at)
        self.refusing: dict[tuple[str, str], str] = {}

    def put(self, bucket: str, key: str, body: bytes, **lock: Any) -> Version:
        for (where, prefix), why in self.refusing.items():
            if where == bucket and key.startswith(prefix):
                raise OSError(f"s3://{bucket}/{key}: {why}")
        version = Version(str(next(_IDS)), body, self.clock.now(), **lock)
        self.buckets.setdefault(bucket, {}).setdefault(key, []).append(version)
        self.writes.append((bucket, key))
        return version

    def current(self, bucket: str, key: str) -> Version | None:
        versions = self.buckets.get(bucket, {}).get(key, [])
        return versions[-1] if versions and not versions[-1].delete_marker else None

    def version(self, bucket: str, key: str, version_id: str) -> Version | None:
        """One version by id (None if missing or a delete marker: S3 reads no bytes from a marker)."""
        found = next((v for v in self.buckets.get(bucket, {}).get(key, []) if v.id == version_id), None)
        return None if found is None or found.delete_marker else found

    def mark_deleted(self, bucket: str, key: str) -> Version:
        """A DeleteObject without a VersionId: a delete marker on top, every version kept underneath."""
        marker = Version(str(next(_IDS)), b"", self.clock.now(), delete_marker=True)
        self.buckets.setdefault(bucket, {}).setdefault(key, []).append(marker)
        return marker

    def get(self, bucket: str, key: str) -> Version:
        found = self.current(bucket, key)
        if found is None:
            raise NotFound(f"s3://{bucket}/{key} not found")
        return found

    def keys(self, bucket: str, prefix: str) -> list[str]:
        return sorted(k for k, versions in self.buckets.get(bucket, {}).items()
                      if versions and not versions[-1].delete_marker and k.startswith(prefix))


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class MemoryVault:
    """ports/vault.py VaultStore over a bucket of `MemoryBuckets`."""

    def __init__(self, buckets: MemoryBuckets, bucket: str, lock_mode: str = "GOVERNANCE") -> None:
        self._s3 = buckets
        self.bucket = bucket
        self.lock_mode = lock_mode

    def put_locked(self, key: str, body: bytes, retain_until: datetime, content_type: str = "application/json",
                   *, mode: str | None = None, kms_key_id: str | None = None, create_only: bool = False) -> Written:
        if create_only and self._s3.current(self.bucket, key) is not None:
            raise AlreadyStored(f"s3://{self.bucket}/{key} exists")
        made = self._s3.put(self.bucket, key, body, mode=LockMode(mode or self.lock_mode), retain_until=retain_until,
                            content_type=content_type)
        return Written(_sha(body), made.id)

    def put_json_locked(self, key: str, document: Any, retain_until: datetime, seal: Seal | None = None) -> Written:
        body = json.dumps(document, sort_keys=True, default=str).encode()
        if seal is None:
            return self.put_locked(key, body, retain_until)
        return self.put_locked(key, body, retain_until, mode=seal.mode.value, kms_key_id=seal.kms_key_arn)

    def get_bytes(self, key: str) -> bytes:
        return self._s3.get(self.bucket, key).body

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def get_bytes_version(self, key: str, version_id: str) -> bytes:
        return self._pinned(key, version_id).body

    def get_json_version(self, key: str, version_id: str) -> Any:
        return json.loads(self.get_bytes_version(key, version_id))

    def _pinned(self, key: str, version_id: str) -> Version:
        if not version_id:
            raise ValueError(f"s3://{self.bucket}/{key}: version_id must be a VersionId S3 gave, not empty")
        found = self._s3.version(self.bucket, key, version_id)
        if found is None:
            raise NotFound(f"s3://{self.bucket}/{key}?versionId={version_id} not found")
        return found

    def lock_of(self, key: str) -> LockFacts:
        return self._facts(self._s3.current(self.bucket, key))

    def lock_of_version(self, key: str, version_id: str) -> LockFacts:
        if not version_id:
            raise ValueError(f"s3://{self.bucket}/{key}: version_id must be a VersionId S3 gave, not empty")
        return self._facts(self._s3.version(self.bucket, key, version_id))

    @staticmethod
    def _facts(found: Version | None) -> LockFacts:
        if found is None:
            return LockFacts(False, None)
        return LockFacts(True, found.retain_until, found.mode.value if found.mode else None, found.legal_hold,
                         found.id, found.storage_class, 'ongoing-request="false"' if found.restored else None,
                         _sha(found.body))

    def extend_retention(self, key: str, until: datetime) -> bool:
        return self._extend(key, self._s3.get(self.bucket, key), until, None)

    def _extend(self, key: str, version: Version, until: datetime, mode: LockMode | None) -> bool:
        current = version.retain_until
        if current is not None and current >= until:
            return False
        active = current is not None and current > self._s3.clock.now()
        target = (version.mode if active else None) or mode or LockMode(self.lock_mode)
        refusal = retention_change_refusal(version.lock, target, until, self._s3.clock.now())
        if refusal:
            raise ObjectLockRefusal(f"s3://{self.bucket}/{key}: {refusal}")
        version.mode, version.retain_until = target, until
        return True

    def extend_pinned(self, key: str, version_id: str, recorded: VersionLock, mode: LockMode,
                      until: datetime) -> LockMode | None:
        now = self._s3.clock.now()
        target = (recorded.mode if recorded.retention_active(now) else None) or mode
        if recorded.retain_until is not None and recorded.retain_until >= until:
            return target
        found = self._s3.version(self.bucket, key, version_id)
        if found is None or retention_change_refusal(recorded, target, until, now) or \
                retention_change_refusal(found.lock, target, until, now):
            return None  # as S3 answers: gone, or locked otherwise than recorded
        found.mode, found.retain_until = target, until
        return target

    def copy_in(self, source_bucket: str, source_key: str, key: str, retain_until: datetime,
                source_version: str | None = None, seal: Seal | None = None,
                tags: dict[str, str] | None = None, if_match: str | None = None) -> Written:
        source = self._s3.get(source_bucket, source_key)
        if source_version:
            pinned = self._s3.version(source_bucket, source_key, source_version)
            if pinned is None:
                raise NotFound(f"s3://{source_bucket}/{source_key}?versionId={source_version} not found")
            source = pinned
        made = self._s3.put(self.bucket, key, source.body, mode=seal.mode if seal else LockMode(self.lock_mode),
                            retain_until=retain_until, tags=dict(tags or {}))
        return Written(_sha(source.body), made.id)

    def tags_of(self, key: str) -> dict[str, str]:
        return dict(self._s3.get(self.bucket, key).tags)

    def set_tags(self, key: str, tags: dict[str, str]) -> None:
        self._s3.get(self.bucket, key).tags = dict(tags)

    def thaw(self, key: str, days: int, tier: str, version_id: str | None = None) -> ThawOutcome:
        version = self._s3.version(self.bucket, key, version_id) if version_id else self._s3.get(self.bucket, key)
        if version is None:
            raise NotFound(f"s3://{self.bucket}/{key} version {version_id} not found")
        if version.storage_class not in ARCHIVE_CLASSES:
            return thaw_outcome("InvalidObjectState")
        if version.restored:
            return thaw_outcome("200")
        version.restored = True  # restored at once: a fake archive answers its first request straight away
        return thaw_outcome("202")

    def secure(self, key: str, seal: Seal) -> LockFacts:
        version = self._s3.current(self.bucket, key)
        if version is None:
            raise NotFound(f"s3://{self.bucket}/{key} not found")
        now = self._s3.clock.now()
        if seal.mode is LockMode.COMPLIANCE and version.mode is not LockMode.COMPLIANCE:
            current = version.retain_until if version.lock.retention_active(now) else None
            until = max(seal.retain_until, current) if current else seal.retain_until
            self._s3.put(self.bucket, key, version.body, mode=LockMode.COMPLIANCE, retain_until=until,
                         tags=dict(version.tags))
            return self.lock_of(key)
        self._extend(key, version, seal.retain_until, seal.mode)
        return self.lock_of(key)

    def checksum_of(self, key: str, version_id: str | None = None) -> tuple[str | None, int] | None:
        found = self._s3.version(self.bucket, key, version_id) if version_id else self._s3.current(self.bucket, key)
        return None if found is None else (_sha(found.body), len(found.body))

    def stream_sha256(self, key: str, chunk: int = 8 * 1024 * 1024,
                      version_id: str | None = None) -> tuple[str, int]:
        body = self.get_bytes_version(key, version_id) if version_id else self.get_bytes(key)
        return _sha(body), len(body)

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        next(v for v in self._s3.buckets[self.bucket][key] if v.id == version_id).legal_hold = on

    def delete_version_bypassing_governance(self, key: str, version_id: str) -> None:
        versions = self._s3.buckets[self.bucket][key]
        versions[:] = [v for v in versions if v.id != version_id]

    def versions(self, prefix: str) -> Iterator[tuple[str, str]]:
        for key in sorted(k for k in self._s3.buckets.get(self.bucket, {}) if k.startswith(prefix)):
            yield from ((key, v.id) for v in self._s3.buckets[self.bucket][key] if not v.delete_marker)

    def history(self, key: str, *, under: bool = False) -> list[ListedVersion]:
        stored = self._s3.buckets.get(self.bucket, {})
        found: list[ListedVersion] = []
        for name in sorted(k for k in stored if (k.startswith(key) if under else k == key)):
            versions = stored[name]
            found += [ListedVersion(name, v.id, v.modified, v.delete_marker, n == len(versions) - 1)
                      for n, v in reversed(list(enumerate(versions)))]
        return found

    def keys(self, prefix: str) -> Iterator[StoredObject]:
        for key in self._s3.keys(self.bucket, prefix):
            version = self._s3.get(self.bucket, key)
            yield StoredObject(key, len(version.body), version.modified)

    def list_page(self, prefix: str, token: str | None, max_keys: int = 1000,
                  delimiter: str | None = None) -> tuple[list[StoredObject], list[str], str | None]:
        objects, prefixes = list(self.keys(prefix)), []
        if delimiter:
            below = {o.key[len(prefix):].split(delimiter, 1)[0] for o in objects if delimiter in o.key[len(prefix):]}
            prefixes = sorted(prefix + b + delimiter for b in below)
            objects = [o for o in objects if delimiter not in o.key[len(prefix):]]
        entries: list[StoredObject | str] = sorted([*objects, *prefixes],
                                                   key=lambda e: e if isinstance(e, str) else e.key)
        start = int(token or 0)
        page = entries[start:start + max_keys]
        more = start + max_keys < len(entries)
        return ([e for e in page if isinstance(e, StoredObject)], [e for e in page if isinstance(e, str)],
                str(start + max_keys) if more else None)


class MemoryWorkArea:
    """ports/work_area.py WorkArea over a bucket of `MemoryBuckets`."""

    def __init__(self, buckets: MemoryBuckets, bucket: str) -> None:
        self._s3 = buckets
        self.bucket = bucket

    def write_json(self, key: str, document: Any) -> None:
        self._s3.put(self.bucket, key, json.dumps(document).encode(), content_type="application/json")

    def read_json(self, key: str) -> Any:
        return json.loads(self._s3.get(self.bucket, key).body)

    def delete(self, key: str) -> None:
        self._s3.buckets.get(self.bucket, {}).pop(key, None)

    def size_of(self, key: str) -> int:
        return len(self._s3.get(self.bucket, key).body)

    def listing(self, prefix: str) -> list[dict[str, Any]]:
        return [{"key": key, "size": self.size_of(key)} for key in self._s3.keys(self.bucket, prefix)]

    def first_key(self, prefix: str) -> str | None:
        keys = self._s3.keys(self.bucket, prefix)
        return keys[0] if keys else None
