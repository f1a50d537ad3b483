"""Vault verification (scrub): what is checked and what a check can find.

Every object is checked at the version its reference pins, and for what sits on top of it (a newer version, a
delete marker), its lock and its legal hold; the vault's own guards (key, policies, Object Lock, versioning) once per
run (services/bucket_checks.py).

Work items come from two sources so that nothing escapes: the catalog's recovery points of a vault (is
each one's manifest there and intact, are the manifest's parts?) and the vault's own listing of manifests
and parts (is each one known to the catalog and to its manifest, are the blobs a part references there
and intact?). Blobs no manifest references are orphans; finding them needs every part of the vault, so
`coffer vault verify` reports them and the scheduled workflow (bounded work per invocation) does not.

A finding is reported, never repaired: a scrub that "fixes" what it finds would hide the evidence.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from coffer.domain.manifest import ObjectEntry, PartRef
from coffer.domain.recovery_points import RecoveryPoint

#: A part younger than this without its manifest may belong to a job still running (complete window).
UNFINISHED_GRACE = timedelta(days=8)
#: At most this many findings are kept per work item file / in a run summary (the counts are exact).
FINDINGS_KEPT = 100
#: The seq under which a run records its bucket-wide checks (key, policies, Object Lock, versioning); no work item file
#: of a run gets near it (a file holds ITEMS_PER_FILE items).
BUCKET_CHECKS_SEQ = 99_999_999
#: S3 keeps a retain-until date to the second (moto to the millisecond); the catalog keeps microseconds
LOCK_DATE_SLACK = timedelta(seconds=1)


class FindingKind(StrEnum):
    """What verify (and rebuild) can find. Each is a problem except UNFINISHED, UNPINNED and LEGACY (information)."""

    #: a pinned object (manifest, part, blob) or a catalogued recovery point's manifest is not there at all
    MISSING = "MISSING"
    #: a pinned version's bytes differ from what the manifest or the catalog records
    ALTERED = "ALTERED"
    #: a blob no manifest references, a part its manifest does not list, or one left by a job that never completed
    ORPHANED = "ORPHANED"
    #: a version written over a pinned object with other bytes (someone with s3:PutObject on the vault); the pinned
    #: version is still there and still what Coffer reads. A newer version with the same bytes (a re-seal) is none.
    NEWER_VERSION = "NEWER_VERSION"
    #: a delete marker hides a pinned object (its pinned version is still there and still read; a hidden part's
    #: blobs are checked by its recovery point's item, the listing leaves the part out)
    DELETE_MARKER = "DELETE_MARKER"
    #: a prefix under vaults/ that no catalogued recovery point (recovery-points/<id>/) or vault (vaults/<name>/)
    #: owns, or a key of a vault outside its layout: a planted recovery point
    UNOWNED = "UNOWNED"
    #: a pinned version is not Object-Locked until its recovery point's retain-until (or, in a COMPLIANCE stack, not
    #: in COMPLIANCE mode); past its retain-until a recovery point is the sweeper's, not a finding
    UNLOCKED = "UNLOCKED"
    #: a legal hold in the catalog covers a pinned version; S3 has its legal hold OFF (someone with
    #: s3:PutObjectLegalHold switched it off)
    HOLD_OFF = "HOLD_OFF"
    #: S3 has a legal hold ON on a pinned version that no legal hold in the catalog covers
    HOLD_UNRECORDED = "HOLD_UNRECORDED"
    #: a verified vault's KMS key, or the stack's, is not Enabled (Disabled, PendingDeletion, gone)
    KEY_STATE = "KEY_STATE"
    #: the stack's vault key policy lacks, has changed, or adds a statement against what the template installs
    KEY_POLICY_DRIFT = "KEY_POLICY_DRIFT"
    #: the vault bucket's policy lacks, or has changed, a statement the template or a vault installs (or has more)
    BUCKET_POLICY_DRIFT = "BUCKET_POLICY_DRIFT"
    #: the bucket's Object Lock configuration (on, default mode and retention) is not the template's
    OBJECT_LOCK_CONFIG = "OBJECT_LOCK_CONFIG"
    #: the bucket's versioning is not Enabled
    VERSIONING = "VERSIONING"
    #: the stack's audit chain (audit/ in the vault bucket) is broken: a record altered, missing, or not chaining
    #: onto its predecessor, or the catalog's chain head names a record the vault does not hold as it was
    AUDIT_CHAIN = "AUDIT_CHAIN"
    # ---- rebuild (services/catalog_rebuild.py) ----
    #: a manifest version over a trusted one that is not locked as it claims, or content the audit chain did not
    #: record for it: refused, the trusted one (if any) is used
    TAMPERED = "TAMPERED"
    #: a recovery point no audit record (or, without an audit log, no Object Lock) vouches for: a made-up one
    UNTRUSTED = "UNTRUSTED"
    #: a manifest version that is not a manifest (does not parse): reported, the rebuild goes on
    UNPARSEABLE = "UNPARSEABLE"
    # ---- information ----
    #: not a problem: a part of a job that may still be running
    UNFINISHED = "UNFINISHED"
    #: not a problem: a recovery point written before versions were pinned, read at its newest version
    UNPINNED = "UNPINNED"
    #: not a problem: a recovery point written before the audit chain recorded backups, trusted on its lock alone
    LEGACY = "LEGACY"


_INFORMATION = (FindingKind.UNFINISHED, FindingKind.UNPINNED, FindingKind.LEGACY)


class Finding(BaseModel):
    """One finding: what (`kind`), which object or resource (`key`), what was expected and what was found, and the
    command that looks further."""

    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    key: str
    detail: str
    recovery_point_id: str | None = None
    expected: str | None = None
    found: str | None = None
    command: str | None = None

    @property
    def problem(self) -> bool:
        return self.kind not in _INFORMATION


class VerifyItem(BaseModel):
    """One unit of verification work."""

    model_config = ConfigDict(frozen=True)

    #: recovery_point: from the catalog; prefix (a recovery point's prefix), part: from the vault's listing;
    #: manifest: what runs listed before prefix items were made (checked as a prefix); audit: one record of the
    #: stack's audit chain (its key; vault "")
    kind: Literal["recovery_point", "prefix", "manifest", "part", "audit"]
    vault: str
    #: recovery point id (kind recovery_point) or object key / prefix (prefix, manifest, part)
    ref: str
    last_modified: str | None = None
    #: audit: the last record key of the range this item checks (ref is its first)
    last: str | None = None


class VerifyTally(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: int = 0
    objects_checked: int = 0
    bytes_read: int = 0
    problems: int = 0
    #: of the problems, those of the audit chain: counted apart, as the findings kept may not hold them all
    audit_problems: int = 0
    findings: tuple[Finding, ...] = Field(default_factory=tuple)

    def plus(self, other: VerifyTally) -> VerifyTally:
        return VerifyTally(items=self.items + other.items, objects_checked=self.objects_checked + other.objects_checked,
                           bytes_read=self.bytes_read + other.bytes_read, problems=self.problems + other.problems,
                           audit_problems=self.audit_problems + other.audit_problems,
                           findings=kept_findings([*self.findings, *other.findings]))


def kept_findings(findings: list[Finding]) -> tuple[Finding, ...]:
    """The findings a tally keeps: problems before information, at most FINDINGS_KEPT - so that many harmless
    findings (UNPINNED after an upgrade) cannot push a problem out of what a run reports."""
    return tuple(([f for f in findings if f.problem] + [f for f in findings if not f.problem])[:FINDINGS_KEPT])


# ---- the pinned versions ------------------------------------------------------------------------------
# A recovery point written before versions were pinned has None here: verify then takes the newest version whose
# bytes are the recorded ones as its pinned one (services/vault_verify.py `_Checker._is_pinned`) and says so once
# (UNPINNED): a newer version with other bytes, or a delete marker on top, is still found.
def pinned_manifest_version(rp: RecoveryPoint) -> str | None:
    """The VersionId of the recovery point's manifest that the catalog pinned (None: written before pinning)."""
    return rp.manifest_version_id


def pinned_part_version(ref: PartRef) -> str | None:
    """The VersionId of a manifest part that its manifest pinned (None: written before pinning)."""
    return ref.version_id


def pinned_blob_version(entry: ObjectEntry) -> str | None:
    """The VersionId of an entry's blob that its manifest part pinned (None: written before pinning)."""
    return entry.blob_version_id


# ---- the scheduled Verify workflow's payloads ------------------------------------------------------
class _Step(BaseModel):
    # Step Functions adds fields (errors, map results) to the state; a step reads only what it needs.
    model_config = ConfigDict(extra="ignore")


class ListVerifyItemsStep(_Step):
    run_id: str = Field(min_length=1)
    vaults: list[str] = Field(default_factory=list)
    deep: bool = False
    token: str | None = None
    next_seq: int = Field(default=0, ge=0)


class ListVerifyItemsResult(BaseModel):
    run_id: str
    vaults: list[str]
    deep: bool
    token: str | None
    next_seq: int
    more: bool
    items_prefix: str


class VerifyBatchStep(_Step):
    run_id: str = Field(min_length=1)
    batch_key: str = Field(min_length=1)


class VerifyBatchResult(BaseModel):
    run_id: str
    seq: int
    items: int
    objects_checked: int
    problems: int


class CompleteVerifyStep(_Step):
    run_id: str = Field(min_length=1)


class VerifySummary(BaseModel):
    run_id: str
    vaults: list[str]
    deep: bool
    items: int
    objects_checked: int
    bytes_read: int
    problems: int
    findings: list[Finding]
