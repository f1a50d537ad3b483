"""Services wired to the in-memory fakes, as entrypoints/bootstrap.py wires them to AWS: one `FakeWorld` per test."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from coffer.domain.clock import FixedClock
from coffer.domain.resources import ResourceType
from coffer.services.audit_log import AuditLog
from coffer.services.backup_jobs import BackupJobs
from coffer.services.continuous import ContinuousBackups
from coffer.services.large_objects import LargeObjects
from coffer.services.object_batches import ObjectBatches
from coffer.services.restore_jobs import RestoreJobs
from coffer.services.vaults import Vaults
from coffer.settings import Settings
from fakes.catalog import (
    MemoryCatalog,
    MemoryContinuousStore,
    MemoryQuotas,
    MemoryRestoreLeases,
    MemoryTable,
    MemoryVaultRecords,
    RecordingTurns,
)
from fakes.resources import FakeResources, RecordingAdapter
from fakes.storage import MemoryBuckets, MemoryVault, MemoryWorkArea
from fakes.target_buckets import MemoryTargetBuckets

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
SETTINGS = Settings(catalog_table="catalog", vault_bucket="vault", work_bucket="work",
                    vault_key_arn="arn:aws:kms:eu-west-1:111122223333:key/stack", region="eu-west-1")


class _Unused:
    def __init__(self, port: str) -> None:
        self._port = port

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{self._port}.{name} was not expected to be used here")


def unused(port: str) -> Any:
    """A port the code under test must not reach: any use fails the test, naming the port."""
    return _Unused(port)


@dataclass
class FakeWorld:
    clock: FixedClock = field(default_factory=lambda: FixedClock(START))
    settings: Settings = SETTINGS
    table: MemoryTable = field(default_factory=MemoryTable)
    turns: RecordingTurns = field(default_factory=RecordingTurns)
    ebs: RecordingAdapter = field(default_factory=lambda: RecordingAdapter(ResourceType.EBS))

    @cached_property
    def buckets(self) -> MemoryBuckets:
        return MemoryBuckets(self.clock, writes=self.table.writes)  # one log of the catalog's and the buckets' writes

    # ---- ports --------------------------------------------------------------------------------------------------
    @cached_property
    def catalog(self) -> MemoryCatalog:
        return MemoryCatalog(self.table, turns=self.turns)

    @cached_property
    def vault(self) -> MemoryVault:
        return MemoryVault(self.buckets, self.settings.vault_bucket, self.settings.vault_lock_mode)

    @cached_property
    def work(self) -> MemoryWorkArea:
        return MemoryWorkArea(self.buckets, self.settings.work_bucket)

    @cached_property
    def targets(self) -> MemoryTargetBuckets:
        """The buckets S3 restores write into (the restore side of ports/source_buckets.py)."""
        return MemoryTargetBuckets(self.buckets)

    @cached_property
    def resources(self) -> FakeResources:
        return FakeResources(self.ebs)

    # ---- services -----------------------------------------------------------------------------------------------
    @cached_property
    def vaults(self) -> Vaults:
        return Vaults(MemoryVaultRecords(self.table), self.settings, self.clock)

    @cached_property
    def continuous(self) -> ContinuousBackups:
        large = LargeObjects(self.catalog, self.vault, self.work, unused("multipart copies"), self.vaults,
                             self.settings)
        return ContinuousBackups(self.catalog, MemoryContinuousStore(self.table), unused("continuous adapters"),
                                 unused("source buckets"), self.vault, self.work, self.vaults, large, self.settings,
                                 self.clock)

    @cached_property
    def backup_jobs(self) -> BackupJobs:
        return BackupJobs(self.catalog, self.vault, self.work, self.resources, MemoryQuotas(self.table), self.turns,
                          self.continuous, self.vaults, self.settings, self.clock, self.audit)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(MemoryVaultRecords(self.table), self.vault, self.settings, self.clock, "test")

    @cached_property
    def restore_jobs(self) -> RestoreJobs:
        return RestoreJobs(self.catalog, self.vault, self.resources, MemoryRestoreLeases(self.table), self.continuous,
                           self.targets, self.settings, self.clock)

    @cached_property
    def object_batches(self) -> ObjectBatches:
        """S3 restores' RestoreBatch (restore_part) writing into `targets`; no listing, backup or fan-out here."""
        large = LargeObjects(self.catalog, self.vault, self.work, unused("multipart copies"), self.vaults,
                             self.settings)
        return ObjectBatches(self.catalog, self.vault, self.work, self.targets, unused("inventory batches"),
                             self.continuous, large, self.vaults, self.settings, self.clock, unused("tag marks"),
                             unused("blob records"))
