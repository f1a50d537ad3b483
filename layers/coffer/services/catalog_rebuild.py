"""Rebuild the catalog from the vault alone (DESIGN invariant 4), after the table or its items are lost - believing
only what is locked and recorded (invariant 6).

- the vault itself from its descriptor, `vaults/<name>/vault.json` (the Default vault needs none);
- its recovery points from their manifests' *versions*: a paginated, delimited ListObjectsV2 over
  `vaults/<name>/recovery-points/` gives one prefix per recovery point, ListObjectVersions of its manifest.json
  every version (and delete marker). A version is believed only when
  - it parses, and describes this recovery point of this vault;
  - it is Object-Locked (HeadObject of that version) in the vault's mode, or stricter, until at least the
    retain-until and delete date its recovery point claims;
  - where the vault holds an audit log, the chain's backup.complete / copy.complete record of that recovery point
    names it (same VersionId; a record without one: same SHA-256). A manifest written before the chain recorded
    its first creation is believed on its lock alone (LEGACY, information).
  The recovery point is rebuilt from the version the chain names (without a chain, the oldest believed one); a
  version over it that is not the same backup is TAMPERED, a recovery point nothing vouches for TAMPERED (the
  chain names a version that is not there or not locked) or UNTRUSTED (the chain records no such recovery point),
  a version that does not parse UNPARSEABLE - each reported and skipped, never fatal;
- the audit log's chain head from the last record that verifies; the chain is read at each record's first version.

Writes are conditional creates: a rebuild never overwrites what the catalog still has; it reports where the catalog
and the vault disagree instead. What it refuses it leaves in the vault, unowned: `coffer vault verify` flags it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from coffer.domain.audit import CREATION_ACTIONS, ChainHead, RecordedCreation
from coffer.domain.errors import AlreadyExists, ConcurrentUpdate, IntegrityError, NotFound
from coffer.domain.manifest import Manifest, sha256_hex
from coffer.domain.object_lock import LockMode
from coffer.domain.vaults import DEFAULT_VAULT, Vault, recovery_points_prefix
from coffer.domain.verify import Finding, FindingKind
from coffer.ports.catalog import Catalog
from coffer.ports.vault import ListedVersion, LockFacts, VaultStore
from coffer.services.audit_log import ChainRead, read_chain
from coffer.services.vault_admin import read_descriptor
from coffer.services.vaults import Vaults

#: fields of a recovery point a retried completion writes differently (the same backup otherwise)
_COMPLETION_FIELDS = {"completion_date"}


@dataclass
class RebuildReport:
    vault: str
    vault_restored: bool = False
    restored: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    audit_head: int | None = None
    #: what was refused, reported or noted: TAMPERED, UNTRUSTED, UNPARSEABLE, DELETE_MARKER, LEGACY
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.problem]

    @property
    def refused(self) -> bool:
        """Something was not believed (or the chain itself is in doubt): the CLI exits non-zero."""
        return bool(self.problems)


@dataclass(frozen=True)
class _Candidate:
    """One version of a manifest.json, read and judged."""

    listed: ListedVersion
    lock: LockFacts
    sha256: str
    manifest: Manifest
    #: why it is not believed (empty: believed)
    doubts: tuple[str, ...]
    legacy: bool = False


class CatalogRebuild:
    def __init__(self, catalog: Catalog, vault: VaultStore, vaults: Vaults) -> None:
        self._catalog = catalog
        self._vault = vault
        self._vaults = vaults
        self._chain: ChainRead | None = None

    def rebuild_vault(self, name: str) -> RebuildReport:
        report = RebuildReport(vault=name)
        self._restore_vault(name, report)
        vault = self._vaults.get(name)
        chain = self._read_chain()
        creations = chain.creations
        # manifests written from the first recorded creation on must be recorded; older ones predate the records
        since = min((r.at for r in chain.trusted if r.action in CREATION_ACTIONS), default=None)
        for key in chain.overwritten:
            report.findings.append(Finding(
                kind=FindingKind.TAMPERED, key=key, detail="an audit record holds more than one version (records are "
                "written once, create-only): its first version is believed", expected="1 version", found="more",
                command="coffer audit verify"))
        if chain.report.problems:
            report.findings.append(Finding(
                kind=FindingKind.TAMPERED, key="audit/", detail="the audit chain does not verify: only records up to "
                f"{chain.report.last_verified.seq} are believed ({'; '.join(chain.report.problems[:3])})",
                command="coffer audit verify"))
        prefix, token = recovery_points_prefix(name), None
        while True:
            _, points, token = self._vault.list_page(prefix, token, delimiter="/")
            for point_prefix in points:
                self._restore_point(point_prefix, vault, chain, creations, since, report)
            if token is None:
                break
        head = self._vaults.catalog.audit_head() or self._restore_head(chain)
        report.audit_head = head.seq if head else None
        return report

    def _restore_vault(self, name: str, report: RebuildReport) -> None:
        if self._vaults.catalog.get_vault(name) is not None:
            return
        found = read_descriptor(self._vault, name)
        if found is not None and not found[1]:
            try:
                self._vaults.catalog.put_vault(found[0].model_copy(update={"version": 0}))
                report.vault_restored = True
            except AlreadyExists:
                pass
        elif name == DEFAULT_VAULT:
            self._vaults.get(name)
            report.vault_restored = True
        else:
            raise NotFound(f"vault {name}: no descriptor vaults/{name}/vault.json in the vault"
                           + (" (it was deleted)" if found else ""))

    def _restore_head(self, chain: ChainRead) -> ChainHead | None:
        """The chain head back at the last record that verifies, read at each record's first version (a version
        written over a record neither breaks nor extends the chain)."""
        verified = chain.report.last_verified
        if verified.seq == 0:
            return None
        self._vaults.catalog.restore_audit_head(verified)
        return self._vaults.catalog.audit_head() or verified

    def _read_chain(self) -> ChainRead:
        if self._chain is None:
            self._chain = read_chain(self._vault, self._vaults.catalog.audit_head())
        return self._chain

    # ---- one recovery point ------------------------------------------------------------------------------
    def _restore_point(self, point_prefix: str, vault: Vault, chain: ChainRead,
                       creations: dict[tuple[str, str], RecordedCreation], since: datetime | None,
                       report: RebuildReport) -> None:
        key = point_prefix + "manifest.json"
        rp_id = point_prefix.rstrip("/").rsplit("/", 1)[-1]
        versions = self._vault.history(key)
        if not any(not v.delete_marker for v in versions):
            report.skipped.append(f"{rp_id}: no manifest (a job that never completed)")
            return
        recorded = creations.get((vault.name, rp_id))
        # oldest first: the first believed version is the backup's own; a later one a retry's, or someone's
        candidates = [c for c in (self._judge(v, key, rp_id, vault, chain, recorded, since, report)
                                  for v in reversed(versions) if not v.delete_marker) if c is not None]
        believed = [c for c in candidates if not c.doubts]
        chosen = self._choose(believed, recorded)
        look = f"coffer vault verify {vault.name}"
        if chosen is None:
            self._refuse(rp_id, key, candidates, recorded, chain, look, report)
            return
        for other in candidates:
            # a retried completion's other version is the same backup (but for when it completed): harmless
            if other is not chosen and not _same_backup(other.manifest, chosen.manifest):
                report.findings.append(Finding(
                    kind=FindingKind.TAMPERED, key=key, recovery_point_id=rp_id,
                    detail=f"version {other.listed.version_id} beside the believed version "
                           f"{chosen.listed.version_id} is refused: "
                           f"{'; '.join(other.doubts) or 'it is not the same backup'}",
                    expected=f"version {chosen.listed.version_id} (SHA-256 {chosen.sha256[:16]}...)",
                    found=f"version {other.listed.version_id} (SHA-256 {other.sha256[:16]}...)", command=look))
        if versions[0].delete_marker:
            report.findings.append(Finding(
                kind=FindingKind.DELETE_MARKER, key=key, recovery_point_id=rp_id,
                detail="a delete marker hides the manifest; rebuilt from its believed version",
                expected=f"version {chosen.listed.version_id} on top", found="a delete marker", command=look))
        if chosen.legacy:
            report.findings.append(Finding(
                kind=FindingKind.LEGACY, key=key, recovery_point_id=rp_id,
                detail="written before the audit chain recorded backups: believed on its Object Lock alone"))
        self._write(chosen, report)

    def _judge(self, listed: ListedVersion, key: str, rp_id: str, vault: Vault, chain: ChainRead,
               recorded: RecordedCreation | None, since: datetime | None, report: RebuildReport) -> _Candidate | None:
        """Read one manifest version and say what there is to doubt about it (None: it does not parse)."""
        try:
            body = self._vault.get_bytes_version(key, listed.version_id)
            manifest = Manifest.model_validate_json(body)
        except (ValueError, NotFound, IntegrityError) as error:
            report.findings.append(Finding(
                kind=FindingKind.UNPARSEABLE, key=key, recovery_point_id=rp_id,
                detail=f"version {listed.version_id} is not a readable manifest: "
                       f"{(str(error).splitlines() or [type(error).__name__])[0][:200]}",
                expected="a coffer.manifest/1 document", found="unreadable bytes",
                command=f"aws s3api get-object --key {key} --version-id {listed.version_id} ..."))
            return None
        lock = self._vault.lock_of_version(key, listed.version_id)
        sha = sha256_hex(body)
        rp = manifest.recovery_point
        doubts: list[str] = []
        if rp.recovery_point_id != rp_id or rp.vault_name != vault.name:
            doubts.append(f"it describes {rp.vault_name}/{rp.recovery_point_id}")
        # the mode it was written in, where the chain says (a vault locked COMPLIANCE later keeps its older
        # GOVERNANCE recovery points GOVERNANCE); else the vault's mode now
        said = recorded.mode_named(listed.version_id, sha) if recorded is not None else None
        mode = LockMode(said) if isinstance(said, str) else vault.object_lock_mode(self._vaults.stack_mode)
        doubts += _lock_doubts(lock, mode, max(d for d in (rp.retain_until, rp.delete_at) if d is not None))
        legacy = False
        if chain.exists:
            if recorded is not None:
                if said is False:
                    doubts.append(f"the audit chain's record {recorded.first_seq} names {recorded.describe()}, "
                                  "not this one")
            # (S3's LastModified is whole seconds: a version of the same second as the first record is no older)
            elif since is None or listed.last_modified < since.replace(microsecond=0):
                legacy = True
            else:
                doubts.append("the audit chain records no backup or copy that wrote it")
        return _Candidate(listed, lock, sha, manifest, tuple(doubts), legacy)

    @staticmethod
    def _choose(believed: list[_Candidate], recorded: RecordedCreation | None) -> _Candidate | None:
        if not believed:
            return None
        if recorded is not None:  # the version the chain names (its last record: a retried completion's)
            named = [c for c in believed if recorded.names(c.listed.version_id, c.sha256)]
            return named[-1] if named else None
        return believed[0]  # the oldest: a later one is a retry of the same backup, or someone's

    @staticmethod
    def _refuse(rp_id: str, key: str, candidates: list[_Candidate], recorded: RecordedCreation | None,
                chain: ChainRead, look: str, report: RebuildReport) -> None:
        report.skipped.append(f"{rp_id}: " + ("no readable manifest" if not candidates else "refused"))
        if not candidates:
            return  # every version was unparseable: reported as such
        doubts = "; ".join(f"version {c.listed.version_id}: {', '.join(c.doubts)}" for c in candidates)
        if recorded is not None:
            kind, detail = FindingKind.TAMPERED, ("no version of its manifest is the one the audit chain recorded, "
                                                  "locked as it claims")
            expected = f"{recorded.describe()} (audit record {recorded.first_seq})"
        else:
            kind, detail = FindingKind.UNTRUSTED, ("the audit chain never recorded it" if chain.exists else
                                                   "its manifest is not locked as its recovery point claims")
            expected = "a backup or copy the audit chain records" if chain.exists else "an Object-Locked manifest"
        report.findings.append(Finding(kind=kind, key=key, recovery_point_id=rp_id,
                                       detail=f"{detail}: skipped ({doubts})"[:1000], expected=expected,
                                       found=f"{len(candidates)} version(s)", command=look))

    def _write(self, chosen: _Candidate, report: RebuildReport) -> None:
        rp = chosen.manifest.recovery_point
        update: dict[str, Any] = {"manifest_sha256": chosen.sha256, "manifest_version_id": chosen.listed.version_id,
                                  "version": 0}
        rebuilt = rp.model_copy(update=update)
        try:
            self._catalog.put_recovery_point(rebuilt)
            report.restored.append(rp.recovery_point_id)
        except ConcurrentUpdate:
            existing = self._catalog.get_recovery_point(rp.recovery_point_id)
            same = existing.manifest_sha256 == rebuilt.manifest_sha256
            (report.present if same else report.differing).append(rp.recovery_point_id)


def _lock_doubts(lock: LockFacts, mode: LockMode, claimed: datetime) -> list[str]:
    """What keeps a manifest version from being believed on its lock: not locked, in a weaker mode than the vault's,
    or for less time than its recovery point claims (someone's PutObject gets the bucket's default retention)."""
    if not lock[0]:
        return ["the version is gone"]
    if lock.mode is None or lock[1] is None:
        return ["it is not Object-Locked"]
    doubts = []
    if mode is LockMode.COMPLIANCE and lock.mode is not LockMode.COMPLIANCE:
        doubts.append(f"it is locked in {lock.mode.value}, the vault locks in {mode.value}")
    if lock[1] < claimed.replace(microsecond=0):  # S3 keeps a retain-until date to the second
        doubts.append(f"it is locked until {lock[1].isoformat()}, its recovery point claims {claimed.isoformat()}")
    return doubts


def _same_backup(a: Manifest, b: Manifest) -> bool:
    """Two manifest versions of one backup (a retried completion): the same recovery point but for when it
    completed, the same parts."""
    def facts(m: Manifest) -> tuple[dict[str, Any], tuple[Any, ...]]:
        parts = tuple(p.model_dump(mode="json", exclude={"version_id"}) for p in m.parts)
        return m.recovery_point.model_dump(mode="json", exclude=_COMPLETION_FIELDS), parts

    return facts(a) == facts(b)
