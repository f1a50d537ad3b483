"""Verify (scrub) the vault: re-check what it holds against the manifests' SHA-256, report, never repair.

No bytes are read where S3 has the checksum: GetObjectAttributes gives the SHA-256 S3 computed when the
object was written (every vault object is written with ChecksumAlgorithm SHA256). `deep` re-reads and
hashes every byte instead (streamed), which also catches what a stored checksum cannot: bytes that changed
underneath it.

Two ways to run it, same checks:
- `coffer vault verify` runs in one process over whole vaults, and also reports orphaned blobs;
- the Verify workflow (statemachines/verify.asl.json, scheduled) lists work items into files of at most
  ITEMS_PER_FILE (bounded pages per invocation), checks each file in a Distributed Map child, and ends
  FAILED (VaultVerifyFailed) when anything is wrong, so an alarm on failed executions sees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from coffer.domain.clock import Clock
from coffer.domain.errors import IntegrityError, NotFound, VaultVerifyFailed
from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry, VaultLayout, sha256_hex
from coffer.domain.recovery_points import RecoveryPointStatus
from coffer.domain.vaults import blobs_prefix, recovery_points_prefix
from coffer.domain.verify import (
    FINDINGS_KEPT,
    UNFINISHED_GRACE,
    Finding,
    FindingKind,
    ListVerifyItemsResult,
    ListVerifyItemsStep,
    VerifyBatchResult,
    VerifyItem,
    VerifySummary,
    VerifyTally,
)
from coffer.ports.catalog import Catalog
from coffer.ports.continuous_records import ContinuousStore
from coffer.ports.multipart import Composite, MultipartCopies
from coffer.ports.vault import VaultStore
from coffer.ports.vault_records import VaultRecords
from coffer.ports.work_area import WorkArea
from coffer.services.vaults import Vaults
from coffer.settings import Settings

#: Work items per file, i.e. per Distributed Map child. A part item checks up to BatchSize blobs.
ITEMS_PER_FILE = 5
_PAGE = 1000


def items_prefix(run_id: str) -> str:
    return f"verify/{run_id}/items/"


def _seq_of(key: str) -> int:
    return int(key.rsplit("/", 1)[-1].split(".", 1)[0])


def _rp_of(key: str) -> str:
    """The recovery point id in vaults/<v>/recovery-points/<id>/..."""
    return key.split("/recovery-points/", 1)[1].split("/", 1)[0]


class _Checker:
    """The checks of one batch of items; remembers blobs already checked in this batch."""

    def __init__(self, verifier: VaultVerifier, deep: bool) -> None:
        self._v = verifier
        self._store = verifier.store
        self.deep = deep
        self.findings: list[Finding] = []
        self.objects = 0
        self.bytes_read = 0
        self.blobs_seen: set[str] = set()
        self.referenced: set[str] = set()

    def report(self, kind: FindingKind, key: str, detail: str, rp: str | None = None) -> None:
        self.findings.append(Finding(kind=kind, key=key, detail=detail, recovery_point_id=rp))

    def sha_of(self, key: str) -> tuple[str, int] | None:
        """(sha256, size) of the object: S3's stored checksum, or the bytes re-read and hashed.
        IntegrityError when the bytes read do not match S3's own stored checksum."""
        self.objects += 1
        if not self.deep:
            found = self._store.checksum_of(key)
            if found is None:
                return None
            if found[0] is not None:
                return found[0], found[1]
        try:
            sha, size = self._store.stream_sha256(key)
        except NotFound:
            return None
        self.bytes_read += size
        return sha, size

    def read(self, key: str) -> bytes | None:
        try:
            body = self._store.get_bytes(key)
        except NotFound:
            return None
        self.objects += 1
        self.bytes_read += len(body)
        return body

    # ---- one item each ----------------------------------------------------------------------------
    def recovery_point(self, item: VerifyItem) -> None:
        """From the catalog: is the manifest there and the one the catalog recorded; are its parts there?"""
        try:
            rp = self._v.catalog.get_recovery_point(item.ref)
        except NotFound:
            return  # deleted since it was listed
        if rp.status not in (RecoveryPointStatus.COMPLETED, RecoveryPointStatus.PARTIAL):
            return
        key = rp.manifest_key or VaultLayout.manifest(rp.vault_name, rp.recovery_point_id)
        body = self.read(key)
        if body is None:
            self.report(FindingKind.MISSING, key, "manifest of a catalogued recovery point is missing",
                        rp.recovery_point_id)
            return
        if rp.manifest_sha256 and sha256_hex(body) != rp.manifest_sha256:
            self.report(FindingKind.ALTERED, key, f"manifest hashes to {sha256_hex(body)[:16]}..., the catalog "
                        f"recorded {rp.manifest_sha256[:16]}...", rp.recovery_point_id)
            return
        try:
            manifest = Manifest.model_validate_json(body)
        except ValueError as error:
            self.report(FindingKind.ALTERED, key, f"manifest does not parse: {error}", rp.recovery_point_id)
            return
        for ref in manifest.parts:
            self.objects += 1
            if self._store.checksum_of(ref.key) is None:
                self.report(FindingKind.MISSING, ref.key, "manifest part is missing", rp.recovery_point_id)

    def manifest(self, item: VerifyItem) -> None:
        """From the vault's listing: is this recovery point known to the catalog?"""
        rp_id = _rp_of(item.ref)
        try:
            self._v.catalog.get_recovery_point(rp_id)
        except NotFound:
            self.report(FindingKind.ORPHANED, item.ref, "recovery point in the vault but not in the catalog "
                        f"(`coffer catalog rebuild --vault {item.vault}`)", rp_id)

    def part(self, item: VerifyItem) -> None:
        """From the vault's listing: does its manifest list it, is it intact, are its blobs there and intact?"""
        rp_id = _rp_of(item.ref)
        manifest_key = VaultLayout.manifest(item.vault, rp_id)
        manifest_body = self._store_bytes(manifest_key)
        body = self.read(item.ref)
        if body is None:
            return  # gone since it was listed: the recovery point's own item reports a missing part
        try:
            part = ManifestPart.model_validate_json(body)
        except ValueError as error:
            self.report(FindingKind.ALTERED, item.ref, f"part does not parse: {error}", rp_id)
            return
        if manifest_body is None:
            young = item.last_modified is not None and \
                self._v.clock.now() - datetime.fromisoformat(item.last_modified) < UNFINISHED_GRACE
            self.report(FindingKind.UNFINISHED if young else FindingKind.ORPHANED, item.ref,
                        "part without a manifest" + (" (its job may still be running)" if young else
                                                     ": left by a job that never completed"), rp_id)
        else:
            refs = {r.key: r for r in Manifest.model_validate_json(manifest_body).parts}
            ref = refs.get(item.ref)
            if ref is None:
                self.report(FindingKind.ORPHANED, item.ref, "part not listed by its recovery point's manifest", rp_id)
            elif sha256_hex(body) != ref.sha256:
                self.report(FindingKind.ALTERED, item.ref, f"part hashes to {sha256_hex(body)[:16]}..., its manifest "
                            f"says {ref.sha256[:16]}...", rp_id)
        for entry in part.entries:
            blob = VaultLayout.blob_of(item.vault, entry)
            self.referenced.add(blob)
            if blob in self.blobs_seen:
                continue
            self.blobs_seen.add(blob)
            if entry.composite:
                self.composite_blob(blob, entry, rp_id)
                continue
            try:
                found = self.sha_of(blob)
            except IntegrityError as error:
                self.report(FindingKind.ALTERED, blob, f"blob of {entry.key}: {error}", rp_id)
                continue
            if found is None:
                self.report(FindingKind.MISSING, blob, f"blob of {entry.key} is missing", rp_id)
            elif found[0] != entry.sha256:
                self.report(FindingKind.ALTERED, blob, f"blob of {entry.key} hashes to {found[0][:16]}...", rp_id)
            elif found[1] != entry.size:
                self.report(FindingKind.ALTERED, blob, f"blob of {entry.key} has {found[1]} bytes, "
                            f"the manifest says {entry.size}", rp_id)

    def composite_blob(self, blob: str, entry: ObjectEntry, rp_id: str) -> None:
        """A blob copied in parts: S3's composite SHA-256 (HeadObject, no bytes read) or, deep, the bytes re-read
        and hashed in the entry's part size, against the composite SHA-256 and part count the manifest records."""
        self.objects += 1
        try:
            if self.deep:
                composite, size = self._v.multipart.stream_composite(self._store.bucket, blob, entry.part_size or 1)
                self.bytes_read += size
                found: tuple[Composite | None, int] | None = (composite, size)
            else:
                found = self._v.multipart.composite_of(self._store.bucket, blob)
        except NotFound:
            found = None
        except IntegrityError as error:
            self.report(FindingKind.ALTERED, blob, f"blob of {entry.key}: {error}", rp_id)
            return
        if found is None:
            self.report(FindingKind.MISSING, blob, f"blob of {entry.key} is missing", rp_id)
        elif found[0] is None:
            self.report(FindingKind.ALTERED, blob, f"blob of {entry.key} has no composite SHA-256 (it was "
                        "rewritten)", rp_id)
        elif (found[0].sha256, found[0].parts) != (entry.sha256, entry.parts):
            self.report(FindingKind.ALTERED, blob, f"blob of {entry.key} hashes to {found[0].sha256[:16]}...-"
                        f"{found[0].parts}", rp_id)
        elif found[1] != entry.size:
            self.report(FindingKind.ALTERED, blob, f"blob of {entry.key} has {found[1]} bytes, the manifest says "
                        f"{entry.size}", rp_id)

    def _store_bytes(self, key: str) -> bytes | None:
        try:
            return self._store.get_bytes(key)
        except NotFound:
            return None

    def check(self, item: VerifyItem) -> None:
        try:
            {"recovery_point": self.recovery_point, "manifest": self.manifest, "part": self.part}[item.kind](item)
        except IntegrityError as error:  # a manifest or part whose bytes no longer match S3's stored checksum
            self.report(FindingKind.ALTERED, item.ref, str(error), _rp_of(item.ref) if item.kind != "recovery_point"
                        else item.ref)

    def tally(self, items: int) -> VerifyTally:
        problems = [f for f in self.findings if f.problem]
        kept = (problems + [f for f in self.findings if not f.problem])[:FINDINGS_KEPT]
        return VerifyTally(items=items, objects_checked=self.objects, bytes_read=self.bytes_read,
                           problems=len(problems), findings=tuple(kept))


class VaultVerifier:
    def __init__(self, catalog: Catalog, vault: VaultStore, work: WorkArea, multipart: MultipartCopies,
                 journals: ContinuousStore, vaults: Vaults, settings: Settings, clock: Clock) -> None:
        self.vaults = vaults
        self.vault_catalog: VaultRecords = vaults.catalog
        self.catalog = catalog
        self.store = vault
        self.multipart = multipart  # composite checksums of blobs copied in parts
        self._work = work
        self._journals = journals
        self._settings = settings
        self.clock = clock

    # ---- the items --------------------------------------------------------------------------------
    def _page(self, names: list[str], cursor: dict[str, Any]) -> tuple[list[VerifyItem], dict[str, Any] | None]:
        """One page of work items and the cursor after it (None: done). Catalog first, then the listing."""
        index = cursor["v"]
        if index >= len(names):
            return [], None
        vault = names[index]
        if cursor["phase"] == "catalog":
            points, last = self.vault_catalog.recovery_point_page(vault, cursor["next"], _PAGE)
            items = [VerifyItem(kind="recovery_point", vault=vault, ref=p.recovery_point_id) for p in points]
            return items, {"v": index, "phase": "catalog", "next": last} if last else \
                {"v": index, "phase": "vault", "next": None}
        objects, _, token = self.store.list_page(recovery_points_prefix(vault), cursor["next"], _PAGE)
        items = []
        for listed in objects:
            key, when = listed.key, listed.last_modified.isoformat()
            if key.endswith("/manifest.json"):
                items.append(VerifyItem(kind="manifest", vault=vault, ref=key, last_modified=when))
            elif "/parts/" in key:
                items.append(VerifyItem(kind="part", vault=vault, ref=key, last_modified=when))
        if token:
            return items, {"v": index, "phase": "vault", "next": token}
        return items, ({"v": index + 1, "phase": "catalog", "next": None} if index + 1 < len(names) else None)

    def all_items(self, names: list[str]) -> Iterator[VerifyItem]:
        cursor: dict[str, Any] | None = {"v": 0, "phase": "catalog", "next": None}
        while cursor is not None:
            items, cursor = self._page(names, cursor)
            yield from items

    def _names(self, requested: Iterable[str]) -> list[str]:
        names = sorted(set(requested))
        for name in names:
            self.vaults.get(name)  # NotFound names the vault
        return names or [v.name for v in self.vaults.all()]

    # ---- the workflow's steps ---------------------------------------------------------------------
    def list_items(self, step: ListVerifyItemsStep) -> ListVerifyItemsResult:
        """Write the next pages of work items as files of ITEMS_PER_FILE; the workflow loops until done."""
        names = self._names(step.vaults)
        if step.token is None and step.next_seq == 0:
            self.vault_catalog.put_verify_run(step.run_id, {"run_id": step.run_id, "vaults": names, "deep": step.deep,
                                                            "started_at": self.clock.now().isoformat()})
        cursor: dict[str, Any] | None = json.loads(step.token) if step.token else {"v": 0, "phase": "catalog",
                                                                                  "next": None}
        seq, pending = step.next_seq, []
        for _ in range(self._settings.pages_per_listing):
            if cursor is None:
                break
            items, cursor = self._page(names, cursor)
            pending.extend(items)
            while len(pending) >= ITEMS_PER_FILE:
                chunk, pending = pending[:ITEMS_PER_FILE], pending[ITEMS_PER_FILE:]
                self._work.write_json(f"{items_prefix(step.run_id)}{seq:08d}.json", {
                    "run_id": step.run_id, "deep": step.deep, "items": [i.model_dump(mode="json") for i in chunk]})
                seq += 1
        if pending:  # the rest, as a smaller file: the next call starts from the cursor
            self._work.write_json(f"{items_prefix(step.run_id)}{seq:08d}.json", {
                "run_id": step.run_id, "deep": step.deep, "items": [i.model_dump(mode="json") for i in pending]})
            seq += 1
        return ListVerifyItemsResult(run_id=step.run_id, vaults=names, deep=step.deep,
                                     token=json.dumps(cursor) if cursor else None, next_seq=seq,
                                     more=cursor is not None, items_prefix=items_prefix(step.run_id))

    def verify_batch(self, run_id: str, batch_key: str) -> VerifyBatchResult:
        document = self._work.read_json(batch_key)
        items = [VerifyItem.model_validate(i) for i in document["items"]]
        checker = _Checker(self, bool(document.get("deep")))
        for item in items:
            checker.check(item)
        tally = checker.tally(len(items))
        seq = _seq_of(batch_key)
        self.vault_catalog.put_verify_result(run_id, seq, tally.model_dump(mode="json"))
        return VerifyBatchResult(run_id=run_id, seq=seq, items=tally.items, objects_checked=tally.objects_checked,
                                 problems=tally.problems)

    def complete(self, run_id: str) -> VerifySummary:
        run = self.vault_catalog.get_verify_run(run_id) or {"vaults": [], "deep": False}
        total = VerifyTally()
        for result in self.vault_catalog.verify_results(run_id):
            total = total.plus(VerifyTally.model_validate(result))
        summary = VerifySummary(run_id=run_id, vaults=run["vaults"], deep=run["deep"], items=total.items,
                                objects_checked=total.objects_checked, bytes_read=total.bytes_read,
                                problems=total.problems, findings=list(total.findings))
        self.vault_catalog.put_verify_run(run_id, {**run, **summary.model_dump(mode="json"),
                                                   "completed_at": self.clock.now().isoformat()})
        if summary.problems:
            first = "; ".join(f"{f.kind} {f.key}: {f.detail}" for f in summary.findings if f.problem)[:800]
            raise VaultVerifyFailed(f"{summary.problems} problem(s) in vault(s) {', '.join(summary.vaults)}: {first}")
        return summary

    # ---- in one process (coffer vault verify) --------------------------------------------------------
    def run(self, vault_names: Iterable[str], deep: bool = False) -> tuple[VerifyTally, list[Finding]]:
        """Whole vaults at once, orphaned blobs included: (tally, every finding)."""
        names = self._names(vault_names)
        checker = _Checker(self, deep)
        items = 0
        for item in self.all_items(names):
            checker.check(item)
            items += 1
        for vault in names:
            journaled = self._journaled_blobs(vault)  # continuous backups' versions (services/continuous.py)
            for listed in self.store.keys(blobs_prefix(vault)):
                if listed.key not in checker.referenced and listed.key not in journaled:
                    checker.report(FindingKind.ORPHANED, listed.key, "blob referenced by no manifest part")
        tally = checker.tally(items)
        return tally, checker.findings

    def _journaled_blobs(self, vault: str) -> set[str]:
        """Blobs kept by continuous backups' change journals (no manifest part lists them)."""
        journals = self._journals
        return {VaultLayout.blob(vault, sha) for protection in journals.protections(vault)
                for sha in journals.journal_blobs(protection.recovery_point_id)}
