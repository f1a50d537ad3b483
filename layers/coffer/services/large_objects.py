"""S3 objects over the multipart threshold: copied in parts (UploadPartCopy), S3 computing the checksums.

A blob copied in parts is addressed by S3's COMPOSITE SHA-256 (VaultLayout.composite_blob): parts of one fixed
size (domain/multipart.py) make it a function of the bytes, so the same content gets the same address. Its
address is only known once S3 has computed it, so - as for small objects without a SHA-256 - the object is first
copied into the work bucket (staging), then into the vault unless the vault holds that blob already.

How much one invocation copies is bounded by `parts_per_invocation` (P):
- an object of at most P parts is copied by its CopyBatch invocation (`store`): staging, then vault, each
  copy at most P parts;
- a larger one is *deferred* (`defer`): its batch creates the staging upload and writes its part ranges (P
  parts each) as range files; the Backup workflow then runs, per round, a Distributed Map over the range files
  (`copy_range`: one UploadPartCopy per part of one range) and one over the deferred objects (`finish`:
  CompleteMultipartUpload; round 0 then starts the vault upload and writes round 1's range files, unless the
  vault holds the blob already; round 1 writes the object's manifest part). `find` tells the workflow whether
  a round has work. A deferred object's batch names it (`deferred`) in its result record: CompleteBackup lists
  it as a failed key unless its own manifest part was written, so a job never ends COMPLETED without it.
Restores and copies of a composite blob of more than P parts fan out the same way, in one round (`defer_blob`):
RestoreBatch (or CopyPart) creates the upload into the target bucket (or the destination vault, with the copy
role's credentials: `writer`) and writes the range files and the object's record; the Restore (Copy) workflow
runs the same find / copy ranges / finish steps in that function, and `finish` checks S3's composite checksum
against the manifest entry and writes the object's result record (`fanout_seq`), restored (copied) or failed,
where CompleteRestore (CompleteCopy) reads the parts' results.
Range files number ceil(parts / P), at most 10,000 / P (S3's part limit); a finish lists at most 10 pages of
parts (ListParts). Uploads that fail are aborted; the work bucket's lifecycle aborts any left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from coffer.domain.cold_tier import ARCHIVE_CLASSES, format_day, warm_until_needed
from coffer.domain.errors import IntegrityError, InvalidInput, UploadGone
from coffer.domain.jobs import Job, JobKind
from coffer.domain.manifest import ManifestPart, ObjectEntry, PartRef, VaultLayout, WorkLayout
from coffer.domain.multipart import part_count, part_size_for
from coffer.domain.object_lock import LockMode
from coffer.domain.restored_headers import restore_args
from coffer.domain.steps import LargeCopiesResult, LargeCopyResult
from coffer.domain.vaults import Seal
from coffer.ports.catalog import Catalog
from coffer.ports.multipart import Composite, MultipartCopies, Upload
from coffer.ports.vault import LockFacts, VaultStore
from coffer.ports.work_area import WorkArea
from coffer.services.object_tiering import keep_warm
from coffer.services.vaults import Vaults
from coffer.settings import Settings

#: manifest parts of deferred objects are numbered apart from the batches' (seq < LARGE_SEQ_BASE)
LARGE_SEQ_BASE = 10**9
ROUNDS = 2  # 0: source -> staging, 1: staging -> vault
#: result records of restores' and copies' deferred objects are numbered above every manifest part's seq
FANOUT_SEQ_BASE = 10**15


def large_seq(batch_seq: int, index: int) -> int:
    """The manifest part number of the object at `index` of batch `batch_seq`, copied by the fan-out."""
    return LARGE_SEQ_BASE + batch_seq * 100_000 + index


def fanout_seq(part_seq: int, index: int) -> int:
    """The result record of the object at `index` of manifest part `part_seq`, restored or copied by the fan-out."""
    return FANOUT_SEQ_BASE + part_seq * 100_000 + index


def unfinished_deferred(records: list[dict[str, Any]]) -> list[str]:
    """`key (reason)` of each object a restore's or a copy's parts deferred to the fan-out (`defer_blob`) that was
    not done: the reason its result record gives, or, without a result record, that its copy did not finish."""
    results = {r["seq"]: r for r in records if "fanout" in r}

    def reason(seq: int) -> str:
        return results[seq]["failed"][0]["reason"] if seq in results else "its copy in parts did not finish"

    return [f"{o['key']} ({reason(o['seq'])})" for r in records for o in r.get("deferred", [])
            if o["seq"] not in results or results[o["seq"]]["failed"]]


def restore_create_args(entry: ObjectEntry) -> dict[str, Any]:
    """CreateMultipartUpload parameters that restore an object's headers, user metadata, tags and storage class
    (as S3Adapter.restore_object: domain/restored_headers.py)."""
    return restore_args(entry)


def pinned_version(blob: str, lock: LockFacts) -> str | None:
    """The VersionId a manifest entry pins after `secure` made the blob's newest version meet a seal (a re-seal makes
    a new version). IntegrityError when that version is not the content the blob's address names - someone wrote
    over the blob: the object fails in this job, loudly, rather than be pinned to their bytes."""
    if not lock.holds(blob):
        raise IntegrityError(f"{blob}: its newest version ({lock.version_id}) is not the content its address names "
                             f"(S3's checksum {lock.checksum}): written over; run `coffer vault verify`")
    return lock.version_id


class Deferred(Exception):
    """The object is copied by the Backup workflow's part-range fan-out; `record` names it in the batch's result."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(record["key"])
        self.record = record


def vault_create_args(seal: Seal, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """CreateMultipartUpload parameters that seal a vault object as copy_in does: lock mode and date, KMS key
    (and its tags: a blob's warm-until, domain/cold_tier.py)."""
    args: dict[str, Any] = {"ContentType": "application/octet-stream", "ObjectLockMode": seal.mode.value,
                            "ObjectLockRetainUntilDate": seal.retain_until}
    if tags:
        args["Tagging"] = urlencode(tags)
    if seal.kms_key_arn:
        args.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=seal.kms_key_arn, BucketKeyEnabled=True)
    return args


class LargeObjects:
    """`writer`: what writes a job's uploads when it is not this account (a copy job: the copy role in the
    destination); the fan-out steps then read the job to resolve it."""

    def __init__(self, catalog: Catalog, vault: VaultStore, work: WorkArea, multipart: MultipartCopies, vaults: Vaults,
                 settings: Settings, writer: Callable[[Job], MultipartCopies] | None = None) -> None:
        self._catalog = catalog
        self._vault = vault
        self._work = work
        self._copier = multipart
        self._vaults = vaults
        self._settings = settings
        self._writer = writer

    # ---- inside a CopyBatch ---------------------------------------------------------------------------
    def is_large(self, size: int) -> bool:
        return size > self._settings.multipart_threshold_bytes

    def part_size(self, size: int) -> int:
        return part_size_for(size, self._settings.part_size_bytes)

    def store(self, job: Job, bucket: str, facts: dict[str, Any], seq: int, n: int,
              seal: Seal, tags: dict[str, str]) -> tuple[str, datetime | None, str | None, bool, str | None]:
        """Make sure the vault holds this large object's bytes: (blob key, its lock date and mode, whether bytes
        were copied, the VersionId relied on); `facts` gains the composite checksum. Deferred when it needs more
        than P parts."""
        part_size = self.part_size(facts["size"])
        if part_count(facts["size"], part_size) > self._settings.parts_per_invocation:
            self.defer(job, bucket, facts, seq, n)  # raises Deferred
        staging = WorkLayout.large_staging(job.job_id, seq, n)
        try:
            staged = self._copier.copy(bucket, facts["key"], facts.get("version_id"), facts["size"], part_size,
                                       self._work.bucket, staging)
            facts.update(sha256=staged.sha256, checksum_type="COMPOSITE", parts=staged.parts, part_size=part_size)
            blob = VaultLayout.composite_blob(job.vault_name, staged.sha256, staged.parts)
            found = self._vault.lock_of(blob)
            if found.holds(blob) and (found.storage_class or "STANDARD") not in ARCHIVE_CLASSES:
                return blob, found[1], found.mode, False, found.version_id
            stored = self._copier.copy(self._work.bucket, staging, None, facts["size"], part_size,
                                       self._vault.bucket, blob, **vault_create_args(seal, tags))
            self._check(facts["key"], stored, staged)
            return blob, seal.retain_until, seal.mode, True, stored.version_id
        finally:
            self._work.delete(staging)

    def defer(self, job: Job, bucket: str, facts: dict[str, Any], seq: int, n: int) -> None:
        """Start the staging upload, write the object's record and its range files; raise Deferred."""
        key = WorkLayout.large(job.job_id, 0, seq, n)
        record = {"key": facts["key"], "seq": large_seq(seq, n), "large_key": key}
        if self._work.first_key(key):  # a retried batch: this object's copy was planned already
            raise Deferred(record)
        staging = WorkLayout.large_staging(job.job_id, seq, n)
        upload = self._copier.start(bucket, facts["key"], facts.get("version_id"), facts["size"],
                                    self.part_size(facts["size"]), self._work.bucket, staging)
        self._plan(job.job_id, 0, seq, n, upload, {"bucket": bucket, "facts": facts, "seq": large_seq(seq, n)})
        raise Deferred(record)

    def _plan(self, job_id: str, round_: int, seq: int, n: int, upload: Upload, document: dict[str, Any]) -> None:
        """The round's range files (P parts each), then the object's record (written last: `find` sees it only
        once every range it names exists)."""
        step = self._settings.parts_per_invocation
        for first in range(1, upload.parts + 1, step):
            self._work.write_json(WorkLayout.part_range(job_id, round_, seq, n, first), {
                "upload": upload.to_json(), "first": first, "last": min(first + step - 1, upload.parts)})
        self._work.write_json(WorkLayout.large(job_id, round_, seq, n), {**document, "upload": upload.to_json()})

    # ---- restores and copies of blobs copied in parts --------------------------------------------------
    def fans_out(self, entry: ObjectEntry) -> bool:
        """A blob of more parts than one invocation copies: restored or copied by the part-range fan-out."""
        return entry.composite and (entry.parts or 1) > self._settings.parts_per_invocation

    def restore_object(self, blob: str, bucket: str, key: str, entry: ObjectEntry) -> None:
        """Copy a composite blob (of at most P parts: `fans_out`) back under its key, in the parts it was stored
        with, with its headers, metadata and tags: S3's composite SHA-256 of the restored object must be the
        recorded one."""
        restored = self._copier.copy(self._vault.bucket, blob, entry.blob_version_id, entry.size,
                                     entry.part_size or entry.size, bucket, key, **restore_create_args(entry))
        try:
            self._check(f"s3://{bucket}/{key}", restored, Composite(entry.sha256, entry.parts or 0))
        except IntegrityError:
            self._copier.discard(bucket, key, restored.version_id)  # no byte that differs stays visible
            raise

    def defer_blob(self, job: Job, part_seq: int, index: int, entry: ObjectEntry, source_blob: str,
                   dest_bucket: str, dest_key: str, create: dict[str, Any]) -> dict[str, Any]:
        """A restore's or a copy's blob of more than P parts: start its upload (with `writer`'s credentials),
        write its range files and record; what its part's result names it by ({key, seq}). A retried part finds
        the record and starts nothing again. (An upload a crash left before its record holds no part, so no bytes:
        the vault bucket's lifecycle rule aborts it in a copy's destination; in a restore's target bucket it stays
        listed until that bucket's own rule, if any, aborts it.)"""
        seq = fanout_seq(part_seq, index)
        named = {"key": entry.key, "seq": seq}
        if self._work.first_key(WorkLayout.large(job.job_id, 0, part_seq, index)):
            return named
        upload = self._copier_of(job).start(self._vault.bucket, source_blob, entry.blob_version_id, entry.size,
                                            entry.part_size or entry.size, dest_bucket, dest_key, **create)
        self._plan(job.job_id, 0, part_seq, index, upload, {"seq": seq, "entry": entry.model_dump(mode="json")})
        return named

    # ---- the Backup workflow's fan-out ----------------------------------------------------------------
    def find(self, job_id: str, round_: int) -> LargeCopiesResult:
        """Whether round `round_` has deferred objects (one listing call): the workflow's loop condition."""
        prefix = WorkLayout.large_prefix(job_id, round_)
        any_ = round_ < ROUNDS and bool(self._work.first_key(prefix))
        return LargeCopiesResult(job_id=job_id, round=round_, next_round=round_ + 1, any=any_,
                                 ranges_prefix=WorkLayout.ranges_prefix(job_id, round_), uploads_prefix=prefix)

    def copy_range(self, job_id: str, range_key: str) -> LargeCopyResult:
        """One Distributed Map child: UploadPartCopy of one range of parts (at most P)."""
        self._owned(job_id, range_key)
        document = self._work.read_json(range_key)
        upload = Upload.from_json(document["upload"])
        self._copier_for(job_id).copy_parts(upload, document["first"], document["last"])
        return LargeCopyResult(job_id=job_id, key=range_key, parts=document["last"] - document["first"] + 1)

    def finish(self, job_id: str, large_key: str) -> LargeCopyResult:
        """One Distributed Map child: complete one deferred object's upload of this round, then start the next
        round or write the object's manifest part. A part that was not copied aborts the upload and the object
        is recorded failed (the job ends PARTIAL with its key)."""
        work = self._work
        self._owned(job_id, large_key)
        round_ = int(large_key.split("/large/", 1)[1].split("/", 1)[0])
        document = work.read_json(large_key)
        upload = Upload.from_json(document["upload"])
        job = self._catalog.get_job(job_id)
        if job.kind is not JobKind.BACKUP:
            return self._finish_blob(job, large_key, document, upload)
        facts, seq = document["facts"], document["seq"]
        try:
            composite = self._complete(upload, self._copier)
        except IntegrityError as error:
            self._copier.abort(upload)
            self._record(job, seq, None, 0, False, {"key": facts["key"], "reason": f"IntegrityError: {error}"})
            return LargeCopyResult(job_id=job_id, key=large_key, failed=True)
        seal = self._vaults.seal_for(job)
        if round_ == 0:
            facts.update(sha256=composite.sha256, checksum_type="COMPOSITE", parts=composite.parts,
                         part_size=upload.part_size)
            blob = VaultLayout.composite_blob(job.vault_name, composite.sha256, composite.parts)
            found = self._vault.lock_of(blob)
            if found.holds(blob) and (found.storage_class or "STANDARD") not in ARCHIVE_CLASSES:
                work.delete(upload.dest_key)
                facts["blob_version_id"] = found.version_id
                self._finalize(job, document["bucket"], seq, facts, blob, found[1], found.mode, False, seal)
                return LargeCopyResult(job_id=job_id, key=large_key, parts=composite.parts)
            batch_seq, index = [int(x) for x in large_key.rsplit("/", 1)[1].split(".", 1)[0].split("-")]
            if not work.first_key(WorkLayout.large(job_id, 1, batch_seq, index)):
                vault_upload = self._copier.start(upload.dest_bucket, upload.dest_key, None, upload.size,
                                                  upload.part_size, self._vault.bucket, blob, **vault_create_args(seal))
                self._plan(job_id, 1, batch_seq, index, vault_upload, {**document, "facts": facts})
            return LargeCopyResult(job_id=job_id, key=large_key, parts=composite.parts)
        self._check(facts["key"], composite, Composite(facts["sha256"], facts["parts"]))
        work.delete(upload.source_key)  # the staging copy
        facts["blob_version_id"] = composite.version_id
        self._finalize(job, document["bucket"], seq, facts, upload.dest_key, seal.retain_until, seal.mode, True, seal)
        return LargeCopyResult(job_id=job_id, key=large_key, parts=composite.parts)

    def _finish_blob(self, job: Job, large_key: str, document: dict[str, Any], upload: Upload) -> LargeCopyResult:
        """A restore's or a copy's deferred blob: complete its upload, check S3's composite checksum against the
        manifest entry, and write its result record. A part that was not copied, or a checksum that differs,
        aborts the upload (nothing half-made is left in the target) and records the object failed: the restore
        ends PARTIAL with its key, the copy (all or nothing) FAILED."""
        entry = ObjectEntry.model_validate(document["entry"])
        copier = self._copier_of(job)
        result: dict[str, Any] = {"seq": document["seq"], "fanout": entry.key, "failed": []}
        restore = job.kind is JobKind.RESTORE
        written: Composite | None = None  # the version this call completed: Coffer's own
        try:
            composite, fresh = self._completed(upload, copier)
            written = composite if fresh else None
            self._check(f"s3://{upload.dest_bucket}/{upload.dest_key}", composite,
                        Composite(entry.sha256, entry.parts or 0))
        except IntegrityError as error:
            copier.abort(upload)
            if written is not None and restore:  # completed with another checksum: delete the version it wrote
                copier.discard(upload.dest_bucket, upload.dest_key, written.version_id)
            result["failed"] = [{"key": entry.key, "reason": f"IntegrityError: {error}"}]
        done = not result["failed"]
        if restore:
            result.update(restored=int(done), planned=0)
        else:  # the destination version the copy's pending part pins (copy_batches.seal_part)
            result.update(copied=int(done), reused=0, bytes_copied=entry.size if done else 0,
                          version_id=composite.version_id if done else None)
        self._catalog.put_part(job.job_id, document["seq"], result)
        return LargeCopyResult(job_id=job.job_id, key=large_key, parts=upload.parts if done else 0, failed=not done)

    def _copier_for(self, job_id: str) -> MultipartCopies:
        return self._copier if self._writer is None else self._copier_of(self._catalog.get_job(job_id))

    def _copier_of(self, job: Job) -> MultipartCopies:
        return self._copier if self._writer is None else self._writer(job)

    def _complete(self, upload: Upload, copier: MultipartCopies) -> Composite:
        """Complete the upload; a retry after it was completed finds the object S3 made."""
        return self._completed(upload, copier)[0]

    @staticmethod
    def _completed(upload: Upload, copier: MultipartCopies) -> tuple[Composite, bool]:
        """(the object's composite, whether this call completed it). Only a version this call completed is known to
        be Coffer's own: a retry finds the key's current version, which may be what the restore overwrote."""
        try:
            return copier.complete(upload), True
        except UploadGone:
            pass
        found = copier.composite_of(upload.dest_bucket, upload.dest_key)
        if found is None or found[0] is None or found[1] != upload.size:
            raise IntegrityError(f"s3://{upload.dest_bucket}/{upload.dest_key}: upload {upload.upload_id} is gone "
                                 "and left no object of its size")
        return found[0], False

    def _finalize(self, job: Job, bucket: str, seq: int, facts: dict[str, Any], blob: str,
                  locked_until: datetime | None, mode: LockMode | None, copied: bool, seal: Seal) -> None:
        """The object's manifest part (one entry) and its object-index record, as CopyBatch writes them."""
        recompliance = seal.mode is LockMode.COMPLIANCE and mode is not LockMode.COMPLIANCE
        if locked_until is None or locked_until < seal.retain_until or recompliance:
            lock = self._vault.secure(blob, seal)  # extends, or re-seals a GOVERNANCE blob as COMPLIANCE
            locked_until, mode = lock[1] or seal.retain_until, lock.mode
            facts["blob_version_id"] = pinned_version(blob, lock)
        warm = keep_warm(self._vault, blob, warm_until_needed(job.lifecycle.cold_at(job.created_at)))
        entry = ObjectEntry.model_validate({k: v for k, v in facts.items() if k in ObjectEntry.model_fields})
        record = {**entry.model_dump(mode="json", exclude={"tags"}), "retain_until": locked_until.isoformat(),
                  "lock_mode": mode, "warm_until": format_day(warm)}
        self._catalog.put_objects(job.vault_name, bucket, {entry.key: record})
        self._record(job, seq, entry, entry.size if copied else 0, copied, None)

    def _record(self, job: Job, seq: int, entry: ObjectEntry | None, bytes_copied: int, copied: bool,
                failed: dict[str, str] | None) -> None:
        """The object's manifest part (empty if it failed) and its result record, keyed by its own seq."""
        seal = self._vaults.seal_for(job)
        entries = (entry,) if entry is not None else ()
        part = ManifestPart(recovery_point_id=job.recovery_point_id, seq=seq, entries=entries)
        part_key = VaultLayout.part(job.vault_name, job.recovery_point_id, seq)
        sha = self._vault.put_json_locked(part_key, part.model_dump(mode="json"), seal.retain_until, seal)
        ref = PartRef(seq=seq, key=part_key, sha256=sha, version_id=sha.version_id, objects=len(entries),
                      bytes=sum(e.size for e in entries), first_key=entry.key if entry else None,
                      last_key=entry.key if entry else None)
        self._catalog.put_part(job.job_id, seq, {"seq": seq, "part": ref.model_dump(mode="json"),
                                             "copied": int(copied and entry is not None),
                                             "reused": int(not copied and entry is not None),
                                             "bytes_copied": bytes_copied, "failed": [failed] if failed else []})

    @staticmethod
    def _check(key: str, stored: Composite, expected: Composite) -> None:
        if (stored.sha256, stored.parts) != (expected.sha256, expected.parts):
            raise IntegrityError(f"{key}: vault copy has composite SHA-256 {stored.sha256}-{stored.parts}, expected "
                                 f"{expected.sha256}-{expected.parts}")

    @staticmethod
    def _owned(job_id: str, key: str) -> None:
        if not key.startswith(f"jobs/{job_id}/"):
            raise InvalidInput([f"key: {key} is not a file of job {job_id}"])


def copy_composite_blob(multipart: MultipartCopies, source_bucket: str, source_blob: str, dest_bucket: str,
                        dest_blob: str, entry: ObjectEntry, seal: Seal) -> str | None:
    """A composite blob into another vault (copy jobs; `multipart` writes as the destination), in the parts it was
    stored with, so its content address holds there too; checked against the entry's composite SHA-256. Reads the
    source's pinned version (entry.blob_version_id); returns the destination version's VersionId."""
    stored = multipart.copy(source_bucket, source_blob, entry.blob_version_id, entry.size,
                            entry.part_size or entry.size, dest_bucket, dest_blob, **vault_create_args(seal))
    LargeObjects._check(entry.key, stored, Composite(entry.sha256, entry.parts or 0))
    return stored.version_id
