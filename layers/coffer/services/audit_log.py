"""Appending to and verifying the tamper-evident audit log (domain/audit.py says what a record is).

An append writes record n+1 into the vault first - create-only (If-None-Match: *) and Object-Locked - and
then moves the catalog's chain head from n to n+1 with a conditional write. Two concurrent appends cannot
both write n+1; the loser re-reads the head and tries n+2. A record written by an append that died before
moving the head is *adopted* by the next append (it is checked to chain onto the head first), so a crash
never leaves a gap. Only a record that does not chain onto the head (garbage at the next key) stops the
log, loudly: that is tampering, and the operator must look.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from coffer.domain.audit import (
    AUDIT_PREFIX,
    EMPTY_HEAD,
    AuditRecord,
    AuditReport,
    ChainHead,
    RecordAuditResult,
    RecordedCreation,
    audit_key,
    next_record,
    parse_stored,
    recorded_creations,
    stored_form,
    verify_chain,
)
from coffer.domain.clock import Clock
from coffer.domain.errors import AlreadyStored, ConcurrentUpdate, IntegrityError, InvalidInput, NotFound
from coffer.domain.jobs import JobKind
from coffer.ports.catalog import Catalog
from coffer.ports.vault import VaultStore
from coffer.ports.vault_records import VaultRecords
from coffer.settings import Settings

#: Audit records are kept (Object-Locked in the stack's VaultLockMode) for ten years.
AUDIT_RETENTION = timedelta(days=3653)
_ATTEMPTS = 25


class AuditLog:
    def __init__(self, catalog: VaultRecords, vault: VaultStore, settings: Settings, clock: Clock, actor: str) -> None:
        self._catalog = catalog
        self._vault = vault
        self._settings = settings
        self._clock = clock
        self.actor = actor

    def append(self, action: str, target: str, details: dict[str, Any],
               idempotency_key: str | None = None) -> AuditRecord:
        """Append one record; with an idempotency key, a repeated call returns the first call's record."""
        known: ChainHead | None = None  # the head, when the first look read it with the key
        if idempotency_key:
            seq, known = self._catalog.audit_seq_and_head(idempotency_key)
            if seq is not None:
                return self.record(seq)
        for attempt in range(_ATTEMPTS):
            head = (known if attempt == 0 and idempotency_key else self._catalog.audit_head()) or EMPTY_HEAD
            record = next_record(head, self._clock.now(), self.actor, action, target, details, idempotency_key)
            try:
                self._vault.put_locked(
                    audit_key(record.seq), stored_form(record), self._clock.now() + AUDIT_RETENTION,
                    mode=self._settings.vault_lock_mode, kms_key_id=self._settings.vault_key_arn, create_only=True)
            except AlreadyStored:
                self._adopt(head)
                # our own write whose answer was lost (a timeout botocore repeated): adopted, it is our record
                if idempotency_key and (seq := self._catalog.audit_seq_for(idempotency_key)) is not None:
                    return self.record(seq)
                continue
            if self._catalog.move_audit_head(head, ChainHead(record.seq, record.digest()), idempotency_key):
                return record
            # Another append moved the head past our record (adopting it), or the idempotency key was
            # taken meanwhile (our record stays in the vault; the next append adopts it).
            if idempotency_key and (seq := self._catalog.audit_seq_for(idempotency_key)) is not None:
                return self.record(seq)
            moved = self._catalog.audit_head()
            if moved is not None and moved.seq >= record.seq:
                return record
        raise ConcurrentUpdate(f"audit log: could not append {action} after {_ATTEMPTS} attempts")

    def _adopt(self, head: ChainHead) -> None:
        """The next record exists but the head was not moved onto it: move it, if that record chains on."""
        key = audit_key(head.seq + 1)
        try:
            record, stored_hash = parse_stored(self._vault.get_bytes(key))
        except NotFound:
            return  # it was there a moment ago: hidden by a delete marker? verify will say; retry
        except ValueError as error:
            raise IntegrityError(f"audit log jammed: {key} is not a record ({error}); run `coffer audit verify`") \
                from None
        if record.seq != head.seq + 1 or record.prev_hash != head.hash or record.digest() != stored_hash:
            raise IntegrityError(f"audit log jammed: {key} does not chain onto record {head.seq}; "
                                 "run `coffer audit verify`")
        # with the record's own idempotency key (unless taken): a retried append of it then finds it, not adds another
        key_free = record.idempotency_key and self._catalog.audit_seq_for(record.idempotency_key) is None
        self._catalog.move_audit_head(head, ChainHead(record.seq, stored_hash),
                                      record.idempotency_key if key_free else None)

    def record(self, seq: int) -> AuditRecord:
        return parse_stored(self._vault.get_bytes(audit_key(seq)))[0]

    def stored(self) -> Iterator[tuple[str, bytes]]:
        """Every stored record, in order (a paginated listing, then one GET each)."""
        for listed in self._vault.keys(AUDIT_PREFIX):
            yield listed.key, self._vault.get_bytes(listed.key)

    def records(self) -> Iterator[AuditRecord]:
        for _, body in self.stored():
            try:
                yield parse_stored(body)[0]
            except ValueError:
                continue

    def verify(self) -> AuditReport:
        return verify_chain(self.stored(), self._catalog.audit_head())

    def restore_head(self) -> ChainHead | None:
        """After the table was lost: put the head back at the last record that verifies (None if empty)."""
        report = verify_chain(self.stored(), None)
        if report.last_verified.seq == 0:
            return None
        self._catalog.restore_audit_head(report.last_verified)
        return report.last_verified


@dataclass
class ChainRead:
    """The audit chain as a rebuild believes it: each record's *first* version (records are written create-only,
    so a later version at a record's key is someone's), believed up to the last record that verifies (and, where
    the catalog still has its head, not past it)."""

    #: the vault holds audit records at all
    exists: bool
    trusted: list[AuditRecord] = field(default_factory=list)
    report: AuditReport = field(default_factory=AuditReport)
    #: keys of records that hold more than one version (written over)
    overwritten: list[str] = field(default_factory=list)

    @property
    def creations(self) -> dict[tuple[str, str], RecordedCreation]:
        return recorded_creations(self.trusted)


def read_chain(vault: VaultStore, head: ChainHead | None) -> ChainRead:
    """One listing of the audit prefix's versions (paginated), then one GET of each record's first version."""
    first: dict[str, str] = {}
    counts: dict[str, int] = {}
    for listed in vault.history(AUDIT_PREFIX, under=True):
        if not listed.delete_marker:
            first[listed.key] = listed.version_id  # newest first: the last one seen is the first written
            counts[listed.key] = counts.get(listed.key, 0) + 1
    stored = [(key, vault.get_bytes_version(key, first[key])) for key in sorted(first)]
    report = verify_chain(stored, head)
    limit = report.last_verified.seq if head is None else min(head.seq, report.last_verified.seq)
    trusted: list[AuditRecord] = []
    for _, body in stored:
        try:
            record = parse_stored(body)[0]
        except ValueError:
            continue
        if record.seq <= limit:
            trusted.append(record)
    return ChainRead(bool(stored), trusted, report, sorted(k for k, n in counts.items() if n > 1))


def record_restore_start(catalog: Catalog, audit: AuditLog, job_id: str) -> RecordAuditResult:
    """The Restore workflow's audit step: one record per restore job (a retried step adds none)."""
    job = catalog.get_job(job_id)
    if job.kind is not JobKind.RESTORE:
        raise InvalidInput([f"job_id: job {job_id} is a {job.kind} job; only restores are audited here"])
    record = audit.append("restore.start", job.recovery_point_id, {
        "job_id": job.job_id, "vault": job.vault_name, "resource_arn": job.resource_arn,
        "restore_target": job.restore_target, "idempotency_token": job.idempotency_token,
        "execution_arn": job.execution_arn, "state": job.state.value}, idempotency_key=f"restore.start:{job_id}")
    return RecordAuditResult(seq=record.seq, hash=record.digest(), action=record.action, target=record.target)
