"""The buckets an S3 restore writes into, in memory (ports/source_buckets.py, the restore side), over `MemoryBuckets`:
S3's rules as the adapter relies on them - a bucket's versioning ("" never enabled, "Enabled", "Suspended"), a write
into an unversioned bucket replaces the key's only version, CopyObject's SHA-256 computed from the bytes copied,
DeleteObject with a VersionId removing only that version. `headers` keeps what each restored version was given.
"""

from __future__ import annotations

import hashlib
from typing import Any

from coffer.domain.errors import IntegrityError, ObjectRefused
from coffer.domain.manifest import ObjectEntry
from coffer.domain.restored_headers import restore_args
from fakes.storage import MemoryBuckets, Version


class MemoryTargetBuckets:
    def __init__(self, buckets: MemoryBuckets) -> None:
        self._s3 = buckets
        #: bucket -> versioning status ("" never enabled); a bucket absent here does not exist
        self.versioning: dict[str, str] = {}
        #: (bucket, key, version id) -> the CopyObject parameters a restored version was written with
        self.headers: dict[tuple[str, str, str], dict[str, Any]] = {}
        #: (bucket, key) -> bytes S3 stores instead of the source's (a copy that goes wrong in flight)
        self.corrupting: dict[tuple[str, str], bytes] = {}
        #: every (bucket, key, version id or None) DeleteObject removed
        self.deleted: list[tuple[str, str, str | None]] = []

    def create(self, bucket: str, versioning: str = "") -> None:
        self.versioning[bucket] = versioning
        self._s3.buckets.setdefault(bucket, {})

    def bucket_versioning(self, bucket: str) -> str | None:
        return self.versioning.get(bucket)

    def restore_object(self, vault_bucket: str, blob_key: str, bucket: str, key: str, entry: ObjectEntry,
                       blob_version: str | None = None) -> str | None:
        versions = self._s3.buckets.get(vault_bucket, {}).get(blob_key, [])
        source = next((v for v in versions if v.id == blob_version), None) if blob_version else (
            versions[-1] if versions else None)
        if source is None:
            raise ObjectRefused("NoSuchVersion" if blob_version else "NoSuchKey", f"the vault holds no blob {blob_key}")
        body = self.corrupting.get((bucket, key), source.body)
        versioned = self.versioning.get(bucket) == "Enabled"
        if not versioned:  # the key's only ("null") version is replaced
            self._s3.buckets.setdefault(bucket, {}).pop(key, None)
        written = self._s3.put(bucket, key, body)
        self.headers[(bucket, key, written.id)] = restore_args(entry)
        if hashlib.sha256(body).hexdigest() != entry.sha256:
            self._delete(bucket, key, written.id if versioned else None)
            raise IntegrityError(f"s3://{bucket}/{key}: restored SHA-256 differs (the version written was deleted)")
        return written.id if versioned else None

    def _delete(self, bucket: str, key: str, version_id: str | None) -> None:
        self.deleted.append((bucket, key, version_id))
        versions: list[Version] = self._s3.buckets[bucket][key]
        versions[:] = [v for v in versions if version_id is not None and v.id != version_id]

    def current_body(self, bucket: str, key: str) -> bytes | None:
        found = self._s3.current(bucket, key)
        return None if found is None else found.body

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"target buckets.{name} was not expected to be used by a restore")
