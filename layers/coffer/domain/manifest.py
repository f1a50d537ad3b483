"""Manifests: what a recovery point holds, written Object-Locked beside the data.

A manifest alone is enough to restore, to verify and to rebuild the catalog (DESIGN invariant 4), so it
repeats everything the catalog knows about the recovery point. Object listings are sharded into parts
of at most one batch each: no step ever holds a whole bucket's listing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from coffer.domain.recovery_points import RecoveryPoint

MANIFEST_FORMAT = "coffer.manifest/1"


#: the multipart fields of an entry, written only for COMPOSITE entries (small objects' entries are unchanged)
_MULTIPART_FIELDS = ("checksum_type", "parts", "part_size")
#: headers S3 keeps that a restore puts back, recorded since restores keep them (absent when S3 had none: an entry
#: without them is written as before, and restores S3's defaults - STANDARD storage, no Expires, no redirect)
_RESTORE_FIELDS = ("expires", "website_redirect_location", "storage_class")


class ObjectEntry(BaseModel):
    """One S3 object of a recovery point and where its bytes live in the vault (content-addressed).

    `sha256` is the checksum S3 computed, of the kind `checksum_type` says: FULL_OBJECT (the object's SHA-256),
    or COMPOSITE for an object copied in `parts` parts of `part_size` bytes (UploadPartCopy, objects over the
    multipart threshold): the SHA-256 of the concatenated part SHA-256s, which S3 reports as `<hex>-<parts>`.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    size: int
    etag: str
    last_modified: str
    #: the *source* object's VersionId (what was backed up)
    version_id: str | None = None
    sha256: str
    #: the pinned version of its blob in the vault (DESIGN invariant 6): what restore, copy and verify read;
    #: None in entries written before versions were pinned (read at the newest version, reported UNPINNED)
    blob_version_id: str | None = None
    checksum_type: Literal["FULL_OBJECT", "COMPOSITE"] = "FULL_OBJECT"
    parts: int | None = Field(default=None, ge=1)
    part_size: int | None = Field(default=None, ge=1)
    content_type: str | None = None
    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    #: HeadObject's Expires (ISO 8601), WebsiteRedirectLocation and StorageClass (None: STANDARD)
    expires: str | None = None
    website_redirect_location: str | None = None
    storage_class: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)

    @property
    def composite(self) -> bool:
        return self.checksum_type == "COMPOSITE"

    @model_serializer(mode="wrap")
    def _without_default_multipart_fields(self, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(self)
        if isinstance(dumped, dict) and not self.composite:
            for name in _MULTIPART_FIELDS:
                dumped.pop(name, None)
        if isinstance(dumped, dict):
            for name in _RESTORE_FIELDS:
                if dumped.get(name) is None:
                    dumped.pop(name, None)
        return dumped


class ManifestPart(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: str = MANIFEST_FORMAT
    recovery_point_id: str
    seq: int
    entries: tuple[ObjectEntry, ...]


class PartRef(BaseModel):
    """A part as the root manifest lists it; sha256 is S3's checksum of the part object."""

    model_config = ConfigDict(frozen=True)

    seq: int
    key: str
    sha256: str
    #: the part object's VersionId in the vault (None: written before versions were pinned)
    version_id: str | None = None
    objects: int
    bytes: int
    first_key: str | None = None
    last_key: str | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: str = MANIFEST_FORMAT
    recovery_point: RecoveryPoint
    completed_at: datetime
    source: dict[str, object] = Field(default_factory=dict)
    parts: tuple[PartRef, ...] = ()
    objects: int = 0
    failed_keys: tuple[str, ...] = ()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class VaultLayout:
    """Where things live in the vault bucket. One place, so readers and writers cannot disagree."""

    @staticmethod
    def blob(vault: str, sha256: str) -> str:
        return f"vaults/{vault}/blobs/sha256/{sha256}"

    @staticmethod
    def composite_blob(vault: str, sha256: str, parts: int) -> str:
        """A blob copied in parts: addressed by its composite SHA-256 and part count, apart from full-object ones."""
        return f"vaults/{vault}/blobs/sha256-composite/{sha256}-{parts}"

    @classmethod
    def blob_of(cls, vault: str, entry: ObjectEntry) -> str:
        """Where an entry's bytes live: by full-object SHA-256, or by composite SHA-256 for multipart copies."""
        if entry.composite:
            return cls.composite_blob(vault, entry.sha256, entry.parts or 0)
        return cls.blob(vault, entry.sha256)

    @staticmethod
    def recovery_point_prefix(vault: str, recovery_point_id: str) -> str:
        return f"vaults/{vault}/recovery-points/{recovery_point_id}/"

    @classmethod
    def manifest(cls, vault: str, recovery_point_id: str) -> str:
        return cls.recovery_point_prefix(vault, recovery_point_id) + "manifest.json"

    @classmethod
    def parts_prefix(cls, vault: str, recovery_point_id: str) -> str:
        return cls.recovery_point_prefix(vault, recovery_point_id) + "parts/"

    @classmethod
    def part(cls, vault: str, recovery_point_id: str, seq: int) -> str:
        return f"{cls.parts_prefix(vault, recovery_point_id)}{seq:08d}.json"


class WorkLayout:
    """Scratch space of a job in the work bucket (expires by lifecycle rule; never the only copy of anything)."""

    @staticmethod
    def batches_prefix(job_id: str) -> str:
        return f"jobs/{job_id}/batches/"

    @classmethod
    def batch(cls, job_id: str, seq: int) -> str:
        return f"{cls.batches_prefix(job_id)}{seq:08d}.json"

    #: where staging copies go (S3 computes a SHA-256 on the way in): the work bucket's `expire-staging` lifecycle
    #: rule (template.yaml) removes them a day later, so CopyBatch deletes none
    STAGING_PREFIX = "staging/"

    @classmethod
    def staging(cls, job_id: str, seq: int, index: int) -> str:
        return f"{cls.STAGING_PREFIX}{job_id}/{seq:08d}-{index:05d}"

    @staticmethod
    def large_staging(job_id: str, seq: int, index: int) -> str:
        """A large object's staging copy (services/large_objects.py): deleted by the step that copies it into the
        vault, which may run days later for an object of many parts or a redriven run - so not under STAGING_PREFIX,
        which expires after a day, but with the job's scratch (`expire-scratch`, a week)."""
        return f"jobs/{job_id}/staging/{seq:08d}-{index:05d}"

    # Objects copied in more parts than one invocation copies (services/large_objects.py), by round:
    # round 0 copies the source into staging (S3 computes the composite checksum), round 1 staging into the vault.
    @staticmethod
    def pending_parts_prefix(job_id: str) -> str:
        """A copy's manifest parts waiting for the destination versions of blobs the part-range fan-out copies."""
        return f"jobs/{job_id}/pending-parts/"

    @classmethod
    def pending_part(cls, job_id: str, seq: int) -> str:
        return f"{cls.pending_parts_prefix(job_id)}{seq:08d}.json"

    @staticmethod
    def large_prefix(job_id: str, round_: int) -> str:
        return f"jobs/{job_id}/large/{round_}/"

    @classmethod
    def large(cls, job_id: str, round_: int, seq: int, index: int) -> str:
        return f"{cls.large_prefix(job_id, round_)}{seq:08d}-{index:05d}.json"

    @staticmethod
    def ranges_prefix(job_id: str, round_: int) -> str:
        return f"jobs/{job_id}/ranges/{round_}/"

    @classmethod
    def part_range(cls, job_id: str, round_: int, seq: int, index: int, first_part: int) -> str:
        return f"{cls.ranges_prefix(job_id, round_)}{seq:08d}-{index:05d}-{first_part:05d}.json"
