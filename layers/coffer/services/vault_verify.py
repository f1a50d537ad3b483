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

from coffer.domain.audit import AUDIT_PREFIX, ChainHead, audit_key, parse_stored, record_problems, seq_of_key
from coffer.domain.clock import Clock
from coffer.domain.errors import IntegrityError, NotFound, VaultVerifyFailed
from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry, VaultLayout, sha256_hex
from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.vaults import blobs_prefix, recovery_points_prefix
from coffer.domain.verify import (
    BUCKET_CHECKS_SEQ,
    LOCK_DATE_SLACK,
    UNFINISHED_GRACE,
    Finding,
    FindingKind,
    ListVerifyItemsResult,
    ListVerifyItemsStep,
    VerifyBatchResult,
    VerifyItem,
    VerifySummary,
    VerifyTally,
    kept_findings,
    pinned_blob_version,
    pinned_manifest_version,
    pinned_part_version,
)
from coffer.ports.catalog import Catalog
from coffer.ports.continuous_records import ContinuousStore
from coffer.ports.multipart import Composite, MultipartCopies
from coffer.ports.vault import VaultStore
from coffer.ports.vault_inspection import VaultInspection, VersionState
from coffer.ports.vault_records import VaultRecords
from coffer.ports.work_area import WorkArea
from coffer.services.alerts import Alerts
from coffer.services.bucket_checks import BucketChecks
from coffer.services.vaults import Vaults
from coffer.settings import Settings

#: Work items per file, i.e. per Distributed Map child. A part item checks up to BatchSize blobs.
ITEMS_PER_FILE = 5
_PAGE = 1000
#: audit records per audit item: a batch file of ITEMS_PER_FILE items reads at most 5 x 50 records (+ 1 each)
AUDIT_RANGE = 50


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
        self._inspect = verifier.inspection
        self.deep = deep
        self.findings: list[Finding] = []
        self.objects = 0
        self.bytes_read = 0
        self.blobs_seen: set[str] = set()
        self.referenced: set[str] = set()
        #: per batch: recovery points read from the catalog (None: not there), and whether any legal hold covers one
        self.points: dict[str, RecoveryPoint | None] = {}
        self.rp_holds: dict[str, bool] = {}
        #: key -> the VersionId of its current version, as the last HeadObject saw it
        self._current_id: dict[str, str | None] = {}
        #: keys whose current version is a delete marker (ListObjectsV2 leaves them out)
        self._hidden: set[str] = set()
        #: audit records read by this batch: seq -> stored hash (None: missing or altered), and bodies not yet checked
        self._audit_hashes: dict[int, str | None] = {}
        self._audit_bodies: dict[int, bytes] = {}

    def report(self, kind: FindingKind, key: str, detail: str, rp: str | None = None, *, expected: str | None = None,
               found: str | None = None, command: str | None = None) -> None:
        self.findings.append(Finding(kind=kind, key=key, detail=detail, recovery_point_id=rp, expected=expected,
                                     found=found, command=command))

    def rehash(self, key: str, version_id: str | None) -> tuple[str, int] | None:
        """(sha256, size) of the version's bytes re-read and hashed (streamed): the deep scrub, and a version S3 stored
        no checksum for. IntegrityError when the bytes read do not match S3's own stored checksum."""
        try:
            sha, size = self._store.stream_sha256(key, version_id=version_id)
        except NotFound:
            return None
        self.bytes_read += size
        return sha, size

    # ---- pinned versions: the one a manifest (or the catalog) names, and what sits on top of it -------------
    def pinned(self, key: str, sha256: str | None, version_id: str | None, rp: RecoveryPoint | None,
               what: str) -> VersionState | None:
        """The pinned version of `key`, every finding about it reported: MISSING, ALTERED (no version has the
        recorded bytes), NEWER_VERSION / DELETE_MARKER (something on top of it), UNLOCKED, HOLD_OFF /
        HOLD_UNRECORDED. One HeadObject when the current version is the pinned one (the usual case)."""
        rp_id = rp.recovery_point_id if rp else None
        self.objects += 1
        current = self._inspect.head(key)
        if current is None:
            self.report(FindingKind.MISSING, key, f"{what} is missing", rp_id, expected=version_id)
            return None
        self._current_id[key] = current.version_id
        if current.delete_marker:
            self._hidden.add(key)
        found: VersionState | None = current
        if not self._is_pinned(current, sha256, version_id):
            found = self._find_pinned(key, sha256, version_id)
            if found is None:
                kind = FindingKind.MISSING if current.delete_marker or version_id else FindingKind.ALTERED
                self.report(kind, key, f"{what}: no version of it has the bytes recorded for it"
                            if kind is FindingKind.ALTERED else f"{what}: its pinned version is gone", rp_id,
                            expected=version_id or sha256, found=current.version_id)
                if current.delete_marker:
                    self.report(FindingKind.DELETE_MARKER, key, f"a delete marker hides {what}", rp_id,
                                found=current.version_id)
                return None
            if current.delete_marker:
                self.report(FindingKind.DELETE_MARKER, key, f"a delete marker hides {what} (its pinned version "
                            f"{found.version_id} is still there and is what Coffer reads)", rp_id,
                            expected=found.version_id, found=current.version_id)
            elif current.checksum is None or current.checksum != found.checksum:  # unknown bytes count as other
                self.report(FindingKind.NEWER_VERSION, key, f"a version with other bytes was written over {what} "
                            f"(its pinned version {found.version_id} is still there and is what Coffer reads)", rp_id,
                            expected=found.version_id, found=current.version_id)
        if found is not None:
            self.lock_and_hold(found, rp, what)
        return found

    @staticmethod
    def _is_pinned(state: VersionState, sha256: str | None, version_id: str | None) -> bool:
        if state.delete_marker:
            return False
        if version_id is not None:
            return state.version_id == version_id
        # written before pinning (UNPINNED): the newest version with the recorded bytes stands in for the pinned one
        return sha256 is None or state.sha256 is None or state.sha256 == sha256

    def _find_pinned(self, key: str, sha256: str | None, version_id: str | None) -> VersionState | None:
        """The pinned version under something newer: by its id, or (no id yet) the newest with the recorded bytes.
        Only reached when the current version is not the pinned one: a HeadObject (and, unpinned, ListObjectVersions
        and a HeadObject per version until the recorded bytes are found)."""
        if version_id is not None:
            return self._inspect.head(key, version_id)
        for listed in self._store.history(key):
            if listed.delete_marker:
                continue
            state = self._inspect.head(key, listed.version_id)
            if state is not None and (sha256 is None or state.sha256 == sha256):
                return state
        return None

    def lock_and_hold(self, state: VersionState, rp: RecoveryPoint | None, what: str) -> None:
        """UNLOCKED: not Object-Locked in its recovery point's mode until its retain-until; HOLD_OFF / HOLD_UNRECORDED:
        S3's legal hold of the version against the catalog's legal holds."""
        if rp is None:
            return
        lock, rp_id = state.lock, rp.recovery_point_id
        if rp.retain_until > self._v.clock.now():
            expected = f"{self._v.vaults.stack_mode.value} or stricter until {rp.retain_until.isoformat()}"
            short = lock.retain_until is None or lock.retain_until < rp.retain_until - LOCK_DATE_SLACK
            weak = self._v.vaults.stack_mode is LockMode.COMPLIANCE and lock.mode is not LockMode.COMPLIANCE
            if lock.mode is None or short or weak:
                self.report(FindingKind.UNLOCKED, state.key, f"{what} (version {state.version_id}) is not locked as "
                            "its recovery point says", rp_id, expected=expected,
                            found=f"{lock.mode.value if lock.mode else 'no retention'} until "
                                  f"{lock.retain_until.isoformat() if lock.retain_until else '-'}")
        if rp_id not in self.rp_holds:
            self.rp_holds[rp_id] = bool(self._v.vault_catalog.holds_on(rp_id))
        if not (lock.legal_hold or self.rp_holds[rp_id]) or state.version_id is None:
            return  # no hold in S3 and none in the catalog on its recovery point: nothing to compare
        holders = self._v.vault_catalog.object_holders(state.key, state.version_id)
        if holders and not lock.legal_hold:
            self.report(FindingKind.HOLD_OFF, state.key, f"legal hold(s) {', '.join(holders)} cover {what} (version "
                        f"{state.version_id}); S3 has its legal hold OFF", rp_id, expected="ON", found="OFF",
                        command=f"coffer legalhold get {holders[0]}")
        elif lock.legal_hold and not holders:
            self.report(FindingKind.HOLD_UNRECORDED, state.key, f"S3 has a legal hold ON on {what} (version "
                        f"{state.version_id}) that no legal hold in the catalog covers", rp_id, expected="OFF",
                        found="ON")

    def pinned_bytes(self, state: VersionState) -> bytes | None:
        """The version's bytes (IntegrityError when they do not match S3's stored checksum: `check` reports it)."""
        try:
            body = self._store.get_bytes_version(state.key, state.version_id) if state.version_id else \
                self._store.get_bytes(state.key)
        except NotFound:
            return None
        self.bytes_read += len(body)
        return body

    def quiet_pinned(self, key: str, sha256: str | None, version_id: str | None) -> VersionState | None:
        """The pinned version without reporting (the recovery point's own item reports on its manifest)."""
        current = self._inspect.head(key)
        if current is None:
            return None
        return current if self._is_pinned(current, sha256, version_id) else self._find_pinned(key, sha256, version_id)

    def recovery_point_of(self, rp_id: str) -> RecoveryPoint | None:
        if rp_id not in self.points:
            try:
                self.points[rp_id] = self._v.catalog.get_recovery_point(rp_id)
            except NotFound:
                self.points[rp_id] = None
        return self.points[rp_id]

    # ---- one item each ----------------------------------------------------------------------------
    def recovery_point(self, item: VerifyItem) -> None:
        """From the catalog: is the pinned manifest there, intact, alone on top and locked; and its parts?"""
        rp = self.recovery_point_of(item.ref)
        if rp is None:
            return  # deleted since it was listed
        if rp.status not in (RecoveryPointStatus.COMPLETED, RecoveryPointStatus.PARTIAL):
            return
        key = rp.manifest_key or VaultLayout.manifest(rp.vault_name, rp.recovery_point_id)
        if pinned_manifest_version(rp) is None:
            self.report(FindingKind.UNPINNED, key, "written before versions were pinned: its objects are checked at "
                        "the newest version with the recorded bytes", rp.recovery_point_id)
        state = self.pinned(key, rp.manifest_sha256, pinned_manifest_version(rp), rp,
                            "the manifest of a catalogued recovery point")
        if state is None:
            return
        body = self.pinned_bytes(state)
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
            part_state = self.pinned(ref.key, ref.sha256, pinned_part_version(ref), rp, "a manifest part")
            if part_state is not None and ref.key in self._hidden:
                # a delete marker keeps the part out of the vault's listing, so no part item checks its blobs: here
                part_body = self.pinned_bytes(part_state)
                if part_body is not None:
                    self.blobs(ManifestPart.model_validate_json(part_body), rp.vault_name, rp.recovery_point_id, rp)

    def prefix(self, item: VerifyItem) -> None:
        """From the vault's listing: does a catalogued recovery point of this vault own the prefix?"""
        rp_id = _rp_of(item.ref)
        rp = self.recovery_point_of(rp_id)
        if rp is None or rp.vault_name != item.vault:
            owner = "" if rp is None else f" (recovery point {rp_id} is catalogued in vault {rp.vault_name})"
            self.report(FindingKind.UNOWNED, item.ref, "a recovery point prefix no catalogued recovery point of the "
                        f"vault owns{owner}: planted, or the catalog was lost (then `coffer catalog rebuild --vault "
                        f"{item.vault}`)", rp_id)

    def manifest(self, item: VerifyItem) -> None:
        """An item of a run listed before prefix items: the same question."""
        self.prefix(item)

    def part(self, item: VerifyItem) -> None:
        """From the vault's listing: does its manifest list it, is it intact, are its blobs there, intact, alone on
        top and locked as their recovery point says?"""
        rp_id = _rp_of(item.ref)
        rp = self.recovery_point_of(rp_id)
        manifest_key = (rp.manifest_key if rp else None) or VaultLayout.manifest(item.vault, rp_id)
        manifest_state = self.quiet_pinned(manifest_key, rp.manifest_sha256 if rp else None,
                                           pinned_manifest_version(rp) if rp else None)
        manifest_body = self.pinned_bytes(manifest_state) if manifest_state else None
        manifest: Manifest | None = None
        if manifest_body is not None:
            try:
                manifest = Manifest.model_validate_json(manifest_body)
            except ValueError:
                manifest = None  # the recovery point's own item reports it
        refs = {r.key: r for r in manifest.parts} if manifest else {}
        ref = refs.get(item.ref)
        part_state = self.quiet_pinned(item.ref, ref.sha256 if ref else None,
                                       pinned_part_version(ref) if ref else None)
        body = self.pinned_bytes(part_state) if part_state else None
        if body is None:
            return  # gone since it was listed: the recovery point's own item reports a missing part
        self.objects += 1
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
        elif ref is None:
            self.report(FindingKind.ORPHANED, item.ref, "part not listed by its recovery point's manifest", rp_id)
        elif sha256_hex(body) != ref.sha256:
            self.report(FindingKind.ALTERED, item.ref, f"part hashes to {sha256_hex(body)[:16]}..., its manifest "
                        f"says {ref.sha256[:16]}...", rp_id)
        held = rp if rp is not None and rp.status in (RecoveryPointStatus.COMPLETED, RecoveryPointStatus.PARTIAL) \
            else None
        self.blobs(part, item.vault, rp_id, held)

    def blobs(self, part: ManifestPart, vault: str, rp_id: str, held: RecoveryPoint | None) -> None:
        """A part's blobs: there, intact, alone on top, locked and held as their recovery point says."""
        for entry in part.entries:
            blob = VaultLayout.blob_of(vault, entry)
            self.referenced.add(blob)
            if blob in self.blobs_seen:
                continue
            self.blobs_seen.add(blob)
            what = f"the blob of {entry.key}"
            if entry.composite:  # S3's composite checksum is not a full-object one; the composite check reads the
                # current version: where it is the pinned one (pinned), or to tell the pinned one (not pinned)
                version = pinned_blob_version(entry)
                if version is None:
                    if self.composite_blob(blob, entry, rp_id):
                        self.objects -= 1  # one object, two calls
                        self.pinned(blob, None, None, held, what)
                else:
                    state = self.pinned(blob, None, version, held, what)
                    if state is not None and state.version_id == self._current_id.get(blob):
                        self.objects -= 1
                        self.composite_blob(blob, entry, rp_id)
                continue
            state = self.pinned(blob, entry.sha256, pinned_blob_version(entry), held, what)
            if state is None:
                continue  # MISSING or ALTERED reported
            if not self.deep and state.sha256 is not None:
                found: tuple[str, int] | None = (state.sha256, state.size)
            else:  # deep, or no checksum stored: the pinned version's bytes re-read and hashed
                try:
                    found = self.rehash(blob, state.version_id)
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

    def composite_blob(self, blob: str, entry: ObjectEntry, rp_id: str) -> bool:
        """A blob copied in parts: S3's composite SHA-256 (HeadObject, no bytes read) or, deep, the bytes re-read
        and hashed in the entry's part size, against the composite SHA-256 and part count the manifest records.
        True when the current version is the one the manifest records (its lock and hold are then checked)."""
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
            return False
        if found is None:
            self.report(FindingKind.MISSING, blob, f"blob of {entry.key} is missing", rp_id)
            return False
        if found[0] is None:
            self.report(FindingKind.ALTERED, blob, f"blob of {entry.key} has no composite SHA-256 (it was "
                        "rewritten)", rp_id)
            return False
        if (found[0].sha256, found[0].parts) != (entry.sha256, entry.parts):
            self.report(FindingKind.ALTERED, blob, f"blob of {entry.key} hashes to {found[0].sha256[:16]}...-"
                        f"{found[0].parts}", rp_id)
        elif found[1] != entry.size:
            self.report(FindingKind.ALTERED, blob, f"blob of {entry.key} has {found[1]} bytes, the manifest says "
                        f"{entry.size}", rp_id)
        else:
            return True
        return False

    def audit(self, item: VerifyItem) -> None:
        """A range of the audit chain: each record against its hash and its predecessor's (domain/audit.py)."""
        first, last = seq_of_key(item.ref), seq_of_key(item.last or item.ref)
        if first is None or last is None:
            self.report(FindingKind.AUDIT_CHAIN, item.ref, "not an audit record key (audit/<12 digits>.json)",
                        command="coffer audit verify")
            return
        previous = self._audit_hash(first - 1) if first > 1 else None
        for seq in range(first, last + 1):
            stored = self._audit_hash(seq)
            if stored is not None:
                body = self._audit_bodies.pop(seq)
                problems, _ = record_problems(audit_key(seq), body, previous)
                for problem in problems:
                    self.report(FindingKind.AUDIT_CHAIN, audit_key(seq), problem, command="coffer audit verify")
            previous = stored

    def _audit_hash(self, seq: int) -> str | None:
        """The stored hash of record `seq` if it is there and its content matches it; a record missing or altered is
        reported (once) and gives None."""
        if seq in self._audit_hashes:
            return self._audit_hashes[seq]
        key, stored = audit_key(seq), None
        try:
            body = self._store.get_bytes(key)
            self.objects += 1
            self.bytes_read += len(body)
        except NotFound:
            self.report(FindingKind.AUDIT_CHAIN, key, f"record {seq} missing: removed or hidden from the vault",
                        command="coffer audit verify")
        except IntegrityError as error:
            self.report(FindingKind.AUDIT_CHAIN, key, f"record {seq} altered: {error}", command="coffer audit verify")
        else:
            problems, stored = record_problems(key, body, None)
            if stored is None:
                for problem in problems:
                    self.report(FindingKind.AUDIT_CHAIN, key, problem, command="coffer audit verify")
            else:
                self._audit_bodies[seq] = body
        self._audit_hashes[seq] = stored
        return stored

    def check(self, item: VerifyItem) -> None:
        if item.kind == "audit":
            self.audit(item)
            return
        try:
            {"recovery_point": self.recovery_point, "prefix": self.prefix, "manifest": self.manifest,
             "part": self.part}[item.kind](item)
        except IntegrityError as error:  # a manifest or part whose bytes no longer match S3's stored checksum
            self.report(FindingKind.ALTERED, item.ref, str(error), _rp_of(item.ref) if item.kind != "recovery_point"
                        else item.ref)

    def tally(self, items: int) -> VerifyTally:
        return _tally(self.findings, items, self.objects, self.bytes_read)


def _tally(findings: list[Finding], items: int, objects: int = 0, bytes_read: int = 0) -> VerifyTally:
    problems = [f for f in findings if f.problem]
    return VerifyTally(items=items, objects_checked=objects, bytes_read=bytes_read, problems=len(problems),
                       audit_problems=sum(f.kind is FindingKind.AUDIT_CHAIN for f in problems),
                       findings=kept_findings(findings))


class VaultVerifier:
    def __init__(self, catalog: Catalog, vault: VaultStore, work: WorkArea, multipart: MultipartCopies,
                 journals: ContinuousStore, vaults: Vaults, settings: Settings, clock: Clock,
                 inspection: VaultInspection, rules: BucketChecks, alerts: Alerts | None = None) -> None:
        self.vaults = vaults
        self.inspection = inspection  # versions, locks and holds of pinned objects
        self.rules = rules  # the bucket-wide checks, once per run
        self.vault_catalog: VaultRecords = vaults.catalog
        self.catalog = catalog
        self.store = vault
        self.multipart = multipart  # composite checksums of blobs copied in parts
        self._work = work
        self._journals = journals
        self._settings = settings
        self.clock = clock
        #: a broken audit chain, counted (AuditChainBroken) and told to the operator when a run completes
        self._alerts = alerts

    # ---- the items --------------------------------------------------------------------------------
    def _page(self, names: list[str], cursor: dict[str, Any]) -> tuple[list[VerifyItem], dict[str, Any] | None]:
        """One page of work items and the cursor after it (None: done). Catalog first, then the listing."""
        index = cursor["v"]
        if cursor["phase"] == "audit" or index >= len(names):
            return self._audit_page(cursor)
        vault = names[index]
        if cursor["phase"] == "catalog":
            points, last = self.vault_catalog.recovery_point_page(vault, cursor["next"], _PAGE)
            items = [VerifyItem(kind="recovery_point", vault=vault, ref=p.recovery_point_id) for p in points]
            return items, {"v": index, "phase": "catalog", "next": last} if last else \
                {"v": index, "phase": "vault", "next": None}
        objects, _, token = self.store.list_page(recovery_points_prefix(vault), cursor["next"], _PAGE)
        items = []
        last_rp = cursor.get("rp")
        for listed in objects:
            key, when = listed.key, listed.last_modified.isoformat()
            rp_id = _rp_of(key)
            if rp_id != last_rp:  # the listing is in key order: one prefix item per recovery point prefix
                prefix = VaultLayout.recovery_point_prefix(vault, rp_id)
                items.append(VerifyItem(kind="prefix", vault=vault, ref=prefix, last_modified=when))
                last_rp = rp_id
            if "/parts/" in key:
                items.append(VerifyItem(kind="part", vault=vault, ref=key, last_modified=when))
        if token:
            return items, {"v": index, "phase": "vault", "next": token, "rp": last_rp}
        return items, ({"v": index + 1, "phase": "catalog", "next": None} if index + 1 < len(names) else
                       {"v": index + 1, "phase": "audit", "next": None})

    def _audit_page(self, cursor: dict[str, Any]) -> tuple[list[VerifyItem], dict[str, Any] | None]:
        """After the vaults: the stack's audit chain, as ranges of AUDIT_RANGE consecutive records (one listing page
        of keys at a time; a record missing inside a range, or just before one, is found by its batch)."""
        objects, _, token = self.store.list_page(AUDIT_PREFIX, cursor["next"], _PAGE)
        keys = [o.key for o in objects]
        items = [VerifyItem(kind="audit", vault="", ref=chunk[0], last=chunk[-1])
                 for chunk in (keys[n:n + AUDIT_RANGE] for n in range(0, len(keys), AUDIT_RANGE))]
        return items, ({**cursor, "phase": "audit", "next": token} if token else None)

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
            # the bucket-wide checks, once per run (a few calls per vault, none per object), as a result of its own
            findings = self.rules.check(names)
            self.vault_catalog.put_verify_result(step.run_id, BUCKET_CHECKS_SEQ, _tally(findings, 0).model_dump(
                mode="json"))
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
        head, head_findings = self._head_findings()
        summary = VerifySummary(run_id=run_id, vaults=run["vaults"], deep=run["deep"], items=total.items,
                                objects_checked=total.objects_checked, bytes_read=total.bytes_read,
                                problems=total.problems + len(head_findings),
                                findings=head_findings + list(total.findings))
        self.vault_catalog.put_verify_run(run_id, {**run, **summary.model_dump(mode="json"),
                                                   "completed_at": self.clock.now().isoformat()})
        broken = total.audit_problems + len(head_findings)  # counted, not read from the findings kept
        if broken and self._alerts is not None:
            details = [f.detail for f in summary.findings if f.kind is FindingKind.AUDIT_CHAIN]
            self._alerts.audit_chain_broken(details, broken, head.seq if head else 0, self.clock.now())
        if summary.problems:
            first = "; ".join(f"{f.kind} {f.key}: {f.detail}" for f in summary.findings if f.problem)[:800]
            raise VaultVerifyFailed(f"{summary.problems} problem(s) in vault(s) {', '.join(summary.vaults)}: {first}")
        return summary

    def _head_findings(self) -> tuple[ChainHead | None, list[Finding]]:
        """The catalog's chain head, and it against the vault: its record must be there as the head says (a removed
        tail, which no batch can see, shows here). One GetItem and one GET."""
        head = self.vault_catalog.audit_head()
        if head is None or head.seq == 0:
            return head, []
        key = audit_key(head.seq)
        try:
            _, stored = parse_stored(self.store.get_bytes(key))
        except NotFound:
            detail = f"record {head.seq} missing: the chain head says {head.seq} records were written"
        except (IntegrityError, ValueError) as error:
            detail = f"record {head.seq} altered: {error}"
        else:
            if stored == head.hash:
                return head, []
            detail = f"record {head.seq} differs from the chain head's hash: altered or replaced"
        return head, [Finding(kind=FindingKind.AUDIT_CHAIN, key=key, detail=detail, command="coffer audit verify")]

    # ---- in one process (coffer vault verify) --------------------------------------------------------
    def run(self, vault_names: Iterable[str], deep: bool = False) -> tuple[VerifyTally, list[Finding]]:
        """Whole vaults at once, orphaned blobs included: (tally, every finding)."""
        names = self._names(vault_names)
        checker = _Checker(self, deep)
        checker.findings.extend(self.rules.check(names))
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
