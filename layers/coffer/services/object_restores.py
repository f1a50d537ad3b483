"""S3 restores in bounded batches: one manifest part per Distributed Map child (the Restore workflow's RestoreBatch).

Reads top to bottom as the data flows: the manifest and the part at the versions the recovery point pins, each
checked against its recorded SHA-256; archived blobs thawed first (the workflow waits and runs the part again);
then each object copied back from its pinned blob version (S3 checks the SHA-256), a blob of more parts than one
invocation copies handed to the part-range fan-out (large_objects.py), one object's failure that object's only.
A point-in-time restore's batches are the continuous backup's (continuous.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coffer.domain.errors import CofferError, IntegrityError, ObjectArchived, ObjectRefused
from coffer.domain.input_rules.restore_metadata import restored_key_problem
from coffer.domain.manifest import ManifestPart, ObjectEntry, VaultLayout, sha256_hex
from coffer.domain.recovery_points import StorageClass
from coffer.domain.steps import BatchResult
from coffer.ports.catalog import Catalog
from coffer.ports.source_buckets import SourceBuckets
from coffer.ports.vault import VaultStore
from coffer.services.continuous import ContinuousBackups, pitr_time
from coffer.services.large_objects import LargeObjects, restore_create_args
from coffer.services.pinned_reads import pinned_manifest, read_pinned
from coffer.settings import Settings


def _seq_of(key: str) -> int:
    return int(key.rsplit("/", 1)[-1].split(".", 1)[0])


class ObjectRestores:
    """Per-object refusals that no retry cures (ObjectRefused: access denied, a KMS key) name the object failed and
    the part goes on; anything else fails the part, which the workflow retries."""

    def __init__(self, catalog: Catalog, vault: VaultStore, buckets: SourceBuckets, continuous: ContinuousBackups,
                 large: LargeObjects, settings: Settings) -> None:
        self._catalog = catalog
        self._vault = vault
        self._buckets = buckets
        self._continuous = continuous
        self.large = large  # also the Restore workflow's part-range fan-out (RestoreBatch)
        self._settings = settings

    # ---- restore one manifest part --------------------------------------------------------------
    def restore_part(self, job_id: str, part_key: str) -> BatchResult:
        """Copy one manifest part's objects back, each checked against its SHA-256 by S3 itself.

        The workflow lists the recovery point's parts in the vault; only those the manifest lists, with the
        checksum it records, are restored. (A batch that failed after writing its part left the part there,
        locked, but not in the manifest: its keys are the recovery point's failed keys.) The manifest, the part and
        each blob are read at the versions the recovery point pins. One object's failure is that object's only: a
        missing or unreadable blob, a restored checksum that differs (the version written is deleted) or a key over
        1,024 bytes under DestinationPrefix names it failed and the part goes on.
        """
        job = self._catalog.get_job(job_id)
        if pitr_time(job):  # a point-in-time restore: batch files of the bucket as it was (ListPitrBatches)
            return self._continuous.restore_batch(job, part_key)
        rp = self._catalog.get_recovery_point(job.recovery_point_id)
        # Pinned reads: the manifest, part and blob versions the recovery point pins (one without pins - written
        # before versions were pinned - reads the newest, which its checksums still check; verify flags it UNPINNED)
        listed = {ref.key: ref for ref in pinned_manifest(self._vault, rp).parts}
        if part_key not in listed:
            return BatchResult(job_id=job_id, seq=_seq_of(part_key), objects=0)
        raw = read_pinned(self._vault, part_key, listed[part_key].version_id)
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
            too_long = restored_key_problem(prefix, entry.key)
            if too_long:
                failed.append({"key": entry.key, "reason": too_long})
                continue
            try:
                blob = VaultLayout.blob_of(job.vault_name, entry)
                if n in large:
                    deferred.append(self.large.defer_blob(job, part.seq, n, entry, blob, bucket, prefix + entry.key,
                                                           restore_create_args(entry)))
                elif entry.composite:
                    self.large.restore_object(blob, bucket, prefix + entry.key, entry)
                else:
                    self._buckets.restore_object(self._vault.bucket, blob, bucket, prefix + entry.key, entry,
                                                 entry.blob_version_id)
            except ObjectArchived:
                archived.append(entry)  # a shared blob archived for older recovery points: bring it back
            except ObjectRefused as refused:
                failed.append({"key": entry.key, "reason": refused.code})
            except CofferError as error:
                failed.append({"key": entry.key, "reason": f"{type(error).__name__}: {error}"})
        if archived:
            pending = self._thaw(job.vault_name, archived)
            if pending:
                return self._thawing(job_id, part.seq, pending)
            failed.extend({"key": e.key, "reason": "InvalidObjectState: the vault refused to read its blob"}
                          for e in archived)
        restored = len(part.entries) - len(failed) - len(deferred)
        self._catalog.put_part(job_id, part.seq, {"seq": part.seq, "restored": restored, "failed": failed,
                                              **({"deferred": deferred} if deferred else {})})
        return BatchResult(job_id=job_id, seq=part.seq, objects=restored, failed=len(failed))

    def _thaw(self, vault: str, entries: Sequence[ObjectEntry]) -> int:
        """Ask S3 to bring each entry's blob back from the archive; how many are not readable yet.

        RestoreObject is its own status check (202: started, 200: already back, InvalidObjectState: never
        archived, RestoreAlreadyInProgress), so a batch run again asks again and nothing is read twice.
        """
        settings = self._settings
        pinned = dict.fromkeys((VaultLayout.blob_of(vault, e), e.blob_version_id) for e in entries)
        return sum(not self._vault.thaw(blob, settings.thaw_days, settings.thaw_tier, version).ready
                   for blob, version in pinned)

    def _thawing(self, job_id: str, seq: int, pending: int) -> BatchResult:
        """A part waiting for the archive: nothing restored yet, the workflow waits and runs it again."""
        self._catalog.put_part(job_id, seq, {"seq": seq, "restored": 0, "failed": [], "thawing": pending})
        return BatchResult(job_id=job_id, seq=seq, objects=0, pending=pending,
                           poll_seconds=self._settings.thaw_poll_seconds)
