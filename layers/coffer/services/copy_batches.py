"""One Distributed Map child of the Copy workflow (CopyPart): one manifest part or one export file into the
destination vault, read top to bottom as the data flows.

A part: the source manifest and the part at the versions the recovery point pins, each checked against its
recorded SHA-256; each blob already in the destination (content-addressed) re-sealed there and pinned, each other
blob copied from its pinned source version (S3 checks the SHA-256; a composite blob in parts, a blob of more parts
than one invocation copies by the part-range fan-out, large_objects.py); then the part under the copy's id, locked
as the destination vault locks, and its record for CompleteCopy. An export file (a DynamoDB copy) is copied under
the copy's prefix. Everything in the destination is written with its copy role's credentials (ports/destinations.py).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from coffer.domain.clock import Clock
from coffer.domain.copies import CopyDestination, CopyMethod
from coffer.domain.errors import IntegrityError, InvalidInput
from coffer.domain.jobs import Job, copy_target
from coffer.domain.manifest import ManifestPart, ObjectEntry, PartRef, VaultLayout, WorkLayout, sha256_hex
from coffer.domain.steps import BatchResult
from coffer.domain.vaults import Seal
from coffer.ports.catalog import Catalog
from coffer.ports.destinations import Destination, Destinations
from coffer.ports.multipart import MultipartCopies
from coffer.ports.vault import VaultStore
from coffer.ports.work_area import WorkArea
from coffer.services.large_objects import (
    LargeObjects,
    copy_composite_blob,
    fanout_seq,
    pinned_version,
    vault_create_args,
)
from coffer.services.pinned_reads import pinned_manifest, read_pinned
from coffer.services.vaults import Vaults
from coffer.settings import Settings


def destination_vaults(destination: Destination, clock: Clock) -> Vaults:
    """The destination's vaults, read with its copy role."""
    return Vaults(destination.ports.vault_records, destination.settings, clock)


def destination_seal(job: Job, destination: Destination, clock: Clock) -> Seal:
    """How the copy's objects are written in the destination: its vault's lock mode and key, the copy's own
    lifecycle (counted from the copy's creation), at least the vault lock's MinRetentionDays."""
    target = copy_target(job)
    return destination_vaults(destination, clock).seal_for(job.with_changes(vault_name=target.vault_name))


def _document_sha256(document: Any) -> str:
    """A JSON document's checksum, the same however its keys were ordered when it was written or read."""
    return sha256_hex(json.dumps(document, sort_keys=True, separators=(",", ":")).encode())


def _file_seq(key: str) -> int:
    """A stable record number for one export file (48 bits of its key's hash: no collision in practice)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16)


class CopyBatches:
    def __init__(self, catalog: Catalog, vault: VaultStore, work: WorkArea, multipart: MultipartCopies,
                 destinations: Destinations, vaults: Vaults, settings: Settings, clock: Clock) -> None:
        self._catalog = catalog
        self._vault = vault
        self._work = work
        self._resolver = destinations
        self._clock = clock
        #: the copy's part-range fan-out writes the destination vault with the copy role's credentials
        self.large = LargeObjects(catalog, vault, work, multipart, vaults, settings, writer=self._destination_multipart)

    # ---- one Distributed Map child --------------------------------------------------------------
    def copy_part(self, job_id: str, key: str) -> BatchResult:
        """One manifest part (S3) or one export file (DynamoDB) into the destination vault."""
        job = self._catalog.get_job(job_id)
        target = copy_target(job)
        destination = self._resolver.resolve(target.address)
        vault = destination.ports.vault
        seal = destination_seal(job, destination, self._clock)
        if target.method is CopyMethod.EXPORT:
            return self._copy_export_file(job, key, vault, seal)
        rp = self._catalog.get_recovery_point(job.recovery_point_id)
        listed = {ref.key: ref for ref in pinned_manifest(self._vault, rp).parts}
        seq = int(key.rsplit("/", 1)[-1].split(".", 1)[0])
        if key not in listed:  # a part a failed batch left: not part of the recovery point (as restores skip it)
            return BatchResult(job_id=job_id, seq=seq, objects=0)
        raw = read_pinned(self._vault, key, listed[key].version_id)
        if sha256_hex(raw) != listed[key].sha256:
            raise IntegrityError(f"{key} does not match the checksum its manifest records")
        part = ManifestPart.model_validate_json(raw)
        copied = reused = bytes_copied = 0
        deferred: list[dict[str, Any]] = []  # copied by the part-range fan-out (services/large_objects.py)
        fanned_out: list[int] = []  # their indexes in the part
        entries: list[ObjectEntry] = []  # as the destination pins them: its own blob versions
        for n, entry in enumerate(part.entries):
            blob = VaultLayout.blob_of(target.vault_name, entry)
            found = vault.lock_of(blob)
            if found.holds(blob):
                # content-addressed: there already, locked at least as long as this copy (a re-seal: a new version)
                lock = vault.secure(blob, seal)
                entries.append(entry.model_copy(update={"blob_version_id": pinned_version(blob, lock)}))
                reused += 1
                continue
            source_blob = VaultLayout.blob_of(job.vault_name, entry)
            if self.large.fans_out(entry):  # more parts than one invocation copies
                deferred.append(self.large.defer_blob(job, part.seq, n, entry, source_blob, vault.bucket, blob,
                                                      vault_create_args(seal)))
                # its destination version is known when the fan-out completes it: pinned then (seal_part)
                entries.append(entry.model_copy(update={"blob_version_id": None}))
                fanned_out.append(n)
                continue
            if entry.composite:  # copied in parts (UploadPartCopy), checked against its composite SHA-256
                version = copy_composite_blob(destination.ports.multipart, self._vault.bucket, source_blob,
                                              vault.bucket, blob, entry, seal)
            else:  # the source's pinned version, never whatever is newest at its key
                stored = vault.copy_in(self._vault.bucket, source_blob, blob, seal.retain_until,
                                       source_version=entry.blob_version_id, seal=seal)
                if stored != entry.sha256:
                    raise IntegrityError(f"{entry.key}: copied blob has SHA-256 {stored}, expected {entry.sha256}")
                version = stored.version_id
            entries.append(entry.model_copy(update={"blob_version_id": version}))
            copied += 1
            bytes_copied += entry.size
        copy = ManifestPart(recovery_point_id=target.recovery_point_id, seq=part.seq, entries=tuple(entries))
        record = {"seq": part.seq, "copied": copied, "reused": reused, "bytes_copied": bytes_copied, "failed": []}
        if deferred:
            # The part waits in the work area until the fan-out has made its blobs: SealCopiedParts writes it with
            # their destination versions, so that no blob of a copy is ever unpinned.
            pending = WorkLayout.pending_part(job_id, part.seq)
            document = {"source": listed[key].model_dump(mode="json"), "part": copy.model_dump(mode="json"),
                        "deferred_indexes": fanned_out}
            self._work.write_json(pending, document)
            # the work area is not the vault: the record names the document's checksum, and the seal checks it
            self._catalog.put_part(job_id, part.seq, {**record, "pending": pending, "deferred": deferred,
                                                      "pending_sha256": _document_sha256(document)})
        else:
            self._catalog.put_part(job_id, part.seq, {**record, "part": self._write_part(
                vault, seal, target, listed[key], copy)})
        return BatchResult(job_id=job_id, seq=part.seq, objects=len(part.entries), copied=copied, reused=reused)

    def seal_part(self, job_id: str, key: str) -> BatchResult:
        """SealCopiedParts, one child: a copy's part that waited for the part-range fan-out, written to the
        destination with each fanned-out blob pinned at the version its finish recorded. A blob whose copy did not
        finish leaves the part unwritten: CompleteCopy then fails the copy naming it."""
        if not key.startswith(WorkLayout.pending_parts_prefix(job_id)):
            raise InvalidInput([f"key: {key} is not a pending part of copy job {job_id}"])
        job = self._catalog.get_job(job_id)
        target = copy_target(job)
        document = self._work.read_json(key)
        part = ManifestPart.model_validate(document["part"])
        record = self._catalog.get_part(job_id, part.seq)
        if record is None or record.get("pending") != key:
            raise IntegrityError(f"{key}: copy job {job_id} recorded no such pending part")
        if record.get("pending_sha256") != _document_sha256(document):
            raise IntegrityError(f"{key} is not the pending part copy job {job_id} wrote (its checksum differs)")
        if "part" in record:  # sealed by an earlier attempt of this child
            return BatchResult(job_id=job_id, seq=part.seq, objects=len(part.entries))
        entries = list(part.entries)
        for n in document["deferred_indexes"]:
            finished = self._catalog.get_part(job_id, fanout_seq(part.seq, n))
            if not finished or finished.get("failed") or not finished.get("version_id"):
                return BatchResult(job_id=job_id, seq=part.seq, objects=0, failed=1)
            entries[n] = entries[n].model_copy(update={"blob_version_id": finished["version_id"]})
        destination = self._resolver.resolve(target.address)
        sealed = part.model_copy(update={"entries": tuple(entries)})
        ref = self._write_part(destination.ports.vault, destination_seal(job, destination, self._clock), target,
                               PartRef.model_validate(document["source"]), sealed)
        self._catalog.put_part(job_id, part.seq, {**record, "part": ref})
        return BatchResult(job_id=job_id, seq=part.seq, objects=len(entries))

    @staticmethod
    def _write_part(vault: VaultStore, seal: Seal, target: CopyDestination, source: PartRef,
                    copy: ManifestPart) -> dict[str, Any]:
        """The part under the copy's id, locked as the destination locks; its manifest reference."""
        part_key = VaultLayout.part(target.vault_name, target.recovery_point_id, copy.seq)
        sha = vault.put_json_locked(part_key, copy.model_dump(mode="json"), seal.retain_until, seal)
        return source.model_copy(update={"key": part_key, "sha256": sha.sha256,
                                         "version_id": sha.version_id}).model_dump(mode="json")

    def _copy_export_file(self, job: Job, key: str, vault: VaultStore, seal: Seal) -> BatchResult:
        target = copy_target(job)
        relative = key.removeprefix(target.export_prefix or "")
        if relative == key:
            raise InvalidInput([f"key: {key} is not a file of this job's export"])
        stored = VaultLayout.recovery_point_prefix(target.vault_name, target.recovery_point_id) + "export/" + relative
        sha = vault.copy_in(self._work.bucket, key, stored, seal.retain_until, seal=seal)
        size = self._work.size_of(key)
        seq = _file_seq(relative)
        self._catalog.put_part(job.job_id, seq, {"seq": seq, "file": {"key": stored, "sha256": sha.sha256, "size": size,
                                                                  "version_id": sha.version_id},
                                             "copied": 1, "reused": 0, "bytes_copied": size, "failed": []})
        return BatchResult(job_id=job.job_id, seq=seq, objects=1, copied=1)

    def _destination_multipart(self, job: Job) -> MultipartCopies:
        """What writes a copy job's uploads: the destination's copy role."""
        return self._resolver.resolve(copy_target(job).address).ports.multipart
