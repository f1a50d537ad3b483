"""Conditional PutObject (If-None-Match / If-Match) atomic on the twin, as S3 makes it.

moto checks the condition and then stores the object as two steps; two threads can both pass the check
and both write (the second as a new version). S3 guarantees one of them gets 412 PreconditionFailed —
the audit log's create-only records rely on it. The twin serialises moto's conditional PutObject handling.
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

    with mock.patch.object(S3Response, "put_object", put_object):
        yield
