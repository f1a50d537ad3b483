"""Server-side multipart copies (UploadPartCopy), S3 computing composite SHA-256 checksums
(adapters/vault/multipart.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from coffer.domain.multipart import part_count


@dataclass(frozen=True)
class Upload:
    """One multipart copy: from source (bucket, key, version) of `size` bytes, in parts of `part_size`, into
    dest_bucket/dest_key as upload `upload_id`. Plain data: range files of the Distributed Map carry it."""

    source_bucket: str
    source_key: str
    source_version: str | None
    size: int
    part_size: int
    dest_bucket: str
    dest_key: str
    upload_id: str

    @property
    def parts(self) -> int:
        return part_count(self.size, self.part_size)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Upload:
        return cls(**{name: document[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Composite:
    """S3's composite SHA-256 of an object (hex, without the part count), its parts and its version."""

    sha256: str
    parts: int
    version_id: str | None = None


class MultipartCopies(Protocol):
    def start(self, source_bucket: str, source_key: str, source_version: str | None, size: int, part_size: int,
              dest_bucket: str, dest_key: str, **create: Any) -> Upload:
        """CreateMultipartUpload with SHA-256 checksums; `create`: its other parameters (Object Lock, SSE, headers)."""
        ...

    def copy_parts(self, upload: Upload, first: int, last: int) -> None:
        """UploadPartCopy of parts first..last (a retried range copies them again: same bytes, same parts)."""
        ...

    def complete(self, upload: Upload) -> Composite:
        """Complete with every part as S3 listed it: S3's composite checksum. IntegrityError when a part is missing;
        UploadGone when the upload is no more (completed or aborted before)."""
        ...

    def abort(self, upload: Upload) -> None:
        """Abort (harmless when it is gone)."""
        ...

    def copy(self, source_bucket: str, source_key: str, source_version: str | None, size: int, part_size: int,
             dest_bucket: str, dest_key: str, **create: Any) -> Composite:
        """The whole copy at once; aborted on any failure."""
        ...

    def discard(self, bucket: str, key: str, version_id: str | None) -> None:
        """Delete the version a restore wrote whose checksum is not the manifest's: by its VersionId, so only that
        version goes (without one - an unversioned bucket, only ever one the restore created - the key)."""
        ...

    def composite_of(self, bucket: str, key: str) -> tuple[Composite | None, int] | None:
        """(S3's composite checksum or None for an object without one, size); None if there is no such object."""
        ...

    def stream_composite(self, bucket: str, key: str, part_size: int,
                         chunk: int = 8 * 1024 * 1024) -> tuple[Composite, int]:
        """Re-read and hash the object as S3 would for parts of `part_size`: (composite, size)."""
        ...
