"""Builds the object graph from Settings. Only entry points (handlers, CLI, twin) call this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

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


def build(settings: Settings, clock: Clock | None = None, session: boto3.Session | None = None) -> Deps:
    session = session or boto3.Session()
    clients: dict[str, Any] = {}

    def client_for(service: str) -> Any:
        if service not in clients:
            clients[service] = aws.client(service, settings.region, session)
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
