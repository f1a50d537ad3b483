"""Archived objects on the twin, as S3 treats them: their tags and legal hold stay readable.

S3 refuses to read an archived (GLACIER, DEEP_ARCHIVE) object's bytes until it is restored, but its metadata,
tags and legal hold can be read as ever. moto 5.2 refuses GetObjectTagging and GetObjectLegalHold too
(InvalidObjectState), which would make the twin fail where AWS works: a cold blob's tags are read by a repeated
ColdStorage run and by backups that share it. The twin lets those two reads skip moto's storage-class check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

__all__ = ["archived_metadata_readable", "restore_of_a_version"]

_METADATA_READS = ("get_object_tagging", "get_object_legal_hold")


@contextmanager
def archived_metadata_readable() -> Iterator[None]:
    from moto.s3.responses import S3Response

    local = threading.local()
    original_get_key = S3Response._get_key

    def get_key(self: Any, validate_storage_class: bool = True) -> Any:
        return original_get_key(self, validate_storage_class and not getattr(local, "metadata_read", False))

    def metadata_read(method: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def call(self: Any) -> Any:
            local.metadata_read = True
            try:
                return method(self)
            finally:
                local.metadata_read = False
        return call

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(S3Response, "_get_key", get_key))
        for name in _METADATA_READS:
            stack.enter_context(mock.patch.object(S3Response, name, metadata_read(getattr(S3Response, name))))
        yield


@contextmanager
def restore_of_a_version() -> Iterator[None]:
    """RestoreObject of `?versionId=`: S3 brings that version back; moto 5.2 drops the parameter and restores the
    newest version, so a restore of a pinned (older) version would never become readable on the twin."""
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    local = threading.local()
    original_post = S3Response._key_response_post
    original_restore = S3Backend.restore_object

    def key_response_post(self: Any, request: Any, body: bytes, bucket_name: str, query: dict[str, Any],
                          key_name: str) -> Any:
        local.version_id = (query.get("versionId") or [None])[0] if "restore" in query else None
        try:
            return original_post(self, request, body, bucket_name, query, key_name)
        finally:
            local.version_id = None

    def restore_object(self: Any, bucket_name: str, key_name: str, days: str | None, type_: str | None) -> bool:
        version_id = getattr(local, "version_id", None)
        if version_id is None:
            return bool(original_restore(self, bucket_name, key_name, days, type_))
        from moto.s3.exceptions import InvalidObjectState, MissingKey
        from moto.s3.utils import ARCHIVE_STORAGE_CLASSES

        key = self.get_object(bucket_name, key_name, version_id=version_id)
        if not key:
            raise MissingKey
        if key.storage_class not in ARCHIVE_STORAGE_CLASSES:
            raise InvalidObjectState(storage_class=key.storage_class)
        had_expiry_date = key.expiry_date is not None
        if days:
            key.restore(int(days))
        return had_expiry_date

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(S3Response, "_key_response_post", key_response_post))
        stack.enter_context(mock.patch.object(S3Backend, "restore_object", restore_object))
        yield
