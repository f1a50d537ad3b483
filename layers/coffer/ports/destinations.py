"""Where a copy goes: the destination Coffer stack, reached through its copy role
(adapters/aws_services/copy_destinations.py). Everything written there goes through these ports, with that role's
credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from coffer.domain.copies import VaultAddress
from coffer.ports.catalog import Catalog
from coffer.ports.multipart import MultipartCopies
from coffer.ports.resource_registry import ResourceAdapters
from coffer.ports.vault import VaultStore
from coffer.ports.vault_records import VaultRecords
from coffer.settings import Settings


@dataclass(frozen=True)
class DestinationPorts:
    """The destination stack's catalog, vault and resources, as the copy role reaches them."""

    catalog: Catalog
    vault_records: VaultRecords
    vault: VaultStore
    multipart: MultipartCopies
    resources: ResourceAdapters


@dataclass(frozen=True)
class Destination:
    address: VaultAddress
    stack_name: str
    role_arn: str
    #: the destination stack's settings (its catalog table, vault bucket, key, lock mode, default retention)
    settings: Settings
    ports: DestinationPorts


class Destinations(Protocol):
    @property
    def own_account(self) -> str:
        """The source's account (the copy scope and the destination's trust are named by it)."""
        ...

    def resolve(self, address: VaultAddress) -> Destination:
        """The destination of a vault ARN; InvalidInput naming DestinationBackupVaultArn when its copy role or its
        Coffer stack is not there (a transient AWS error is raised as such, to be tried again)."""
        ...
