"""S3 backups in bounded batches, each run by one Distributed Map child (restores: object_restores.py).

No invocation's work grows with the bucket: a listing step handles at most `pages_per_listing` pages of
`batch_size` keys, a copy step one batch.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from coffer.domain.batches import split_by_bytes
from coffer.domain.clock import Clock
from coffer.domain.cold_tier import (
    ARCHIVE_CLASSES,
    format_day,
    may_go_cold,
    parse_day,
    raised_warm_until,
    warm_tags,
    warm_until_needed,
)
from coffer.domain.errors import CofferError, IntegrityError, ObjectRefused
from coffer.domain.jobs import Job
from coffer.domain.manifest import ManifestPart, ObjectEntry, PartRef, VaultLayout, WorkLayout
from coffer.domain.object_lock import LockMode
from coffer.domain.resources import resource_name
from coffer.domain.steps import BatchResult, ListBatchesResult
from coffer.domain.vaults import Seal
from coffer.ports.catalog import Catalog
from coffer.ports.source_buckets import SourceBuckets
from coffer.ports.vault import VaultStore
from coffer.ports.work_area import WorkArea
from coffer.services.inventory_batches import InventoryBatches
from coffer.services.large_objects import Deferred, LargeObjects, pinned_version
from coffer.services.object_tiering import keep_warm
from coffer.services.vaults import Vaults
from coffer.settings import Settings


def _seq_of(key: str) -> int:
    return int(key.rsplit("/", 1)[-1].split(".", 1)[0])


class ObjectBatches:
    """Per-object refusals that no retry cures (ObjectRefused: access denied, a KMS key, an archived source object)
    name the object failed and the batch goes on; anything else fails the batch, which the workflow retries."""

    def __init__(self, catalog: Catalog, vault: VaultStore, work: WorkArea, buckets: SourceBuckets,
                 inventory: InventoryBatches, large: LargeObjects, vaults: Vaults,
                 settings: Settings, clock: Clock) -> None:
        self._catalog = catalog
        self._vault = vault
        self._work = work
        self._buckets = buckets
        self._inventory = inventory
        self.large = large  # also the Backup workflow's part-range fan-out (CopyBatch)
        self._vaults = vaults
        self._settings = settings
        self._clock = clock

    # ---- listing --------------------------------------------------------------------------------
    def list_batches(self, job_id: str, token: str | None, next_seq: int) -> ListBatchesResult:
        """Write the next few pages of the source listing as batch files; the workflow loops until done.

        A batch holds at most `batch_size` objects and `batch_bytes` bytes, so one child's copy work is
        bounded whatever the objects' sizes.
        """
        job = self._catalog.get_job(job_id)
        bucket = resource_name(job.resource_arn)
        # The bucket's S3 Inventory instead of listing it, when it has a recent enough one (inventory_batches.py).
        job, from_inventory = self._inventory.maybe_list(job, token, next_seq)
        if from_inventory is not None:
            return from_inventory
        seq = next_seq
        for _ in range(self._settings.pages_per_listing):
            items, token = self._buckets.list_page(bucket, token, self._settings.batch_size)
            for batch in split_by_bytes(items, self._settings.batch_bytes):
                self._work.write_json(WorkLayout.batch(job_id, seq), {"bucket": bucket, "items": batch})
                seq += 1
            if token is None:
                break
        if token is None:
            self._catalog.save_job(job.with_changes(progress=job.progress.model_copy(update={"batches_total": seq})))
        return ListBatchesResult(job_id=job_id, token=token, next_seq=seq, more=token is not None,
                                 items_prefix=WorkLayout.batches_prefix(job_id))

    # ---- backup one batch -----------------------------------------------------------------------
    def copy_batch(self, job_id: str, batch_key: str) -> BatchResult:
        """Copy one batch into the vault, content-addressed by SHA-256, and write its manifest part.

        Unchanged objects (same ETag, size and modification time as last backed up) are not copied again;
        their blob's lock is extended to this recovery point's retention. New content is copied to the
        work bucket first so that S3 computes its SHA-256, then into the vault unless that blob exists.
        """
        job = self._catalog.get_job(job_id)
        seq = _seq_of(batch_key)
        batch = self._work.read_json(batch_key)
        bucket: str = batch["bucket"]
        seal = self._vaults.seal_for(job)  # the vault's lock mode, its MinRetentionDays, its KMS key
        known = self._catalog.get_objects(job.vault_name, bucket, [i["key"] for i in batch["items"]])
        entries: list[ObjectEntry] = []
        index: dict[str, dict[str, Any]] = {}
        failed: list[dict[str, str]] = []
        deferred: list[dict[str, Any]] = []  # copied by the part-range fan-out (services/large_objects.py)
        copied = reused = bytes_copied = 0
        for n, item in enumerate(batch["items"]):
            try:
                entry, was_copied, record = self._back_up_object(job, bucket, item, known.get(item["key"]),
                                                                 seq, n, seal)
            except Deferred as later:
                deferred.append(later.record)
                continue
            except ObjectRefused as refused:  # an archived source object too
                failed.append({"key": item["key"], "reason": refused.code})
                continue
            except CofferError as error:
                failed.append({"key": item["key"], "reason": f"{type(error).__name__}: {error}"})
                continue
            if entry is None:
                continue  # deleted since it was listed: not part of this recovery point
            entries.append(entry)
            index[entry.key] = record
            if was_copied:
                copied += 1
                bytes_copied += entry.size
            else:
                reused += 1
        part = ManifestPart(recovery_point_id=job.recovery_point_id, seq=seq, entries=tuple(entries))
        part_key = VaultLayout.part(job.vault_name, job.recovery_point_id, seq)
        sha = self._vault.put_json_locked(part_key, part.model_dump(mode="json"), seal.retain_until, seal)
        ref = PartRef(seq=seq, key=part_key, sha256=sha, version_id=sha.version_id, objects=len(entries),
                      bytes=sum(e.size for e in entries),
                      first_key=entries[0].key if entries else None, last_key=entries[-1].key if entries else None)
        # the object index is written only where a record changed (new content, a lock extended, a warm-until
        # raised): with locks ahead, most unchanged objects write nothing
        self._catalog.put_objects(job.vault_name, bucket, {key: record for key, record in index.items()
                                                           if record != known.get(key)})
        self._catalog.put_part(job_id, seq, {"seq": seq, "part": ref.model_dump(mode="json"), "copied": copied,
                                         "reused": reused, "bytes_copied": bytes_copied, "failed": failed,
                                         **({"deferred": deferred} if deferred else {})})
        return BatchResult(job_id=job_id, seq=seq, objects=len(entries), copied=copied, reused=reused,
                           failed=len(failed))

    def _back_up_object(self, job: Job, bucket: str, item: dict[str, Any], known: dict[str, Any] | None,
                        seq: int, n: int, seal: Seal) -> tuple[ObjectEntry | None, bool, dict[str, Any]]:
        """One object into the vault (or found there); returns its manifest entry, whether bytes moved, and
        its object-index record. (None, ...) when the object vanished since it was listed."""
        unchanged = known is not None and all(known.get(k) == item[k] for k in ("etag", "size", "last_modified"))
        warm_needed = warm_until_needed(job.lifecycle.cold_at(job.created_at))
        known_warm = parse_day(known.get("warm_until")) if known else None
        if unchanged and known_warm is not None and may_go_cold(known_warm, self._clock.now()):
            unchanged = False  # its blob may be archived by now: look at it (and store the content warm again)
        warm = known_warm
        locked_until: datetime | None
        if known is not None and unchanged:
            tags = self._buckets.tags(bucket, item["key"])  # tags change without a new version: read them every time
            if tags is None:
                return None, False, {}
            facts: dict[str, Any] = {**known, "tags": tags}
            blob = VaultLayout.blob_of(job.vault_name, ObjectEntry.model_validate(facts))
            locked_until, copied = datetime.fromisoformat(known["retain_until"]), False
            mode = known.get("lock_mode")
            if not facts.get("blob_version_id"):  # indexed before versions were pinned: one HeadObject, once
                found = self._vault.lock_of(blob)
                if not found.holds(blob):
                    unchanged = False
                    facts["blob_version_id"] = None
                else:
                    facts["blob_version_id"], locked_until, mode = found.version_id, found[1], found.mode
        if not unchanged:
            described = self._buckets.describe_object(bucket, item["key"])
            if described is None:
                return None, False, {}
            facts = {**described, "key": item["key"], "last_modified": item["last_modified"]}
            fresh = raised_warm_until(None, warm_needed)
            assert fresh is not None
            blob, locked_until, mode, copied, facts["blob_version_id"] = self._store_content(
                job, bucket, facts, seq, n, seal, fresh)
            warm = fresh if copied else None  # a blob found in the vault: its warm-until is read below
        if warm is None or raised_warm_until(warm, warm_needed) is not None:
            warm = keep_warm(self._vault, blob, warm_needed)
        recompliance = seal.mode is LockMode.COMPLIANCE and mode != LockMode.COMPLIANCE
        if locked_until is None or locked_until < seal.retain_until or recompliance:
            ahead = seal.ahead(self._settings.lock_slack_days)  # so the next days' backups need not extend it
            lock = self._vault.secure(blob, ahead)  # extends, or re-seals a GOVERNANCE blob as COMPLIANCE
            locked_until, mode = lock[1] or ahead.retain_until, lock.mode
            facts["blob_version_id"] = pinned_version(blob, lock)
        entry = ObjectEntry.model_validate({k: v for k, v in facts.items() if k in ObjectEntry.model_fields})
        record = {**entry.model_dump(mode="json", exclude={"tags"}), "retain_until": locked_until.isoformat(),
                  "lock_mode": mode, "warm_until": format_day(warm)}
        return entry, copied, record

    def _store_content(self, job: Job, bucket: str, facts: dict[str, Any], seq: int, n: int,
                       seal: Seal, warm_until: date) -> tuple[str, datetime | None, str | None, bool, str | None]:
        """Make sure the vault holds this content: (blob key, its lock date and mode, whether bytes were copied, the
        VersionId relied on - the one written, or the existing one HeadObject named, whose checksum is the address).

        Without a SHA-256 from S3, the object is first copied to the work bucket so S3 computes one. A blob found
        in the archive tier is stored again as a new, warm version of the same key (the archived version keeps
        its lock and goes when that passes): a new recovery point is never restored from the archive. An object
        over the multipart threshold is copied in parts, addressed by its composite SHA-256 (services/large_objects).
        """
        if self.large.is_large(facts["size"]):
            return self.large.store(job, bucket, facts, seq, n, seal, warm_tags(warm_until))
        staging = None
        if not facts.get("sha256"):
            staging = WorkLayout.staging(job.job_id, seq, n)
            facts["sha256"] = self._buckets.copy_with_checksum(bucket, facts["key"], facts.get("version_id"),
                                                               facts["size"],
                                                      self._work.bucket, staging)
        blob = VaultLayout.blob(job.vault_name, facts["sha256"])
        try:
            found = self._vault.lock_of(blob)
            if found.holds(blob) and (found.storage_class or "STANDARD") not in ARCHIVE_CLASSES:
                return blob, found[1], found.mode, False, found.version_id
            tags = warm_tags(warm_until)
            ahead = seal.ahead(self._settings.lock_slack_days)  # a new blob too: tomorrow's backup need not extend it
            if staging is not None:
                stored = self._vault.copy_in(self._work.bucket, staging, blob, ahead.retain_until, seal=ahead,
                                             tags=tags)
            else:
                stored = self._vault.copy_in(bucket, facts["key"], blob, ahead.retain_until, facts.get("version_id"),
                                             ahead, tags)
            if stored != facts["sha256"]:
                raise IntegrityError(f"{facts['key']}: vault copy has SHA-256 {stored}, expected {facts['sha256']}")
            return blob, ahead.retain_until, ahead.mode, True, stored.version_id
        finally:
            if staging is not None:
                self._work.delete(staging)
