"""The S3 buckets Coffer backs up and restores into, object by object (adapters/resources/s3.py).

Per-object methods raise ObjectRefused (ObjectArchived for bytes in an archive tier) when S3 refuses that object for
good: the batch names it failed and goes on."""

from __future__ import annotations

from typing import Any, Protocol

from coffer.domain.manifest import ObjectEntry


class SourceBuckets(Protocol):
    def list_page(self, bucket: str, token: str | None, max_keys: int) -> tuple[list[dict[str, Any]], str | None]:
        """One listing page: ([{key, size, etag, last_modified}], the next token or None)."""
        ...

    def describe_object(self, bucket: str, key: str) -> dict[str, Any] | None:
        """Headers, user metadata, tags, version and (if S3 has one) the SHA-256; None when it vanished. Tags are
        read only when HeadObject counts some."""
        ...

    def read_object(self, bucket: str, key: str, hash_up_to: int) -> dict[str, Any] | None:
        """What describe_object answers, from one GetObject instead of a HeadObject: where S3 has no SHA-256 and
        the object is at most `hash_up_to` bytes, its bytes stream through a SHA-256 here (cheaper than the staging
        copy that would make S3 compute it); else the body is left unread."""
        ...

    def describe_version(self, bucket: str, key: str, version_id: str | None) -> dict[str, Any] | None:
        """The same for one version; None when that version is gone or is a delete marker."""
        ...

    def tags(self, bucket: str, key: str) -> dict[str, str] | None:
        """The object's tags; None when it vanished."""
        ...

    def copy_with_checksum(self, bucket: str, key: str, version_id: str | None, size: int,
                           dest_bucket: str, dest_key: str, etag: str | None = None) -> str:
        """Server-side copy that makes S3 compute the SHA-256 (hex): how an object's content address is learnt.
        Pinned by `version_id`, else by `etag` (CopySourceIfMatch)."""
        ...

    def tag_events_on(self, bucket: str) -> bool:
        """Whether the bucket's events (its tag changes) reach EventBridge."""
        ...

    def bucket_versioning(self, bucket: str) -> str | None:
        """A restore target's versioning: GetBucketVersioning's Status ("Enabled", "Suspended"), "" when it was never
        enabled, None when the bucket does not exist."""
        ...

    def restore_object(self, vault_bucket: str, blob_key: str, bucket: str, key: str, entry: ObjectEntry,
                       blob_version: str | None = None) -> str | None:
        """Copy a blob (the version `blob_version` pins, else the newest) back under its key with every header S3
        keeps, its metadata, tags and storage class; the VersionId written (None in an unversioned bucket).
        IntegrityError unless S3's SHA-256 of the restored object is the recorded one - the version written is then
        deleted first (only that version: what it overwrote is current again). ObjectRefused when the blob is
        missing or unreadable."""
        ...
