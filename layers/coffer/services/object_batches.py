"""S3 backups and restores in bounded batches, each run by one Distributed Map child.

No invocation's work grows with the bucket: a listing step handles at most `pages_per_listing` pages of
`batch_size` keys, a copy step one batch, a restore step one manifest part.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code
from coffer.domain.errors import CofferError, IntegrityError
from coffer.domain.jobs import Job
from coffer.domain.manifest import ManifestPart, ObjectEntry, PartRef, VaultLayout, WorkLayout
from coffer.domain.resources import resource_name
from coffer.domain.steps import BatchResult, ListBatchesResult
from coffer.services.wiring import Deps

#: per-object refusals that no retry will cure: the object is reported failed, the batch goes on
_OBJECT_REFUSALS = {"AccessDenied", "InvalidObjectState", "KMS.DisabledException", "KMS.AccessDeniedException"}


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

    # ---- listing --------------------------------------------------------------------------------
    def list_batches(self, job_id: str, token: str | None, next_seq: int) -> ListBatchesResult:
        """Write the next few pages of the source listing as batch files; the workflow loops until done.

        A batch holds at most `batch_size` objects and `batch_bytes` bytes, so one child's copy work is
        bounded whatever the objects' sizes.
        """
        d = self._d
        job = d.catalog.get_job(job_id)
        bucket = resource_name(job.resource_arn)
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
        retain_until = job.lifecycle.retain_until(job.created_at, d.settings.default_retention_days)
        known = d.catalog.get_objects(job.vault_name, bucket, [i["key"] for i in batch["items"]])
        entries: list[ObjectEntry] = []
        index: dict[str, dict[str, Any]] = {}
        failed: list[dict[str, str]] = []
        copied = reused = bytes_copied = 0
        for n, item in enumerate(batch["items"]):
            try:
                entry, was_copied, record = self._back_up_object(job, bucket, item, known.get(item["key"]),
                                                                 seq, n, retain_until)
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
        sha = d.vault.put_json_locked(part_key, part.model_dump(mode="json"), retain_until)
        ref = PartRef(seq=seq, key=part_key, sha256=sha, objects=len(entries), bytes=sum(e.size for e in entries),
                      first_key=entries[0].key if entries else None, last_key=entries[-1].key if entries else None)
        d.catalog.put_objects(job.vault_name, bucket, index)
        d.catalog.put_part(job_id, seq, {"seq": seq, "part": ref.model_dump(mode="json"), "copied": copied,
                                         "reused": reused, "bytes_copied": bytes_copied, "failed": failed})
        return BatchResult(job_id=job_id, seq=seq, objects=len(entries), copied=copied, reused=reused,
                           failed=len(failed))

    def _back_up_object(self, job: Job, bucket: str, item: dict[str, Any], known: dict[str, Any] | None,
                        seq: int, n: int, retain_until: datetime) -> tuple[ObjectEntry | None, bool, dict[str, Any]]:
        """One object into the vault (or found there); returns its manifest entry, whether bytes moved, and
        its object-index record. (None, ...) when the object vanished since it was listed."""
        d = self._d
        unchanged = known is not None and all(known.get(k) == item[k] for k in ("etag", "size", "last_modified"))
        if known is not None and unchanged:
            tags = d.s3.tags(bucket, item["key"])  # tags change without a new version: read them every time
            if tags is None:
                return None, False, {}
            facts: dict[str, Any] = {**known, "tags": tags}
            blob = VaultLayout.blob(job.vault_name, facts["sha256"])
            locked_until, copied = datetime.fromisoformat(known["retain_until"]), False
        else:
            described = d.s3.describe_object(bucket, item["key"])
            if described is None:
                return None, False, {}
            facts = {**described, "key": item["key"], "last_modified": item["last_modified"]}
            blob, locked_until, copied = self._store_content(job, bucket, facts, seq, n, retain_until)
        if locked_until is None or locked_until < retain_until:
            d.vault.extend_retention(blob, retain_until)
            locked_until = retain_until
        entry = ObjectEntry.model_validate({k: v for k, v in facts.items() if k in ObjectEntry.model_fields})
        record = {**entry.model_dump(mode="json", exclude={"tags"}), "retain_until": locked_until.isoformat()}
        return entry, copied, record

    def _store_content(self, job: Job, bucket: str, facts: dict[str, Any], seq: int, n: int,
                       retain_until: datetime) -> tuple[str, datetime | None, bool]:
        """Make sure the vault holds this content: (blob key, its lock date, whether bytes were copied).

        Without a SHA-256 from S3, the object is first copied to the work bucket so S3 computes one.
        """
        d = self._d
        staging = None
        if not facts.get("sha256"):
            staging = WorkLayout.staging(job.job_id, seq, n)
            facts["sha256"] = d.s3.copy_with_checksum(bucket, facts["key"], facts.get("version_id"), facts["size"],
                                                      d.work.bucket, staging)
        blob = VaultLayout.blob(job.vault_name, facts["sha256"])
        try:
            exists, locked_until = d.vault.lock_of(blob)
            if exists:
                return blob, locked_until, False
            if staging is not None:
                stored = d.vault.copy_in(d.work.bucket, staging, blob, retain_until)
            else:
                stored = d.vault.copy_in(bucket, facts["key"], blob, retain_until, facts.get("version_id"))
            if stored != facts["sha256"]:
                raise IntegrityError(f"{facts['key']}: vault copy has SHA-256 {stored}, expected {facts['sha256']}")
            return blob, retain_until, True
        finally:
            if staging is not None:
                d.work.delete(staging)

    # ---- restore one manifest part --------------------------------------------------------------
    def restore_part(self, job_id: str, part_key: str) -> BatchResult:
        """Copy one manifest part's objects back, each checked against its SHA-256 by S3 itself."""
        d = self._d
        job = d.catalog.get_job(job_id)
        part = ManifestPart.model_validate(d.vault.get_json(part_key))
        if part.recovery_point_id != job.recovery_point_id:
            raise IntegrityError(f"{part_key} belongs to recovery point {part.recovery_point_id}")
        bucket = job.restore_target["DestinationBucketName"]
        prefix = job.restore_target.get("DestinationPrefix", "")
        failed: list[dict[str, str]] = []
        for entry in part.entries:
            try:
                d.s3.restore_object(d.vault.bucket, VaultLayout.blob(job.vault_name, entry.sha256), bucket,
                                    prefix + entry.key, entry)
            except CofferError as error:
                failed.append({"key": entry.key, "reason": f"{type(error).__name__}: {error}"})
            except ClientError as error:
                if error_code(error) not in _OBJECT_REFUSALS:
                    raise
                failed.append({"key": entry.key, "reason": error_code(error)})
        restored = len(part.entries) - len(failed)
        d.catalog.put_part(job_id, part.seq, {"seq": part.seq, "restored": restored, "failed": failed})
        return BatchResult(job_id=job_id, seq=part.seq, objects=restored, failed=len(failed))
