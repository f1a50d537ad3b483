"""One DynamoDB call at a time on the twin, so that a transaction is atomic as in DynamoDB.

moto's ``TransactWriteItems`` snapshots each table it touches, applies the items one by one and, when a
condition fails, puts the snapshot back. With calls from several threads (Step Functions runs executions
and Map children in threads) that rollback also undoes what other calls wrote meanwhile: a duplicate
delivery's refused ``create_job`` rolled back the winning execution's ``RUNNING`` write, and its
``CompleteBackup`` then found the job ``CREATED`` again (seen by tests/races). DynamoDB never loses a
write that way: a cancelled transaction changes nothing. The twin serialises moto's DynamoDB request
handling with one lock (reentrant: moto's handlers call each other), which gives every call, and every
transaction, the isolation DynamoDB gives it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

__all__ = ["atomic_dynamodb"]


@contextmanager
def atomic_dynamodb() -> Iterator[None]:
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    lock = threading.RLock()

    def call_action(handler: Any) -> Any:
        with lock:
            return original(handler)

    with mock.patch.object(DynamoHandler, "call_action", call_action):
        yield
