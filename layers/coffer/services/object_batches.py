"""S3 backups and restores in bounded batches, each run by one Distributed Map child.

No invocation's work grows with the bucket: a listing step handles at most `pages_per_listing` pages of
`batch_size` keys, a copy step one batch, a restore step one manifest part.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code
from coffer.domain.cold_tier import (
    ARCHIVE_CLASSES,
    format_day,
    may_go_cold,
    parse_day,
    raised_warm_until,
    warm_tags,
    warm_until_needed,
)
from coffer.domain.errors import CofferError, IntegrityError
from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry, PartRef, VaultLayout, WorkLayout, sha256_hex
from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import StorageClass
from coffer.domain.resources import resource_name
from coffer.domain.steps import BatchResult, ListBatchesResult
from coffer.domain.vaults import Seal
from coffer.services.continuous import ContinuousBackups, pitr_time
from coffer.services.inventory_batches import InventoryBatches
from coffer.services.large_objects import Deferred, LargeObjects, restore_create_args
from coffer.services.object_tiering import keep_warm
from coffer.services.vaults import Vaults
from coffer.services.wiring import Deps

#: what S3 answers a read of an archived version not restored yet (moto names it ObjectNotInActiveTierError)
_ARCHIVED = {"InvalidObjectState", "ObjectNotInActiveTierError"}
#: per-object refusals that no retry will cure: the object is reported failed, the batch goes on
#: ("403": S3 answers a HEAD without a body, so botocore knows only the status code; an archived source object)
_OBJECT_REFUSALS = {"AccessDenied", "403", "KMS.DisabledException", "KMS.AccessDeniedException", *_ARCHIVED}


def split_by_bytes(items: list[dict[str, Any]], limit: int) -> list[list[dict[str, Any]]]:
    """Consecutive runs of items whose sizes add up to at most `limit` (an oversized item stands alone)."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    total = 0
    for item in items:
        if current and total + item["size"] > limit:
            batches.append(current)
            current, total = [], 0
        current.append(item)
        total += item["size"]
    if current:
        batches.append(current)
    return batches


def _seq_of(key: str) -> int:
    return int(key.rsplit("/", 1)[-1].split(".", 1)[0])


class ObjectBatches:
    def __init__(self, deps: Deps) -> None:
        self._d = deps
        self._vaults = Vaults.from_deps(deps)
        self.large = LargeObjects(deps)  # also the Restore workflow's part-range fan-out (RestoreBatch)

    # ---- listing --------------------------------------------------------------------------------
    def list_batches(self, job_id: str, token: str | None, next_seq: int) -> ListBatchesResult:
        """Write the next few pages of the source listing as batch files; the workflow loops until done.

        A batch holds at most `batch_size` objects and `batch_bytes` bytes, so one child's copy work is
        bounded whatever the objects' sizes.
        """
        d = self._d
        job = d.catalog.get_job(job_id)
        bucket = resource_name(job.resource_arn)
        # The bucket's S3 Inventory instead of listing it, when it has a recent enough one (inventory_batches.py).
        job, from_inventory = InventoryBatches(d).maybe_list(job, token, next_seq)
        if from_inventory is not None:
            return from_inventory
        seq = next_seq
        for _ in range(d.settings.pages_per_listing):
            items, token = d.s3.list_page(bucket, token, d.settings.batch_size)
            for batch in split_by_bytes(items, d.settings.batch_bytes):
                d.work.write_json(WorkLayout.batch(job_id, seq), {"bucket": bucket, "items": batch})
                seq += 1
            if token is None:
                break
        if token is None:
            d.catalog.save_job(job.with_changes(progress=job.progress.model_copy(update={"batches_total": seq})))
        return ListBatchesResult(job_id=job_id, token=token, next_seq=seq, more=token is not None,
                                 items_prefix=WorkLayout.batches_prefix(job_id))

    # ---- backup one batch -----------------------------------------------------------------------
    def copy_batch(self, job_id: str, batch_key: str) -> BatchResult:
        """Copy one batch into the vault, content-addressed by SHA-256, and write its manifest part.

        Unchanged objects (same ETag, size and modification time as last backed up) are not copied again;
        their blob's lock is extended to this recovery point's retention. New content is copied to the
        work bucket first so that S3 computes its SHA-256, then into the vault unless that blob exists.
        """
        d = self._d
        job = d.catalog.get_job(job_id)
        seq = _seq_of(batch_key)
        batch = d.work.read_json(batch_key)
        bucket: str = batch["bucket"]
        seal = self._vaults.seal_for(job)  # the vault's lock mode, its MinRetentionDays, its KMS key
        known = d.catalog.get_objects(job.vault_name, bucket, [i["key"] for i in batch["items"]])
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
            except CofferError as error:
                failed.append({"key": item["key"], "reason": f"{type(error).__name__}: {error}"})
                continue
            except ClientError as error:
                if error_code(error) not in _OBJECT_REFUSALS:
                    raise  # transient or unknown: the whole batch is retried by the workflow
                failed.append({"key": item["key"], "reason": error_code(error)})
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
        sha = d.vault.put_json_locked(part_key, part.model_dump(mode="json"), seal.retain_until, seal)
        ref = PartRef(seq=seq, key=part_key, sha256=sha, objects=len(entries), bytes=sum(e.size for e in entries),
                      first_key=entries[0].key if entries else None, last_key=entries[-1].key if entries else None)
        d.catalog.put_objects(job.vault_name, bucket, index)
        d.catalog.put_part(job_id, seq, {"seq": seq, "part": ref.model_dump(mode="json"), "copied": copied,
                                         "reused": reused, "bytes_copied": bytes_copied, "failed": failed,
                                         **({"deferred": deferred} if deferred else {})})
        return BatchResult(job_id=job_id, seq=seq, objects=len(entries), copied=copied, reused=reused,
                           failed=len(failed))

    def _back_up_object(self, job: Job, bucket: str, item: dict[str, Any], known: dict[str, Any] | None,
                        seq: int, n: int, seal: Seal) -> tuple[ObjectEntry | None, bool, dict[str, Any]]:
        """One object into the vault (or found there); returns its manifest entry, whether bytes moved, and
        its object-index record. (None, ...) when the object vanished since it was listed."""
        d = self._d
        unchanged = known is not None and all(known.get(k) == item[k] for k in ("etag", "size", "last_modified"))
        warm_needed = warm_until_needed(job.lifecycle.cold_at(job.created_at))
        known_warm = parse_day(known.get("warm_until")) if known else None
        if unchanged and known_warm is not None and may_go_cold(known_warm, d.clock.now()):
            unchanged = False  # its blob may be archived by now: look at it (and store the content warm again)
        warm = known_warm
        if known is not None and unchanged:
            tags = d.s3.tags(bucket, item["key"])  # tags change without a new version: read them every time
            if tags is None:
                return None, False, {}
            facts: dict[str, Any] = {**known, "tags": tags}
            blob = VaultLayout.blob_of(job.vault_name, ObjectEntry.model_validate(facts))
            locked_until, copied = datetime.fromisoformat(known["retain_until"]), False
            mode = known.get("lock_mode")
        else:
            described = d.s3.describe_object(bucket, item["key"])
            if described is None:
                return None, False, {}
            facts = {**described, "key": item["key"], "last_modified": item["last_modified"]}
            fresh = raised_warm_until(None, warm_needed)
            assert fresh is not None
            blob, locked_until, mode, copied = self._store_content(job, bucket, facts, seq, n, seal, fresh)
            warm = fresh if copied else None  # a blob found in the vault: its warm-until is read below
        if warm is None or raised_warm_until(warm, warm_needed) is not None:
            warm = keep_warm(d.vault, blob, warm_needed)
        recompliance = seal.mode is LockMode.COMPLIANCE and mode != LockMode.COMPLIANCE
        if locked_until is None or locked_until < seal.retain_until or recompliance:
            lock = d.vault.secure(blob, seal)  # extends, or re-seals a GOVERNANCE blob as COMPLIANCE
            locked_until, mode = lock[1] or seal.retain_until, lock.mode
        entry = ObjectEntry.model_validate({k: v for k, v in facts.items() if k in ObjectEntry.model_fields})
        record = {**entry.model_dump(mode="json", exclude={"tags"}), "retain_until": locked_until.isoformat(),
                  "lock_mode": mode, "warm_until": format_day(warm)}
        return entry, copied, record

    def _store_content(self, job: Job, bucket: str, facts: dict[str, Any], seq: int, n: int,
                       seal: Seal, warm_until: date) -> tuple[str, datetime | None, str | None, bool]:
        """Make sure the vault holds this content: (blob key, its lock date and mode, whether bytes were copied).

        Without a SHA-256 from S3, the object is first copied to the work bucket so S3 computes one. A blob found
        in the archive tier is stored again as a new, warm version of the same key (the archived version keeps
        its lock and goes when that passes): a new recovery point is never restored from the archive. An object
        over the multipart threshold is copied in parts, addressed by its composite SHA-256 (services/large_objects).
        """
        d = self._d
        if self.large.is_large(facts["size"]):
            return self.large.store(job, bucket, facts, seq, n, seal, warm_tags(warm_until))
        staging = None
        if not facts.get("sha256"):
            staging = WorkLayout.staging(job.job_id, seq, n)
            facts["sha256"] = d.s3.copy_with_checksum(bucket, facts["key"], facts.get("version_id"), facts["size"],
                                                      d.work.bucket, staging)
        blob = VaultLayout.blob(job.vault_name, facts["sha256"])
        try:
            found = d.vault.lock_of(blob)
            if found[0] and (found.storage_class or "STANDARD") not in ARCHIVE_CLASSES:
                return blob, found[1], found.mode, False
            tags = warm_tags(warm_until)
            if staging is not None:
                stored = d.vault.copy_in(d.work.bucket, staging, blob, seal.retain_until, seal=seal, tags=tags)
            else:
                stored = d.vault.copy_in(bucket, facts["key"], blob, seal.retain_until, facts.get("version_id"), seal,
                                         tags)
            if stored != facts["sha256"]:
                raise IntegrityError(f"{facts['key']}: vault copy has SHA-256 {stored}, expected {facts['sha256']}")
            return blob, seal.retain_until, seal.mode, True
        finally:
            if staging is not None:
                d.work.delete(staging)

    # ---- restore one manifest part --------------------------------------------------------------
    def restore_part(self, job_id: str, part_key: str) -> BatchResult:
        """Copy one manifest part's objects back, each checked against its SHA-256 by S3 itself.

        The workflow lists the recovery point's parts in the vault; only those the manifest lists, with the
        checksum it records, are restored. (A batch that failed after writing its part left the part there,
        locked, but not in the manifest: its keys are the recovery point's failed keys.)
        """
        d = self._d
        job = d.catalog.get_job(job_id)
        if pitr_time(job):  # a point-in-time restore: batch files of the bucket as it was (ListPitrBatches)
            return ContinuousBackups(d).restore_batch(job, part_key)
        rp = d.catalog.get_recovery_point(job.recovery_point_id)
        manifest_raw = d.vault.get_bytes(rp.manifest_key or "")
        if rp.manifest_sha256 and sha256_hex(manifest_raw) != rp.manifest_sha256:
            raise IntegrityError(f"manifest of recovery point {rp.recovery_point_id} does not match its checksum")
        listed = {ref.key: ref for ref in Manifest.model_validate_json(manifest_raw).parts}
        if part_key not in listed:
            return BatchResult(job_id=job_id, seq=_seq_of(part_key), objects=0)
        raw = d.vault.get_bytes(part_key)
        if sha256_hex(raw) != listed[part_key].sha256:
            raise IntegrityError(f"{part_key} does not match the checksum its manifest records")
        part = ManifestPart.model_validate_json(raw)
        if part.recovery_point_id != job.recovery_point_id:
            raise IntegrityError(f"{part_key} belongs to recovery point {part.recovery_point_id}")
        bucket = job.restore_target["DestinationBucketName"]
        prefix = job.restore_target.get("DestinationPrefix", "")
        # Blobs of more parts than one invocation copies go to the part-range fan-out (services/large_objects.py),
        # read back from the archive first like the others: a cold recovery point's, or (warm) a shared blob
        # archived for older recovery points (UploadPartCopy would be refused in the middle of the fan-out).
        large = {n for n, entry in enumerate(part.entries) if self.large.fans_out(entry)}
        thawing = part.entries if rp.storage_class is StorageClass.COLD else [part.entries[n] for n in sorted(large)]
        if thawing:
            pending = self._thaw(job.vault_name, thawing)
            if pending:
                return self._thawing(job_id, part.seq, pending)
        failed: list[dict[str, str]] = []
        archived: list[ObjectEntry] = []
        deferred: list[dict[str, Any]] = []
        for n, entry in enumerate(part.entries):
            try:
                blob = VaultLayout.blob_of(job.vault_name, entry)
                if n in large:
                    deferred.append(self.large.defer_blob(job, part.seq, n, entry, blob, bucket, prefix + entry.key,
                                                           restore_create_args(entry)))
                elif entry.composite:
                    self.large.restore_object(blob, bucket, prefix + entry.key, entry)
                else:
                    d.s3.restore_object(d.vault.bucket, blob, bucket, prefix + entry.key, entry)
            except CofferError as error:
                failed.append({"key": entry.key, "reason": f"{type(error).__name__}: {error}"})
            except ClientError as error:
                if error_code(error) in _ARCHIVED:
                    archived.append(entry)  # a shared blob archived for older recovery points: bring it back
                    continue
                if error_code(error) not in _OBJECT_REFUSALS:
                    raise
                failed.append({"key": entry.key, "reason": error_code(error)})
        if archived:
            pending = self._thaw(job.vault_name, archived)
            if pending:
                return self._thawing(job_id, part.seq, pending)
            failed.extend({"key": e.key, "reason": "InvalidObjectState: the vault refused to read its blob"}
                          for e in archived)
        restored = len(part.entries) - len(failed) - len(deferred)
        d.catalog.put_part(job_id, part.seq, {"seq": part.seq, "restored": restored, "failed": failed,
                                              **({"deferred": deferred} if deferred else {})})
        return BatchResult(job_id=job_id, seq=part.seq, objects=restored, failed=len(failed))

    def _thaw(self, vault: str, entries: Sequence[ObjectEntry]) -> int:
        """Ask S3 to bring each entry's blob back from the archive; how many are not readable yet.

        RestoreObject is its own status check (202: started, 200: already back, InvalidObjectState: never
        archived, RestoreAlreadyInProgress), so a batch run again asks again and nothing is read twice.
        """
        settings = self._d.settings
        blobs = dict.fromkeys(VaultLayout.blob_of(vault, e) for e in entries)
        return sum(not self._d.vault.thaw(blob, settings.thaw_days, settings.thaw_tier).ready for blob in blobs)

    def _thawing(self, job_id: str, seq: int, pending: int) -> BatchResult:
        """A part waiting for the archive: nothing restored yet, the workflow waits and runs it again."""
        self._d.catalog.put_part(job_id, seq, {"seq": seq, "restored": 0, "failed": [], "thawing": pending})
        return BatchResult(job_id=job_id, seq=seq, objects=0, pending=pending,
                           poll_seconds=self._d.settings.thaw_poll_seconds)
