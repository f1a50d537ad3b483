"""The tamper-evident audit log: every control-plane change as a hash-chained record.

Record n carries the SHA-256 of record n-1 (`prev_hash`; record 1 carries GENESIS) and is stored as
`{"record": {...}, "hash": sha256(canonical JSON of record)}` at `audit/<n, 12 digits>.json` in the vault
bucket, under Object Lock. The catalog keeps the chain head (seq, hash of the last record); an append
moves it with a conditional write, so concurrent appends are serialised.

A removed record leaves a gap in the sequence (or, at the tail, a head pointing past the last record);
an altered record no longer hashes to its stored hash, or no longer matches the next record's
prev_hash. verify_chain reports each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coffer.domain.manifest import sha256_hex

AUDIT_FORMAT = "coffer.audit/1"
GENESIS = "0" * 64
AUDIT_PREFIX = "audit/"
_KEY = re.compile(r"^audit/(\d{12})\.json$")


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: str = AUDIT_FORMAT
    seq: int = Field(ge=1)
    prev_hash: str
    at: datetime
    actor: str
    #: what changed: vault.create, vault.delete, vault.lock.put, vault.lock.delete, vault.policy.put,
    #: legalhold.create, legalhold.release, restore.start, recoverypoint.delete, governance.bypass, plan.*
    action: str
    target: str
    details: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None

    def canonical(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))

    def digest(self) -> str:
        return sha256_hex(self.canonical())


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str


EMPTY_HEAD = ChainHead(0, GENESIS)


def canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def audit_key(seq: int) -> str:
    return f"{AUDIT_PREFIX}{seq:012d}.json"


def seq_of_key(key: str) -> int | None:
    match = _KEY.match(key)
    return int(match.group(1)) if match else None


def next_record(head: ChainHead, at: datetime, actor: str, action: str, target: str,
                details: dict[str, Any], idempotency_key: str | None = None) -> AuditRecord:
    return AuditRecord(seq=head.seq + 1, prev_hash=head.hash, at=at, actor=actor, action=action, target=target,
                       details=details, idempotency_key=idempotency_key)


def stored_form(record: AuditRecord) -> bytes:
    return canonical_json({"record": record.model_dump(mode="json"), "hash": record.digest()})


def parse_stored(body: bytes) -> tuple[AuditRecord, str]:
    """(record, the hash stored with it). ValueError if the bytes are not a stored record at all."""
    try:
        document = json.loads(body)
        return AuditRecord.model_validate(document["record"]), str(document["hash"])
    except (ValueError, KeyError, TypeError, ValidationError) as error:
        raise ValueError(f"not an audit record: {error}") from None


@dataclass
class AuditReport:
    records: int = 0
    head: ChainHead | None = None
    last_verified: ChainHead = EMPTY_HEAD
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def record_problems(key: str, body: bytes, previous: str | None) -> tuple[list[str], str | None]:
    """One stored record checked against its own hash and its predecessor's stored hash (`previous`: None when the
    predecessor is missing or altered - the link is not checked, that record's own check reports it). (problems,
    this record's stored hash if its content matches it, else None.) What the Verify workflow's batches check,
    a few records each (verify_chain checks the whole chain in one go)."""
    seq = seq_of_key(key)
    if seq is None:
        return [f"{key}: not an audit record key (audit/<12 digits>.json)"], None
    try:
        record, stored_hash = parse_stored(body)
    except ValueError as error:
        return [f"record {seq} ({key}) altered: {error}"], None
    problems = []
    if record.seq != seq:
        problems.append(f"record {seq} ({key}) altered: it says it is record {record.seq}")
    actual = record.digest()
    if actual != stored_hash:
        problems.append(f"record {seq} ({key}) altered: its content hashes to {actual[:12]}..., stored hash "
                        f"{stored_hash[:12]}...")
        return problems, None
    if seq == 1:
        previous = EMPTY_HEAD.hash
    if previous is not None and record.prev_hash != previous:
        problems.append(f"record {seq} does not follow record {seq - 1}: chain broken (a record before it was "
                        "altered or replaced)")
    return problems, stored_hash


def verify_chain(stored: Iterable[tuple[str, bytes]], head: ChainHead | None) -> AuditReport:
    """Check every stored record (key, bytes), in key order, against its hash and its predecessor.

    `head` is the catalog's chain head (None when the catalog lost it): records past it that chain
    correctly are an append in flight (or one interrupted before it moved the head - the next append
    adopts it), not a problem.
    """
    report = AuditReport(head=head)
    expected = EMPTY_HEAD
    hashes: dict[int, str] = {}
    for key, body in stored:
        seq = seq_of_key(key)
        if seq is None:
            report.problems.append(f"{key}: not an audit record key (audit/<12 digits>.json)")
            continue
        report.records += 1
        try:
            record, stored_hash = parse_stored(body)
        except ValueError as error:
            report.problems.append(f"record {seq} ({key}) altered: {error}")
            expected = ChainHead(seq, "?")
            continue
        if seq != expected.seq + 1:
            gap = f"{expected.seq + 1}" if seq == expected.seq + 2 else f"{expected.seq + 1}..{seq - 1}"
            report.problems.append(f"record(s) {gap} missing: removed or hidden from the vault")
        if record.seq != seq:
            report.problems.append(f"record {seq} ({key}) altered: it says it is record {record.seq}")
        actual = record.digest()
        if actual != stored_hash:
            report.problems.append(f"record {seq} ({key}) altered: its content hashes to {actual[:12]}..., "
                                   f"stored hash {stored_hash[:12]}...")
        elif seq == expected.seq + 1 and expected.hash != "?" and record.prev_hash != expected.hash:
            report.problems.append(f"record {seq} does not follow record {expected.seq}: chain broken "
                                   "(a record before it was altered or replaced)")
        expected = ChainHead(seq, stored_hash if actual == stored_hash else "?")
        hashes[seq] = expected.hash
        if not report.problems:
            report.last_verified = expected
    if head is None:
        report.notes.append("the catalog has no chain head (lost table?): a removed tail cannot be detected; "
                            "`coffer catalog rebuild` restores the head from the last verified record")
    elif head.seq > expected.seq:
        report.problems.append(f"record(s) {expected.seq + 1}..{head.seq} missing: the chain head says "
                               f"{head.seq} records were written, the vault holds {expected.seq}")
    else:
        if head.seq < expected.seq:
            report.notes.append(f"record(s) {head.seq + 1}..{expected.seq} are past the chain head: an append "
                                "in flight, or one interrupted before it moved the head (the next append adopts it)")
        if head.seq and hashes.get(head.seq, head.hash) not in (head.hash, "?"):
            report.problems.append(f"record {head.seq} differs from the chain head's hash: altered or replaced")
    return report


# ---- the RecordAudit function's payloads -------------------------------------------------------------
class RecordAuditStep(BaseModel):
    """What a workflow passes to RecordAudit: the job whose start is audited (restores, for now)."""

    model_config = ConfigDict(extra="ignore")

    job_id: str = Field(min_length=1)


class RecordAuditResult(BaseModel):
    seq: int
    hash: str
    action: str
    target: str


# ---- what the chain says about recovery points (catalog rebuild believes a manifest it records) ---------------
#: the actions that create a recovery point: their details name its manifest (key, VersionId, SHA-256)
CREATION_ACTIONS = ("backup.complete", "copy.complete")


def creation_details(rp: Any, lock_mode: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a backup.complete / copy.complete record holds: the recovery point's manifest as written (key, VersionId,
    SHA-256, the Object Lock mode it was written in) and the dates it claims, so a rebuild can tell the manifest
    Coffer wrote from one written over it - and judge its lock by the mode of its day, not of a later vault lock.
    `rp`: a domain/recovery_points.RecoveryPoint (Any: this module stays below it)."""
    return {"vault": rp.vault_name, "lock_mode": lock_mode, "recovery_point_id": rp.recovery_point_id,
            "job_id": rp.job_id, "resource_arn": rp.resource_arn, "manifest_key": rp.manifest_key,
            "manifest_version_id": rp.manifest_version_id, "manifest_sha256": rp.manifest_sha256,
            "retain_until": rp.retain_until.isoformat(),
            "delete_at": rp.delete_at.isoformat() if rp.delete_at else None, **(extra or {})}


@dataclass
class RecordedCreation:
    """Every manifest version the chain records for one recovery point (a retried completion may record two)."""

    vault: str
    recovery_point_id: str
    first_seq: int
    at: datetime
    #: (VersionId or None, SHA-256, the Object Lock mode it was written in or None) per record, in chain order
    manifests: list[tuple[str | None, str, str | None]] = field(default_factory=list)

    def names(self, version_id: str, sha256: str) -> bool:
        """Whether a record names this manifest version: the same VersionId, or (a record without one) the same
        SHA-256. A record with a VersionId names that version only: another version with the same bytes is not it."""
        return self.mode_named(version_id, sha256) is not False

    def mode_named(self, version_id: str, sha256: str) -> str | bool | None:
        """The lock mode the record naming this version says it was written in (None: not said); False if no
        record names it."""
        for v, s, mode in self.manifests:
            if (version_id == v) if v else (sha256 == s):
                return mode
        return False

    def describe(self) -> str:
        return ", ".join(f"version {v or '?'} (SHA-256 {s[:16]}...)" for v, s, _ in self.manifests)


def recorded_creations(records: Iterable[AuditRecord]) -> dict[tuple[str, str], RecordedCreation]:
    """(vault, recovery point id) -> what the chain recorded creating it; records of other actions are ignored, and
    so is a creation record that names no manifest SHA-256 (it could vouch for nothing)."""
    found: dict[tuple[str, str], RecordedCreation] = {}
    for record in records:
        if record.action not in CREATION_ACTIONS:
            continue
        details = record.details
        vault, rp_id, sha = details.get("vault"), details.get("recovery_point_id"), details.get("manifest_sha256")
        if not (isinstance(vault, str) and isinstance(rp_id, str) and isinstance(sha, str)):
            continue
        version, mode = details.get("manifest_version_id"), details.get("lock_mode")
        creation = found.setdefault((vault, rp_id), RecordedCreation(vault, rp_id, record.seq, record.at))
        creation.manifests.append((version if isinstance(version, str) and version else None, sha,
                                   mode if isinstance(mode, str) else None))
    return found
