"""The catalog's ports in memory: one `MemoryTable` of state shared by the fakes that write together (a job's end gives
its quota slots back in the same write; a restore's hold checks the recovery point's status), as the DynamoDB
adapters share one table. Every rule the adapters' conditions state is checked here before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from coffer.domain.audit import ChainHead
from coffer.domain.continuous import JournalEntry, Protection
from coffer.domain.errors import (
    AlreadyExists,
    ConcurrentUpdate,
    IdempotencyConflict,
    NotFound,
    RecoveryPointDeleting,
    RecoveryPointInUse,
    ResourceBusy,
)
from coffer.domain.job_events import Change, JobChange, announcing, recovery_point_changes
from coffer.domain.jobs import Job, JobKind, queued_since
from coffer.domain.legal_holds import LegalHold
from coffer.domain.notifications import Notice, VaultNotifications
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.snapshot_quota import volume_of
from coffer.domain.vaults import Vault
from coffer.ports.catalog import DuplicateRequest, IndexedObjects
from coffer.ports.job_events import JobEvents
from coffer.ports.quotas import SlotRelease
from coffer.ports.turns import Turns
from coffer.ports.vault_records import PageStart

_RESTORABLE = (RecoveryPointStatus.COMPLETED, RecoveryPointStatus.PARTIAL)


@dataclass
class RestoreLock:
    restores: set[str] = field(default_factory=set)
    expiry: str | None = None


@dataclass
class MemoryTable:
    """What the catalog's single table holds, by record kind. `writes` logs every write in order (kind, key)."""

    jobs: dict[str, Job] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, str]] = field(default_factory=dict)  # token -> (job id, fingerprint)
    leases: dict[str, str] = field(default_factory=dict)  # resource arn -> job id
    recovery_points: dict[str, RecoveryPoint] = field(default_factory=dict)
    parts: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    objects: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    quotas: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> job id -> taken at
    restore_locks: dict[str, RestoreLock] = field(default_factory=dict)
    vaults: dict[str, Vault] = field(default_factory=dict)
    holds: dict[str, LegalHold] = field(default_factory=dict)
    hold_objects: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)  # hold -> (key, version) -> rp
    object_holds: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    held: dict[str, set[str]] = field(default_factory=dict)  # recovery point -> holds
    audit_head: ChainHead | None = None
    audit_keys: dict[str, int] = field(default_factory=dict)
    verify_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    verify_results: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    protections: dict[str, Protection] = field(default_factory=dict)
    journals: dict[str, dict[str, JournalEntry]] = field(default_factory=dict)
    writes: list[tuple[str, str]] = field(default_factory=list)

    def snapshot(self) -> str:
        """Everything stored, as text: equal before and after means nothing was written."""
        state = {name: value for name, value in vars(self).items() if name != "writes"}
        return json.dumps(state, default=lambda o: o.model_dump(mode="json") if hasattr(o, "model_dump")
                          else sorted(o) if isinstance(o, set) else vars(o) if hasattr(o, "__dict__") else str(o),
                          sort_keys=True)


def _rp_write_refused(table: MemoryTable, rp: RecoveryPoint) -> bool:
    """The recovery point's condition: created from version 0 only if new, else changed from the version read."""
    stored = table.recovery_points.get(rp.recovery_point_id)
    return stored is not None if rp.version == 0 else stored is None or stored.version != rp.version


class MemoryCatalog:
    """ports/catalog.py Catalog. `turns`, as the DynamoDB catalog's: told about each backup job a write ends;
    `events`, as its: told about each state change a write makes, once it is made."""

    def __init__(self, table: MemoryTable, turns: Turns | None = None, events: JobEvents | None = None) -> None:
        self.table = table
        self._turns = turns
        self._events = events

    def _announce(self, changes: list[Change]) -> None:
        if changes and self._events is not None:
            self._events.publish(changes)

    # ---- jobs and the lease ---------------------------------------------------------------------------------
    def create_job(self, job: Job, fingerprint: str, take_lease: bool, ttl: int, announce: bool = True) -> Job:
        t = self.table
        changes: list[Change] = []
        if self._events is not None and announce:
            job, changes = announcing(job)
        token = job.idempotency_token
        refused = (job.job_id in t.jobs or (bool(token) and token in t.idempotency)
                   or (take_lease and job.resource_arn in t.leases))
        if refused:
            if token and token in t.idempotency:
                job_id, known = t.idempotency[token]
                if known != fingerprint:
                    raise IdempotencyConflict(
                        f"IdempotencyToken '{token}' was used for a different request (job {job_id})")
                raise DuplicateRequest(self.get_job(job_id))
            if take_lease and job.resource_arn in t.leases:
                raise ResourceBusy(job.resource_arn, t.leases[job.resource_arn])
            raise IdempotencyConflict(f"IdempotencyToken '{token}' was used before (job {job.job_id} exists)")
        t.jobs[job.job_id] = job
        if token:
            t.idempotency[token] = (job.job_id, fingerprint)
        if take_lease:
            t.leases[job.resource_arn] = job.job_id
        t.writes.append(("job", job.job_id))
        self._announce(changes)
        return job

    def get_job(self, job_id: str) -> Job:
        if job_id not in self.table.jobs:
            raise NotFound(f"job {job_id} not found")
        return self.table.jobs[job_id]

    def save_job(self, job: Job, release_lease: bool = False, recovery_point: RecoveryPoint | None = None,
                 also: Sequence[SlotRelease] = ()) -> Job:
        t = self.table
        stored = t.jobs.get(job.job_id)
        if stored is None or stored.version != job.version or (
                recovery_point is not None and _rp_write_refused(t, recovery_point)):
            raise ConcurrentUpdate(f"job {job.job_id} changed since version {job.version}")
        changes: list[Change] = []
        if self._events is not None:
            job, changes = announcing(job)
            if recovery_point is not None:
                changes += recovery_point_changes(recovery_point, None)
        saved = job.with_changes(version=job.version + 1)
        t.jobs[job.job_id] = saved
        if recovery_point is not None:
            t.recovery_points[recovery_point.recovery_point_id] = recovery_point.model_copy(
                update={"version": recovery_point.version + 1})
            t.writes.append(("recovery_point", recovery_point.recovery_point_id))
        if release_lease and t.leases.get(job.resource_arn) == job.job_id:
            del t.leases[job.resource_arn]
        for slot in also:
            t.quotas.get(slot.key, {}).pop(slot.job_id, None)
        t.writes.append(("job", job.job_id))
        if self._turns is not None and saved.kind is JobKind.BACKUP and saved.state.terminal:
            self._turns.after_backup_ended(saved)
        self._announce(changes)
        return saved

    def announce_again(self, job: Job) -> None:
        if job.history:
            self._announce([JobChange(job, len(job.history))])

    def take_lease(self, resource_arn: str, job_id: str, stale_holder: str | None = None) -> str | None:
        holder = self.table.leases.get(resource_arn)
        held = holder == stale_holder if stale_holder is not None else holder in (None, job_id)
        if not held:
            return self.lease_holder(resource_arn) or "(released meanwhile)"
        self.table.leases[resource_arn] = job_id
        return None

    def lease_holder(self, resource_arn: str) -> str | None:
        return self.table.leases.get(resource_arn)

    def list_jobs(self, day: datetime) -> Iterator[Job]:
        found = [j for j in self.table.jobs.values() if j.created_at.date() == day.date()]
        yield from sorted(found, key=lambda j: (j.created_at.isoformat(), j.job_id), reverse=True)

    # ---- recovery points ------------------------------------------------------------------------------------
    def put_recovery_point(self, rp: RecoveryPoint) -> None:
        if _rp_write_refused(self.table, rp):
            raise ConcurrentUpdate(f"recovery point {rp.recovery_point_id} changed")
        stored = self.table.recovery_points.get(rp.recovery_point_id)
        self.table.recovery_points[rp.recovery_point_id] = rp.model_copy(update={"version": rp.version + 1})
        self.table.writes.append(("recovery_point", rp.recovery_point_id))
        self._announce(recovery_point_changes(rp, stored.status.value if stored else None))

    def get_recovery_point(self, recovery_point_id: str) -> RecoveryPoint:
        if recovery_point_id not in self.table.recovery_points:
            raise NotFound(f"recovery point {recovery_point_id} not found")
        return self.table.recovery_points[recovery_point_id]

    def _of_vault(self, vault_name: str) -> list[RecoveryPoint]:
        """Oldest first, as the index orders them (creation time, then id)."""
        found = [rp for rp in self.table.recovery_points.values() if rp.vault_name == vault_name]
        return sorted(found, key=lambda rp: (rp.creation_date.isoformat(), rp.recovery_point_id))

    def list_recovery_points(self, vault_name: str) -> Iterator[RecoveryPoint]:
        yield from reversed(self._of_vault(vault_name))

    def recovery_points_page(self, vault_name: str, token: str | None,
                             limit: int = 100) -> tuple[list[RecoveryPoint], str | None]:
        points = self._of_vault(vault_name)
        start = int(token) if token else 0
        page = points[start:start + limit]
        return page, str(start + limit) if start + limit < len(points) else None

    # ---- batch results and the object index -----------------------------------------------------------------
    def put_part(self, job_id: str, seq: int, doc: dict[str, Any]) -> None:
        self.table.parts.setdefault(job_id, {})[seq] = json.loads(json.dumps(doc))
        self.table.writes.append(("part", f"{job_id}#{seq}"))

    def get_part(self, job_id: str, seq: int) -> dict[str, Any] | None:
        found = self.table.parts.get(job_id, {}).get(seq)
        return None if found is None else json.loads(json.dumps(found))

    def list_parts(self, job_id: str) -> Iterator[dict[str, Any]]:
        parts = self.table.parts.get(job_id, {})
        yield from (parts[seq] for seq in sorted(parts))

    def get_objects(self, vault: str, bucket: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        index = self.table.objects.get((vault, bucket), {})
        return {key: index[key] for key in dict.fromkeys(keys) if key in index}

    def objects_in_range(self, vault: str, bucket: str, keys: Sequence[str]) -> IndexedObjects:
        index = self.table.objects.get((vault, bucket), {})
        if not keys:
            return IndexedObjects({}, [])
        low, high, wanted = min(keys), max(keys), set(keys)
        in_range = sorted(k for k in index if low <= k <= high)
        return IndexedObjects({k: json.loads(json.dumps(index[k])) for k in in_range if k in wanted},
                              [k for k in in_range if k not in wanted])

    def put_objects(self, vault: str, bucket: str, records: dict[str, dict[str, Any]]) -> None:
        self.table.objects.setdefault((vault, bucket), {}).update(json.loads(json.dumps(records)))

    def forget_objects(self, vault: str, bucket: str, keys: Sequence[str]) -> None:
        index = self.table.objects.get((vault, bucket), {})
        for key in keys:
            index.pop(key, None)


class MemoryQuotas:
    """ports/quotas.py SlotQuotas."""

    def __init__(self, table: MemoryTable) -> None:
        self.table = table

    def acquire(self, key: str, job_id: str, limit: int, now: datetime,
                ended: Any = None) -> list[str] | None:
        holders = self.table.quotas.setdefault(key, {})
        if self._try(holders, job_id, limit, now):
            return None
        listed = dict(holders)
        stale = [h for h in listed if h != job_id and ended is not None and ended(h)]
        for holder in stale:
            holders.pop(holder, None)
        if stale and self._try(holders, job_id, limit, now):
            return None
        return sorted(set(listed) - set(stale))

    @staticmethod
    def _try(holders: dict[str, str], job_id: str, limit: int, now: datetime) -> bool:
        if job_id not in holders and len(holders) >= limit:
            return False
        holders[job_id] = now.isoformat()
        return True

    def holders(self, key: str) -> dict[str, str]:
        return dict(self.table.quotas.get(key, {}))

    def release_for(self, job: Job) -> list[SlotRelease]:
        if job.kind is JobKind.BACKUP:
            return [SlotRelease(key, job.job_id) for key in job.quota_keys]
        if job.kind is not JobKind.COPY or job.destination is None or job.destination.quota_key is None:
            return []
        return [SlotRelease(job.destination.quota_key, job.job_id)]

    def release_now(self, key: str, job_id: str) -> None:
        self.table.quotas.get(key, {}).pop(job_id, None)


class MemoryRestoreLeases:
    """ports/restore_leases.py RestoreLeaseStore."""

    def __init__(self, table: MemoryTable) -> None:
        self.table = table

    def begin_restore(self, recovery_point_id: str, job_id: str) -> None:
        rp = self.table.recovery_points.get(recovery_point_id)
        lock = self.table.restore_locks.get(recovery_point_id, RestoreLock())
        if rp is None or rp.status not in _RESTORABLE or lock.expiry is not None:
            raise RecoveryPointDeleting(f"recovery point {recovery_point_id} is being deleted or is not restorable")
        lock.restores.add(job_id)
        self.table.restore_locks[recovery_point_id] = lock

    def end_restore(self, recovery_point_id: str, job_id: str) -> None:
        lock = self.table.restore_locks.get(recovery_point_id)
        if lock is not None:
            lock.restores.discard(job_id)

    def restores(self, recovery_point_id: str) -> list[str]:
        return sorted(self.table.restore_locks.get(recovery_point_id, RestoreLock()).restores)

    def begin_expiry(self, recovery_point: RecoveryPoint, by: str) -> RecoveryPoint:
        rp = recovery_point
        lock = self.table.restore_locks.get(rp.recovery_point_id, RestoreLock())
        stored = self.table.recovery_points.get(rp.recovery_point_id)
        if lock.restores or lock.expiry not in (None, by) or stored is None or stored.version != rp.version:
            holders = self.restores(rp.recovery_point_id)
            if holders:
                raise RecoveryPointInUse(rp.recovery_point_id, holders)
            raise ConcurrentUpdate(f"recovery point {rp.recovery_point_id} changed since version {rp.version}")
        deleting = rp.model_copy(update={"status": RecoveryPointStatus.DELETING, "version": rp.version + 1})
        lock.expiry = by
        self.table.restore_locks[rp.recovery_point_id] = lock
        self.table.recovery_points[rp.recovery_point_id] = deleting
        return deleting


class RecordingTurns:
    """ports/turns.py Turns: the queues in memory, and what was woken. `gone`: tokens nobody waits on any more."""

    def __init__(self) -> None:
        self.queues: dict[str, dict[str, tuple[str, str]]] = {}  # key -> sort key -> (job id, token)
        self.woken: list[str] = []
        self.ended: list[str] = []
        self.gone: set[str] = set()

    @staticmethod
    def _sort_key(queued_at: datetime, job_id: str) -> str:
        return f"{queued_at.isoformat()}#{job_id}"

    def enter(self, key: str, queued_at: datetime, job_id: str, token: str) -> None:
        self.queues.setdefault(key, {})[self._sort_key(queued_at, job_id)] = (job_id, token)

    def leave(self, key: str, queued_at: datetime, job_id: str) -> None:
        self.queues.get(key, {}).pop(self._sort_key(queued_at, job_id), None)

    def ahead(self, key: str, queued_at: datetime, job_id: str) -> int:
        me = self._sort_key(queued_at, job_id)
        return sum(1 for sort_key in self.queues.get(key, {}) if sort_key < me)

    def waiting(self, key: str) -> list[str]:
        queue = self.queues.get(key, {})
        return [queue[sort_key][0] for sort_key in sorted(queue)]

    def wake_next(self, key: str) -> str | None:
        queue = self.queues.get(key, {})
        while queue:
            job_id, token = queue.pop(min(queue))
            if self.wake(token):
                return job_id
        return None

    def after_backup_ended(self, job: Job) -> None:
        self.ended.append(job.job_id)
        queued_at = queued_since(job)
        if queued_at is not None:
            self.leave(job.resource_arn, queued_at, job.job_id)
        for key in dict.fromkeys([job.resource_arn, *(v for v in map(volume_of, job.quota_keys) if v)]):
            self.wake_next(key)

    def wake(self, token: str) -> bool:
        if token in self.gone:
            return False
        self.woken.append(token)
        return True


class MemoryVaultRecords:
    """ports/vault_records.py VaultRecords."""

    def __init__(self, table: MemoryTable) -> None:
        self.table = table

    # ---- vaults -----------------------------------------------------------------------------------------------
    def get_vault(self, name: str) -> Vault | None:
        return self.table.vaults.get(name)

    def put_vault(self, vault: Vault) -> Vault:
        stored = self.table.vaults.get(vault.name)
        if vault.version == 0 and stored is not None:
            raise AlreadyExists(f"vault {vault.name} already exists")
        if vault.version != 0 and (stored is None or stored.version != vault.version):
            raise ConcurrentUpdate(f"vault {vault.name} changed since version {vault.version}")
        saved = vault.model_copy(update={"version": vault.version + 1})
        self.table.vaults[vault.name] = saved
        return saved

    def delete_vault(self, vault: Vault) -> None:
        stored = self.table.vaults.get(vault.name)
        if stored is None or stored.version != vault.version:
            raise ConcurrentUpdate(f"vault {vault.name} changed since version {vault.version}")
        del self.table.vaults[vault.name]

    def list_vaults(self) -> Iterator[Vault]:
        yield from (self.table.vaults[name] for name in sorted(self.table.vaults))

    def _points(self, vault_name: str) -> list[RecoveryPoint]:
        found = [rp for rp in self.table.recovery_points.values() if rp.vault_name == vault_name]
        return sorted(found, key=lambda rp: (rp.creation_date.isoformat(), rp.recovery_point_id))

    def any_recovery_point(self, vault_name: str) -> str | None:
        points = self._points(vault_name)
        return points[0].recovery_point_id if points else None

    def recovery_points_created(self, vault_name: str, start: datetime, end: datetime) -> Iterator[RecoveryPoint]:
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        yield from (rp for rp in self._points(vault_name) if start <= rp.creation_date.astimezone(UTC) <= end)

    def recovery_point_page(self, vault_name: str, start: PageStart | None,
                            limit: int) -> tuple[list[RecoveryPoint], PageStart | None]:
        points = self._points(vault_name)
        first = int(start["at"]) if start else 0
        page = points[first:first + limit]
        return page, {"at": first + limit} if first + limit < len(points) else None

    # ---- legal holds ------------------------------------------------------------------------------------------
    def put_hold(self, hold: LegalHold) -> LegalHold:
        stored = self.table.holds.get(hold.legal_hold_id)
        if (stored is not None) if hold.version == 0 else (stored is None or stored.version != hold.version):
            raise ConcurrentUpdate(f"legal hold {hold.legal_hold_id} changed")
        saved = hold.model_copy(update={"version": hold.version + 1})
        self.table.holds[hold.legal_hold_id] = saved
        return saved

    def get_hold(self, hold_id: str) -> LegalHold | None:
        return self.table.holds.get(hold_id)

    def list_holds(self) -> Iterator[LegalHold]:
        yield from sorted(self.table.holds.values(), key=lambda h: (h.creation_date, h.legal_hold_id), reverse=True)

    def add_hold_members(self, hold_id: str, recovery_point_id: str, objects: Iterable[tuple[str, str]]) -> None:
        self.table.held.setdefault(recovery_point_id, set()).add(hold_id)
        for key, version in objects:
            self.table.hold_objects.setdefault(hold_id, {})[(key, version)] = recovery_point_id
            self.table.object_holds.setdefault((key, version), set()).add(hold_id)

    def hold_objects(self, hold_id: str) -> Iterator[tuple[str, str, str]]:
        members = self.table.hold_objects.get(hold_id, {})
        yield from ((key, version, rp) for (key, version), rp in sorted(members.items()))

    def drop_object_member(self, hold_id: str, key: str, version: str) -> None:
        self.table.object_holds.get((key, version), set()).discard(hold_id)

    def object_holders(self, key: str, version: str) -> list[str]:
        return sorted(self.table.object_holds.get((key, version), set()))

    def drop_recovery_point_member(self, hold_id: str, recovery_point_id: str) -> None:
        self.table.held.get(recovery_point_id, set()).discard(hold_id)

    def holds_on(self, recovery_point_id: str) -> list[str]:
        return sorted(self.table.held.get(recovery_point_id, set()))

    # ---- the audit chain head ---------------------------------------------------------------------------------
    def audit_head(self) -> ChainHead | None:
        return self.table.audit_head

    def move_audit_head(self, expected: ChainHead, new: ChainHead, idempotency_key: str | None = None) -> bool:
        head = self.table.audit_head
        moved_from = head is None if expected.seq == 0 else head == expected
        if not moved_from or (idempotency_key is not None and idempotency_key in self.table.audit_keys):
            return False
        self.table.audit_head = new
        if idempotency_key:
            self.table.audit_keys[idempotency_key] = new.seq
        return True

    def restore_audit_head(self, head: ChainHead) -> bool:
        if self.table.audit_head is not None:
            return False
        self.table.audit_head = head
        return True

    def audit_seq_for(self, idempotency_key: str) -> int | None:
        return self.table.audit_keys.get(idempotency_key)

    def audit_seq_and_head(self, idempotency_key: str) -> tuple[int | None, ChainHead | None]:
        return self.table.audit_keys.get(idempotency_key), self.table.audit_head

    # ---- verify runs ------------------------------------------------------------------------------------------
    def put_verify_result(self, run_id: str, seq: int, doc: dict[str, Any]) -> None:
        self.table.verify_results.setdefault(run_id, {})[seq] = json.loads(json.dumps(doc))

    def verify_results(self, run_id: str) -> Iterator[dict[str, Any]]:
        results = self.table.verify_results.get(run_id, {})
        yield from (results[seq] for seq in sorted(results))

    def put_verify_run(self, run_id: str, doc: dict[str, Any]) -> None:
        self.table.verify_runs[run_id] = json.loads(json.dumps(doc, default=str))

    def get_verify_run(self, run_id: str) -> dict[str, Any] | None:
        return self.table.verify_runs.get(run_id)


class MemoryContinuousStore:
    """ports/continuous_records.py ContinuousStore."""

    def __init__(self, table: MemoryTable) -> None:
        self.table = table

    def get_protection(self, resource_arn: str) -> Protection | None:
        return self.table.protections.get(resource_arn)

    def save_protection(self, protection: Protection) -> Protection:
        stored = self.table.protections.get(protection.resource_arn)
        changed = stored is None or stored.version != protection.version
        if (stored is not None) if protection.version == 0 else changed:
            raise ConcurrentUpdate(f"continuous protection of {protection.resource_arn} changed")
        saved = protection.model_copy(update={"version": protection.version + 1})
        self.table.protections[protection.resource_arn] = saved
        return saved

    def protections(self, vault_name: str) -> Iterator[Protection]:
        yield from (p for p in self.table.protections.values() if p.vault_name == vault_name)

    def journal_blobs(self, recovery_point_id: str, page_size: int = 1000) -> Iterator[str]:
        journal = self.table.journals.get(recovery_point_id, {})
        for sort_key in sorted(journal):
            kept = journal[sort_key].object
            if kept is not None:
                yield kept.sha256

    def append(self, recovery_point_id: str, entry: JournalEntry) -> bool:
        journal = self.table.journals.setdefault(recovery_point_id, {})
        if entry.sort_key in journal:
            return False
        journal[entry.sort_key] = entry
        return True

    def has_entry(self, recovery_point_id: str, sort_key: str) -> bool:
        return sort_key in self.table.journals.get(recovery_point_id, {})

    def journal_page(self, recovery_point_id: str, after: str | None,
                     limit: int) -> tuple[list[tuple[str, JournalEntry]], str | None]:
        journal = self.table.journals.get(recovery_point_id, {})
        keys = [k for k in sorted(journal) if after is None or k > after]
        page = keys[:limit]
        return [(k, journal[k]) for k in page], page[-1] if len(keys) > limit else None


class RecordingJobEvents:
    """ports/job_events.py JobEvents: keeps what each publish call was given (one list per call, as the catalog's
    writes made them); `refuse` makes the next calls fail as EventBridge refusing every entry would."""

    def __init__(self) -> None:
        self.calls: list[list[Change]] = []
        self.refuse = False

    def publish(self, changes: Sequence[Change]) -> None:
        from coffer.ports.job_events import JobEventsUndelivered

        if self.refuse:
            raise JobEventsUndelivered(f"refused {len(changes)} job event(s)")
        self.calls.append(list(changes))

    @property
    def changes(self) -> list[Change]:
        return [change for call in self.calls for change in call]


class MemoryVaultNotifications:
    """ports/vault_notifications.py VaultNotificationStore."""

    def __init__(self) -> None:
        self.settings: dict[str, VaultNotifications] = {}

    def get(self, vault_name: str) -> VaultNotifications | None:
        return self.settings.get(vault_name)

    def put(self, settings: VaultNotifications) -> None:
        self.settings[settings.backup_vault_name] = settings

    def delete(self, vault_name: str) -> bool:
        return self.settings.pop(vault_name, None) is not None


class RecordingNotices:
    """ports/notices.py Notices: what was published where."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Notice]] = []

    def publish(self, topic_arn: str, notice: Notice) -> str:
        self.published.append((topic_arn, notice))
        return f"message-{len(self.published)}"
