"""Conditional PutObject (If-None-Match / If-Match) atomic on the twin, as S3 makes it; CopyObject's
``x-amz-copy-source-if-match`` honoured, as S3 does.

moto checks the condition and then stores the object as two steps; two threads can both pass the check
and both write (the second as a new version). S3 guarantees one of them gets 412 PreconditionFailed —
the audit log's create-only records rely on it. The twin serialises moto's conditional PutObject handling.

moto 5.2 ignores CopyObject's ``x-amz-copy-source-if-match`` (it knows only if-none-match) and copies whatever the
source holds now; S3 answers 412 PreconditionFailed when the source's ETag is no longer the one named. Coffer pins
its copies of an unversioned bucket's objects to the ETag it read (services/object_batches.py), so the twin must
refuse as S3 does, or a source replaced mid-backup would be copied on the twin where S3 refuses it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

__all__ = ["atomic_conditional_puts"]


@contextmanager
def atomic_conditional_puts() -> Iterator[None]:
    from moto.s3.responses import S3Response

    original = S3Response.put_object
    lock = threading.RLock()

    def put_object(response: Any) -> Any:
        if response.headers.get("If-None-Match") or response.headers.get("If-Match"):
            with lock:
                return original(response)
        return original(response)

    original_copy = S3Response.copy_object

    def copy_object(response: Any) -> Any:
        wanted = response.headers.get("x-amz-copy-source-if-match")
        if wanted:
            from urllib.parse import parse_qs, unquote, urlparse

            from moto.s3.exceptions import PreconditionFailed

            source = urlparse(str(response.headers.get("x-amz-copy-source")))
            bucket, key = unquote(source.path).lstrip("/").split("/", 1)
            version = parse_qs(source.query).get("versionId", [None])[0]
            with lock:
                found = response.backend.get_object(bucket, key, version_id=version)
                if found is not None and wanted.strip('"') != found.etag.strip('"'):
                    raise PreconditionFailed(failed_condition="x-amz-copy-source-If-Match")
                return original_copy(response)
        return original_copy(response)

    with mock.patch.object(S3Response, "put_object", put_object), \
            mock.patch.object(S3Response, "copy_object", copy_object):
        yield
