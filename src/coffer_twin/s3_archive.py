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

__all__ = ["archived_metadata_readable"]

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
