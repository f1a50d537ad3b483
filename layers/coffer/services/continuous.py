"""Continuous backup and point-in-time restore (domain/continuous.py has the rules).

Turning it on runs in the Backup workflow: StartBackupJob with `EnableContinuousBackup: true` makes a job
(lease, idempotency, start window as any backup), then the EnableContinuousBackup step turns the service's
continuous backup on (`enable`); DynamoDB and RDS are polled until it is on (`status`), an S3 bucket gets its
base backup through the usual ListBatches / CopyBatch Distributed Map; CompleteBackup writes the continuous
recovery point (`finish`, `activate`). Asking again while it is on only sets the retention.

S3 changes arrive as EventBridge events (`record_change`): the new version is copied into the vault
content-addressed (server-side, S3 computing the SHA-256) and the change appended to the bucket's journal
once. A restore to T runs in the Restore workflow: StartRestoreJob checks T against the window
(`restore_target`) and starts it (`start_restore`); for S3, ListPitrBatches (`list_batches`) merges the base
manifest's parts with the journal, a bounded number of pages per call, into batch files of what the bucket
held at T, and a Distributed Map restores each (`restore_batch`) before CompleteRestore checks the count
(`validate_restore`).
"""

from __future__ import annotations

import json
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from coffer.domain.clock import Clock
from coffer.domain.continuous import (
    DEFAULT_RETENTION_DAYS,
    RESTORE_TIME,
    USE_LATEST,
    ChangeKind,
    JournalEntry,
    Protection,
    ProtectionState,
    S3ObjectEvent,
    continuous_lifecycle,
    format_time,
    journal_sort_key,
    parse_time,
    resolve,
    restore_time,
)
from coffer.domain.errors import CofferError, IntegrityError, InvalidInput, NotFound, ObjectRefused, RestoreMismatch
from coffer.domain.input_rules.restore_metadata import restored_key_problem
from coffer.domain.jobs import Job, JobState
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry, PartRef, VaultLayout, WorkLayout, sha256_hex
from coffer.domain.multipart import MAX_SINGLE_COPY
from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.requests import StartBackupJobRequest
from coffer.domain.resources import ResourceType
from coffer.domain.steps import BatchResult, ListBatchesResult, StartResult
from coffer.domain.vaults import Seal
from coffer.ports.catalog import Catalog
from coffer.ports.continuous_records import ContinuousStore
from coffer.ports.continuous_registry import ContinuousAdapters
from coffer.ports.resources import OperationStatus
from coffer.ports.source_buckets import SourceBuckets
from coffer.ports.vault import VaultStore
from coffer.ports.work_area import WorkArea
from coffer.services.large_objects import LargeObjects, pinned_version, restore_create_args
from coffer.services.pinned_reads import pinned_manifest
from coffer.services.vaults import Vaults
from coffer.settings import Settings


class ObjectChangeResult(BaseModel):
    """What RecordObjectChange did with one S3 event."""

    recorded: bool
    duplicate: bool = False
    ignored: str | None = None
    kind: str | None = None
    key: str | None = None
    version_id: str | None = None
    recovery_point_id: str | None = None


def pitr_time(job: Job) -> datetime | None:
    """The moment a point-in-time restore job goes back to (None for a snapshot restore)."""
    text = job.restore_target.get(RESTORE_TIME)
    return parse_time(text, f"Metadata.{RESTORE_TIME}") if text else None


class ContinuousBackups:
    def __init__(self, catalog: Catalog, records: ContinuousStore, adapters: ContinuousAdapters,
                 buckets: SourceBuckets, vault: VaultStore, work: WorkArea, vaults: Vaults, large: LargeObjects,
                 settings: Settings, clock: Clock) -> None:
        self._catalog = catalog
        self.records = records
        self._adapters = adapters
        self._buckets = buckets
        self._vault = vault
        self._work = work
        self._vaults = vaults
        self._large = large
        self._settings = settings
        self._clock = clock

    # ---- the request (StartBackupJob) ---------------------------------------------------------------
    def admit(self, request: StartBackupJobRequest, resource_type: ResourceType) -> Lifecycle:
        """The job's lifecycle, or InvalidInput naming the field: a type without point-in-time recovery, a
        retention outside 1-35 days, cold storage, or a resource already protected into another vault."""
        lifecycle = continuous_lifecycle(resource_type, request.lifecycle)
        if request.copy_actions:
            raise InvalidInput(["CopyActions: copies of a continuous backup are not made yet (copy a snapshot "
                                "backup of the resource instead)"])
        existing = self.records.get_protection(request.resource_arn)
        if existing is not None and existing.vault_name != request.backup_vault_name:
            raise InvalidInput([f"BackupVaultName: {request.resource_arn} is already backed up continuously into "
                                f"vault {existing.vault_name} (one continuous backup per resource, as AWS Backup)"])
        return lifecycle

    # ---- the EnableContinuousBackup step ----------------------------------------------------------
    def enable(self, job_id: str) -> StartResult:
        """Turn continuous backup on for the job's resource and say what the workflow does next: an S3 base
        backup (objects), polling until the service has it on (native), or nothing (it was on already)."""
        now = self._clock.now()
        job = self._catalog.get_job(job_id)
        if job.state is not JobState.RUNNING:
            return StartResult(job_id=job_id, next="done")
        adapter = self._adapters.adapter(job.resource_type)
        days = job.lifecycle.delete_after_days or DEFAULT_RETENTION_DAYS
        protection = self.records.get_protection(job.resource_arn)
        if protection is not None and protection.vault_name != job.vault_name:
            raise InvalidInput([f"BackupVaultName: {job.resource_arn} is already backed up continuously into "
                                f"vault {protection.vault_name}"])
        adapter.check_protectable(job.resource_arn)
        if protection is not None and protection.state is ProtectionState.ACTIVE:
            adapter.enable(job.resource_arn, days)
            if protection.retention_days != days:
                self.records.save_protection(protection.model_copy(update={"retention_days": days}))
            reason = (f"continuous backup already on since {format_time(protection.active_since or now)} "
                      f"(recovery point {protection.recovery_point_id}); retention now {days} days")
            self._catalog.save_job(job.to(JobState.COMPLETED, now, reason), release_lease=True)
            return StartResult(job_id=job_id, next="done")
        if protection is None or protection.job_id != job.job_id:
            # First time, or taking over from an enabling job that ended: the journal (S3) restarts under this
            # job's recovery point from now - before this job's base backup, so it covers what it must.
            base = dict(resource_arn=job.resource_arn, resource_type=job.resource_type, vault_name=job.vault_name,
                        recovery_point_id=job.recovery_point_id, retention_days=days, enabled_at=now,
                        job_id=job.job_id, state=ProtectionState.ENABLING)
            protection = self.records.save_protection(
                Protection(**base) if protection is None else protection.model_copy(update=base))
        previous = adapter.enable(job.resource_arn, days)
        if not protection.previous:
            self.records.save_protection(protection.model_copy(update={"previous": previous}))
        if job.resource_type is ResourceType.S3:
            return StartResult(job_id=job_id, next="objects")
        return StartResult(job_id=job_id, next="native", wait_seconds=self._settings.poll_seconds)

    # ---- CheckBackup / CompleteBackup ---------------------------------------------------------------
    def status(self, job: Job) -> OperationStatus:
        return self._adapters.adapter(job.resource_type).status(job.resource_arn,
                                                      job.lifecycle.delete_after_days or DEFAULT_RETENTION_DAYS)

    def finish(self, job: Job, rp: RecoveryPoint, manifest: Manifest) -> tuple[RecoveryPoint, Manifest]:
        """The continuous recovery point as CompleteBackup writes it: kept while protection is on (DeleteAfterDays
        is the restorable window, not its deletion), never cold; its manifest says it is continuous."""
        days = job.lifecycle.delete_after_days or DEFAULT_RETENTION_DAYS
        protection = self._protection_of(job)
        rp = rp.model_copy(update={"cold_at": None, "delete_at": None})
        continuous = {"retention_days": days, "enabled_at": format_time(protection.enabled_at),
                      "restorable_from": format_time(rp.completion_date or self._clock.now())}
        if job.resource_type is ResourceType.S3:
            continuous["journal"] = f"catalog: pk=JOURNAL#{rp.recovery_point_id}"
        return rp, manifest.model_copy(update={"recovery_point": rp,
                                               "source": {**manifest.source, "continuous": continuous}})

    def activate(self, job: Job, at: datetime) -> None:
        """From `at` on the recovery point is restorable (before the job is COMPLETED: a retried CompleteBackup
        finds it active and changes nothing)."""
        protection = self._protection_of(job)
        if protection.state is not ProtectionState.ACTIVE:
            self.records.save_protection(protection.model_copy(update={"state": ProtectionState.ACTIVE,
                                                                       "active_since": at}))

    def _protection_of(self, job: Job) -> Protection:
        protection = self.records.get_protection(job.resource_arn)
        if protection is None or protection.recovery_point_id != job.recovery_point_id:
            raise NotFound(f"job {job.job_id} no longer holds the continuous protection of {job.resource_arn}")
        return protection

    # ---- S3 changes (RecordObjectChange) ------------------------------------------------------------
    def record_change(self, event: S3ObjectEvent) -> ObjectChangeResult:
        """Keep one S3 change: a new version's bytes into the vault, then one journal entry (written once)."""
        protection = self.records.get_protection(event.resource_arn)
        if protection is None:
            return ObjectChangeResult(recorded=False, ignored=f"{event.resource_arn} is not backed up continuously")
        obj, rp_id = event.detail.object, protection.recovery_point_id
        result = ObjectChangeResult(recorded=True, kind=event.kind.value, key=obj.key, version_id=event.version_id,
                                    recovery_point_id=rp_id)
        if self.records.has_entry(rp_id, journal_sort_key(obj.key, obj.sequencer)):
            return result.model_copy(update={"recorded": False, "duplicate": True})
        if event.kind is ChangeKind.CREATED:
            entry = self._keep_version(protection, event)
        else:
            entry = JournalEntry(key=obj.key, sequencer=obj.sequencer, time=event.time, kind=event.kind,
                                 version_id=event.version_id, event_id=event.id)
        if not self.records.append(rp_id, entry):
            return result.model_copy(update={"recorded": False, "duplicate": True})
        return result.model_copy(update={"kind": entry.kind.value})

    def _keep_version(self, protection: Protection, event: S3ObjectEvent) -> JournalEntry:
        obj, s3 = event.detail.object, self._buckets
        bucket = event.detail.bucket.name
        common = dict(key=obj.key, sequencer=obj.sequencer, time=event.time, version_id=event.version_id,
                      event_id=event.id)
        facts = s3.describe_version(bucket, obj.key, event.version_id)
        if facts is None:
            return JournalEntry(kind=ChangeKind.LOST, reason="the version was deleted before Coffer copied it",
                                **common)
        if facts["size"] > MAX_SINGLE_COPY:
            return JournalEntry(kind=ChangeKind.LOST, reason="objects over 5 GiB are not backed up yet", **common)
        seal = self._seal(protection, event.time)
        staging = None
        try:
            if not facts.get("sha256"):
                staging = f"continuous/{protection.recovery_point_id}/{event.id}"
                facts["sha256"] = s3.copy_with_checksum(bucket, obj.key, event.version_id, facts["size"],
                                                        self._work.bucket, staging)
            blob = VaultLayout.blob(protection.vault_name, facts["sha256"])
            found = self._vault.lock_of(blob)
            facts["blob_version_id"] = found.version_id
            if not found.holds(blob):  # absent, or someone wrote other bytes over it: store the content, pinned
                if staging is not None:
                    stored = self._vault.copy_in(self._work.bucket, staging, blob, seal.retain_until, seal=seal)
                else:
                    stored = self._vault.copy_in(bucket, obj.key, blob, seal.retain_until, event.version_id, seal)
                if stored != facts["sha256"]:
                    raise IntegrityError(f"{obj.key}: vault copy has SHA-256 {stored}, expected {facts['sha256']}")
                facts["blob_version_id"] = stored.version_id
            elif (found[1] is None or found[1] < seal.retain_until
                  or (seal.mode is LockMode.COMPLIANCE and found.mode is not LockMode.COMPLIANCE)):
                # shared content: extend its lock, never shorten it (a re-seal makes a new version: pin that one)
                facts["blob_version_id"] = pinned_version(blob, self._vault.secure(blob, seal))
        finally:
            if staging is not None:
                self._work.delete(staging)
        facts["last_modified"] = facts.get("last_modified") or format_time(event.time)
        entry = ObjectEntry.model_validate({k: v for k, v in facts.items() if k in ObjectEntry.model_fields})
        return JournalEntry(kind=ChangeKind.CREATED, object=entry, **common)

    def _seal(self, protection: Protection, at: datetime) -> Seal:
        """A version is kept at least `retention` days from its change (and the vault lock's minimum)."""
        vault = self._vaults.get(protection.vault_name)
        retain = at + timedelta(days=protection.retention_days)
        if vault.lock is not None and vault.lock.min_retention_days is not None:
            retain = max(retain, at + timedelta(days=vault.lock.min_retention_days))
        return Seal(vault=vault.name, mode=vault.object_lock_mode(self._vaults.stack_mode), retain_until=retain,
                    kms_key_arn=vault.key_arn)

    # ---- restore: the request (StartRestoreJob) ----------------------------------------------------
    def restore_target(self, rp: RecoveryPoint, metadata: dict[str, str]) -> dict[str, str]:
        """The restore's Metadata with RestoreTime resolved (UseLatestRestorableTime -> now), checked against
        the window; a RestoreTime for a snapshot recovery point is refused by name. UseLatestRestorableTime=true
        stays in the target: RDS's latest restorable moment trails the clock by minutes, so an RDS-family
        adapter asks for the latest (as AWS Backup does) rather than for now, which RDS would refuse."""
        protection = self.records.get_protection(rp.resource_arn)
        continuous = protection is not None and protection.recovery_point_id == rp.recovery_point_id
        if not continuous:
            for key in (RESTORE_TIME, USE_LATEST):
                if key in metadata:
                    raise InvalidInput([f"Metadata.{key}: recovery point {rp.recovery_point_id} is a snapshot, not "
                                        "a continuous backup: it restores as it was taken"])
            return metadata
        at = restore_time(metadata, protection, rp.recovery_point_id, self._clock.now())
        target = {k: v for k, v in metadata.items() if k != USE_LATEST}
        if metadata.get(USE_LATEST, "").lower() == "true":
            target[USE_LATEST] = "true"
        target[RESTORE_TIME] = format_time(at)
        return target

    def start_restore(self, job: Job, manifest: Manifest) -> str | None:
        adapter = self._adapters.adapter(job.resource_type)
        adapter.check_restore_target(job.restore_target)
        return adapter.start_restore_to_time(job, manifest, pitr_time(job) or self._clock.now())

    def objects_step(self, job: Job) -> StartResult:
        return StartResult(job_id=job.job_id, next="pitr", items_prefix=WorkLayout.batches_prefix(job.job_id))

    # ---- restore: what the bucket held at T (ListPitrBatches) ---------------------------------------
    def list_batches(self, job_id: str, token: str | None, next_seq: int) -> ListBatchesResult:
        """Merge the base manifest (in key order) with the journal (in key order) for the next few pages, and
        write what the bucket held at T as batch files. Bounded: at most batch_size * pages_per_listing
        entries read per call (plus the rest of the last key's changes); the workflow loops until done."""
        job = self._catalog.get_job(job_id)
        at = pitr_time(job)
        if at is None:
            raise InvalidInput([f"job_id: restore job {job_id} is not a point-in-time restore"])
        cursor: dict[str, Any] = json.loads(token) if token else {"part": 0, "index": 0, "journal": None}
        base = _BaseStream(self._vault, self._manifest(job), int(cursor["part"]), int(cursor["index"]))
        journal = _JournalStream(self.records, job.recovery_point_id, cursor["journal"], self._settings.batch_size)
        budget = self._settings.batch_size * self._settings.pages_per_listing
        batch = _Batch()
        seq = next_seq
        while budget > 0:
            base_key, journal_key = base.peek_key(), journal.peek_key()
            if base_key is None and journal_key is None:
                break
            key = min(k for k in (base_key, journal_key) if k is not None)
            entry = base.pop() if base_key == key else None
            changes = journal.pop_key(key) if journal_key == key else []
            budget -= 1 + len(changes)
            outcome = resolve(entry, changes, at)
            if outcome.entry is not None:
                batch.entries.append(outcome.entry.model_dump(mode="json"))
                batch.bytes += outcome.entry.size
            elif outcome.failed is not None:
                batch.failed.append({"key": key, "reason": outcome.failed})
            if batch.full(self._settings.batch_size, self._settings.batch_bytes):
                seq = batch.flush(self._work, job_id, seq)
        done = base.peek_key() is None and journal.peek_key() is None
        seq = batch.flush(self._work, job_id, seq)
        if done:
            self._catalog.save_job(job.with_changes(progress=job.progress.model_copy(update={"batches_total": seq})))
        next_token = None if done else json.dumps({"part": base.part, "index": base.index,
                                                   "journal": journal.consumed})
        return ListBatchesResult(job_id=job_id, token=next_token, next_seq=seq, more=not done,
                                 items_prefix=WorkLayout.batches_prefix(job_id))

    def _manifest(self, job: Job) -> Manifest:
        return pinned_manifest(self._vault, self._catalog.get_recovery_point(job.recovery_point_id))

    # ---- restore: one batch (RestoreBatch) and the check (CompleteRestore) -------------------------
    def restore_batch(self, job: Job, batch_key: str) -> BatchResult:
        batch = self._work.read_json(batch_key)
        seq = int(batch_key.rsplit("/", 1)[-1].split(".", 1)[0])
        bucket = job.restore_target["DestinationBucketName"]
        prefix = job.restore_target.get("DestinationPrefix", "")
        failed: list[dict[str, str]] = list(batch["failed"])
        deferred: list[dict[str, Any]] = []  # restored by the part-range fan-out (services/large_objects.py)
        restored = 0
        large = self._large
        for n, raw in enumerate(batch["entries"]):
            entry = ObjectEntry.model_validate(raw)
            too_long = restored_key_problem(prefix, entry.key)
            if too_long:  # (as RestoreBatch: that key fails, named)
                failed.append({"key": entry.key, "reason": too_long})
                continue
            try:
                blob = VaultLayout.blob_of(job.vault_name, entry)
                if large.fans_out(entry):
                    deferred.append(large.defer_blob(job, seq, n, entry, blob, bucket, prefix + entry.key,
                                                     restore_create_args(entry)))
                    continue
                if entry.composite:  # a base backup's object copied in parts (services/large_objects.py)
                    large.restore_object(blob, bucket, prefix + entry.key, entry)
                else:
                    self._buckets.restore_object(self._vault.bucket, blob, bucket, prefix + entry.key, entry,
                                                 entry.blob_version_id)  # the version the journal pinned
                restored += 1
            except ObjectRefused as refused:  # no retry cures it (others: the workflow retries the whole batch)
                failed.append({"key": entry.key, "reason": refused.code})
            except CofferError as error:
                failed.append({"key": entry.key, "reason": f"{type(error).__name__}: {error}"})
        self._catalog.put_part(job.job_id, seq, {"seq": seq, "restored": restored, "failed": failed,
                                             "planned": len(batch["entries"]) + len(batch["failed"]),
                                             **({"deferred": deferred} if deferred else {})})
        return BatchResult(job_id=job.job_id, seq=seq, objects=restored, failed=len(failed))

    def validate_restore(self, job: Job) -> dict[str, Any]:
        """Every batch ran and restored every object it planned (each checked against its SHA-256 by S3)."""
        records = {r["seq"]: r for r in self._catalog.list_parts(job.job_id)}
        missing = [seq for seq in range(job.progress.batches_total or 0) if seq not in records]
        failed = [f"{f['key']} ({f['reason']})" for r in records.values() for f in r["failed"]]
        restored = sum(r["restored"] for r in records.values())
        planned = sum(r["planned"] for r in records.values())
        if missing or failed or restored != planned:
            raise RestoreMismatch(f"point-in-time restore to {job.restore_target[RESTORE_TIME]}: restored {restored} "
                                  f"of {planned} objects; batches not run: {missing}; failed: {failed[:20]}")
        return {"objects": restored, "restore_time": job.restore_target[RESTORE_TIME],
                "checksums_verified": restored}


class _Batch:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.failed: list[dict[str, str]] = []
        self.bytes = 0

    def full(self, size: int, max_bytes: int) -> bool:
        return len(self.entries) + len(self.failed) >= size or self.bytes >= max_bytes

    def flush(self, work: WorkArea, job_id: str, seq: int) -> int:
        if not self.entries and not self.failed:
            return seq
        work.write_json(WorkLayout.batch(job_id, seq), {"entries": self.entries, "failed": self.failed})
        self.entries, self.failed, self.bytes = [], [], 0
        return seq + 1


class _BaseStream:
    """The base backup's entries in key order, one manifest part (checked against its SHA-256) at a time."""

    def __init__(self, vault: VaultStore, manifest: Manifest, part: int, index: int) -> None:
        self._vault = vault
        self._refs: list[PartRef] = sorted(manifest.parts, key=lambda ref: ref.seq)
        self._rp = manifest.recovery_point.recovery_point_id
        self.part, self.index = part, index
        self._entries: tuple[ObjectEntry, ...] | None = None

    def _current(self) -> ObjectEntry | None:
        while self.part < len(self._refs):
            if self._entries is None:
                ref = self._refs[self.part]
                raw = self._vault.get_bytes(ref.key)
                if sha256_hex(raw) != ref.sha256:
                    raise IntegrityError(f"{ref.key} does not match the checksum its manifest records")
                part = ManifestPart.model_validate_json(raw)
                if part.recovery_point_id != self._rp:
                    raise IntegrityError(f"{ref.key} belongs to recovery point {part.recovery_point_id}")
                self._entries = part.entries
            if self.index < len(self._entries):
                return self._entries[self.index]
            self.part, self.index, self._entries = self.part + 1, 0, None
        return None

    def peek_key(self) -> str | None:
        current = self._current()
        return None if current is None else current.key

    def pop(self) -> ObjectEntry | None:
        current = self._current()
        self.index += 1
        return current


class _JournalStream:
    """The journal in sort key order (S3's key order, each key's changes in sequencer order), page by page."""

    def __init__(self, catalog: ContinuousStore, recovery_point_id: str, after: str | None, page: int) -> None:
        self._catalog, self._rp, self._page = catalog, recovery_point_id, page
        self._buffer: deque[tuple[str, JournalEntry]] = deque()
        self._fetched_to, self._exhausted = after, False
        #: the last sort key consumed: where the next call starts
        self.consumed = after

    def peek_key(self) -> str | None:
        if not self._buffer and not self._exhausted:
            entries, last = self._catalog.journal_page(self._rp, self._fetched_to, self._page)
            self._buffer.extend(entries)
            self._fetched_to = last
            self._exhausted = last is None
        return self._buffer[0][1].key if self._buffer else None

    def pop_key(self, key: str) -> list[JournalEntry]:
        changes = []
        while self.peek_key() == key:
            sort_key, entry = self._buffer.popleft()
            self.consumed = sort_key
            changes.append(entry)
        return changes
