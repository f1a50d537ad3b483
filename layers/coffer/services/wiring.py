"""Builds the object graph from Settings. Only entry points (handlers, CLI, twin) call this.

The graph is built once per container, at cold start; the SDK clients in it are made when first used (see
ClientOnFirstUse): an invocation pays only for the clients it calls, and the import pays for none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coffer.adapters import aws
from coffer.adapters.catalog.dynamodb import DynamoCatalog
from coffer.adapters.catalog.turns import TurnQueue
from coffer.adapters.resources import adapter_for
from coffer.adapters.resources.s3 import S3Adapter
from coffer.adapters.vault.s3_vault import S3Vault
from coffer.adapters.vault.work_area import WorkArea
from coffer.domain.clock import Clock, SystemClock
from coffer.domain.resources import ResourceType
from coffer.ports import ResourceAdapter
from coffer.settings import Settings

if TYPE_CHECKING:
    import boto3


@dataclass(frozen=True)
class Deps:
    settings: Settings
    clock: Clock
    catalog: DynamoCatalog
    vault: S3Vault
    s3: S3Adapter
    work: WorkArea
    client_for: Callable[[str], Any]

    def adapter(self, resource_type: ResourceType) -> ResourceAdapter:
        return adapter_for(resource_type, self.client_for)


class ClientOnFirstUse:
    """Stands in for a boto3 client until something is asked of it, then makes it (once) and hands it every
    attribute. Making a client reads its service's model from disk (tens of milliseconds, more for S3)."""

    def __init__(self, make: Callable[[], Any], lock: threading.Lock) -> None:
        self._make = make
        self._lock = lock
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:  # only for names the stand-in itself lacks
        if name in ("_make", "_lock", "_client"):  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make()
        return getattr(self._client, name)


def build(settings: Settings, clock: Clock | None = None, session: boto3.Session | None = None) -> Deps:
    clients: dict[str, Any] = {}
    sessions: list[boto3.Session] = [session] if session is not None else []
    # Handlers may make their clients on several threads at once (the twin runs invocations on threads; a
    # batch may copy concurrently), and a boto3 Session is not thread-safe: one client is made at a time.
    lock = threading.Lock()

    def make(service: str) -> Any:
        if not sessions:
            import boto3

            sessions.append(boto3.Session())
        return aws.client(service, settings.region, sessions[0])

    def client_for(service: str) -> Any:
        with lock:
            if service not in clients:
                clients[service] = ClientOnFirstUse(lambda: make(service), lock)
            return clients[service]

    catalog = DynamoCatalog(client_for("dynamodb"), settings.catalog_table)
    # A backup job that ends wakes the jobs queued behind it (its resource's lease, its volumes' snapshot slots).
    catalog.on_backup_ended = TurnQueue(client_for("dynamodb"), settings.catalog_table,
                                        lambda: client_for("stepfunctions")).after_backup_ended
    return Deps(
        settings=settings,
        clock=clock or SystemClock(),
        catalog=catalog,
        vault=S3Vault(client_for("s3"), settings.vault_bucket, settings.vault_lock_mode),
        s3=S3Adapter(client_for("s3")),
        work=WorkArea(client_for("s3"), settings.work_bucket),
        client_for=client_for,
    )
