"""The lifecycle sweeper: page through a vault's recovery points, move the due ones to cold storage,
expire the due ones, and record per page (or batch) what was moved, expired and skipped, and why; then collect
the vault's blob versions no recovery point can still reference.

Two ways to run it, same decisions:
- `sweep_page` / `sweep_vault` in one process (tests, the simulated year);
- the Sweep workflow (statemachines/sweep.asl.json, daily): `list_items` writes the live recovery point ids of
  every vault as batch files (a few catalog Query pages per call), `sweep_batch` sweeps one file (a Distributed
  Map child), `list_items` in the blobs phase writes blob version pages as files, `collect_blobs` collects one
  file, `complete` records the run's outcome. No call's work grows with the number of recovery points.

Each page is one catalog Query (Catalog.recovery_points_page, never a Scan), so a workflow can fan pages
out and no call outlives a Lambda. The decision is domain/sweep.py `decide` with the catalog's facts
(RetentionGuard: the vault's Object Lock mode once a page, the legal holds of the ones due for deletion). Applying it:

- TRANSITION_TO_COLD: the adapter's `start_cold` (EBS: the archive tier), then the catalog says COLD.
- EXPIRE: RestoreLeases.begin_expiry first (refused while a restore holds the recovery point: skipped, reason
  given), which marks it DELETING; then the native artefact (adapter `delete_recovery_point`) or, for the
  objects strategy (S3), every object version under the recovery point's prefix (parts first, then the manifest
  and lifecycle amendments) - each deleted only once its own Object Lock has passed and no legal hold is on it
  (domain/object_lock.py, checked before S3 refuses it anyway), at most VERSION_BUDGET per batch; then the catalog
  says EXPIRED,
  storage class DELETED (the record stays: what was kept, and when it went). A recovery point found DELETING
  (an interrupted expiry, one left DELETING because a version was still locked, a failed backup's leftovers)
  is finished the same way, without begin_expiry (restores already refuse it).
- Blobs (content-addressed, shared) are collected by the blobs phase: a version is deleted only when no legal
  hold is on it and its retain-until is no later than the run's start, and only in vaults where the sweep stage
  found no restorable recovery point past its own lock (domain/sweep.py `gc_blocker`) and that no continuous
  backup writes to (a point-in-time restore reads journal and base blobs long after their lock: see README).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from coffer.domain.alerts import BlockedExpiry, remedy
from coffer.domain.clock import Clock
from coffer.domain.errors import AwsRefusal, CofferError, ConcurrentUpdate, NotFound, RecoveryPointInUse
from coffer.domain.legal_holds import LegalHoldStatus
from coffer.domain.lock_renewal import ITEMS_PER_BATCH, renewal_target
from coffer.domain.manifest import VaultLayout
from coffer.domain.object_lock import LockMode
from coffer.domain.object_lock import deletion_refusal as version_deletion_refusal
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus, StorageClass
from coffer.domain.resources import ResourceType
from coffer.domain.sweep import (
    GC_BATCH,
    SWEEP_BATCH,
    VERSION_BUDGET,
    BlobVerdict,
    CollectBlobsResult,
    CompleteSweepStep,
    ListSweepItemsResult,
    ListSweepItemsStep,
    SkipCategory,
    SweepAction,
    SweepBatchResult,
    SweepDecision,
    SweepPhase,
    SweepRunSummary,
    blob_verdict,
    decide,
    gc_blocker,
)
from coffer.domain.vaults import blobs_prefix
from coffer.ports.catalog import Catalog
from coffer.ports.continuous_records import ContinuousStore
from coffer.ports.resource_registry import ResourceAdapters
from coffer.ports.resources import BackupStrategy, Capability
from coffer.ports.restore_leases import RestoreLeaseStore
from coffer.ports.sweeps import SweepStore
from coffer.ports.vault_records import VaultRecords
from coffer.ports.vault_versions import VaultVersionStore
from coffer.ports.work_area import WorkArea
from coffer.services.alerts import Alerts
from coffer.services.lock_renewal import LockRenewals, RenewalDeferred, renew_prefix
from coffer.services.object_tiering import ObjectTiering
from coffer.services.retention_guard import RetentionGuard
from coffer.services.vaults import Vaults
from coffer.settings import Settings

#: recovery points per catalog Query page of the listing step (EXPIRED ones are read but not listed)
_RP_PAGE = 1000
#: blob versions per ListObjectVersions page of the listing step
_BLOB_PAGE = 1000


def items_prefix(run_id: str, phase: SweepPhase) -> str:
    if phase is SweepPhase.RENEWALS:
        return renew_prefix(run_id)
    return f"sweep/{run_id}/{'rps' if phase is SweepPhase.RECOVERY_POINTS else 'blobs'}/"


def _seq_of(key: str) -> int:
    return int(key.rsplit("/", 1)[-1].split(".", 1)[0])


@dataclass
class SweepReport:
    """One page of one run: recovery point id -> reason, per outcome."""

    run_id: str
    vault: str
    seq: int
    moved: dict[str, str] = field(default_factory=dict)
    expired: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    kept: int = 0
    next_token: str | None = None
    #: skipped, counted by category (domain/sweep.py SkipCategory)
    skipped_by: dict[str, int] = field(default_factory=dict)
    #: recovery point id -> why it keeps blob GC out of its vault this run (only with a cutoff)
    gc_blockers: dict[str, str] = field(default_factory=dict)
    #: kept-forever recovery point id -> the date its lock renewal (planned by this batch) extends it to
    renewals: dict[str, str] = field(default_factory=dict)
    #: renewal items this batch wrote (the RenewLocks map's children)
    renewal_items: int = 0
    #: due recovery points whose deletion AWS (or S3) refused: recovery point id -> its resource_arn and reason
    #: (told to the operator)
    blocked: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def skip(self, rid: str, reason: str, category: SkipCategory) -> None:
        self.skipped[rid] = reason
        self.skipped_by[category.value] = self.skipped_by.get(category.value, 0) + 1

    def totals(self) -> dict[str, int]:
        return {"moved": len(self.moved), "expired": len(self.expired), "skipped": len(self.skipped),
                "kept": self.kept, "renew_expected": self.renewal_items,
                **{f"skipped_{k}": v for k, v in self.skipped_by.items()}}


class Sweeper:
    def __init__(self, catalog: Catalog, guard: RetentionGuard, leases: RestoreLeaseStore, records: SweepStore,
                 holds: VaultRecords, versions: VaultVersionStore, work: WorkArea, resources: ResourceAdapters,
                 tiering: ObjectTiering, journals: ContinuousStore, vaults: Vaults, settings: Settings, clock: Clock,
                 page_size: int = 100, renewals: LockRenewals | None = None, alerts: Alerts | None = None) -> None:
        self._catalog = catalog
        self._guard = guard
        self._leases = leases
        self._records = records
        self._holds = holds
        self._versions = versions
        self._work = work
        self._resources = resources
        self._tiering = tiering  # S3 recovery points' blobs to the archive class (domain/cold_tier.py)
        self._journals = journals
        self._vaults = vaults
        self._settings = settings
        self._clock = clock
        self._page_size = page_size
        #: the Object Lock renewals of kept-forever recovery points (planned by the workflow's SweepBatch)
        self._renewals = renewals
        self._budget = VERSION_BUDGET  # object versions this batch may still delete (reset per page / batch)
        #: expiries refused for good, counted (ExpiryBlocked) and told to the operator per batch
        self._alerts = alerts

    @property
    def records(self) -> SweepStore:
        return self._records

    def sweep_page(self, run_id: str, vault: str, seq: int, token: str | None) -> SweepReport:
        """Sweep one page of the vault's recovery points; record and return what happened."""
        points, next_token = self._catalog.recovery_points_page(vault, token, self._page_size)
        report = SweepReport(run_id, vault, seq, next_token=next_token)
        self._sweep(run_id, points, report, cutoff=None)
        self._records.put_page(run_id, vault, seq, report.as_json())
        self._tell_blocked(run_id, vault, report)
        return report

    def _tell_blocked(self, run_id: str, vault: str, report: SweepReport) -> None:
        """Count and tell the batch's blocked expiries (after the batch is recorded: a retried batch tells again)."""
        if self._alerts is None or not report.blocked:
            return
        self._alerts.expiries_blocked(vault, run_id, [
            BlockedExpiry(recovery_point_id=rid, resource_arn=item["resource_arn"], reason=item["reason"],
                          remedy=remedy(item["reason"])) for rid, item in report.blocked.items()], self._clock.now())

    def sweep_ids(self, run_id: str, vault: str, seq: int, ids: list[str],
                  cutoff: datetime | None = None) -> SweepReport:
        """Sweep a batch of recovery points by id (a workflow's batch file); not recorded here. With `cutoff`
        (the run's start), also says which of them keep blob GC out of the vault (report.gc_blockers) and
        plans the lock renewals of the kept-forever ones that are due (report.renewals)."""
        points = []
        for rid in ids:
            try:
                points.append(self._catalog.get_recovery_point(rid))
            except NotFound:
                continue  # deleted from the catalog since it was listed
        report = SweepReport(run_id, vault, seq)
        self._sweep(run_id, points, report, cutoff)
        return report

    def _plan_renewal(self, run_id: str, rp: RecoveryPoint, report: SweepReport) -> None:
        """A kept-forever recovery point whose lock runs out within RENEWAL_LEAD: its renewal items for the
        RenewLocks map (services/lock_renewal.py); the report says how many (report.renewals)."""
        until = renewal_target(rp, self._clock.now())
        if until is None or self._renewals is None:
            return
        first = report.seq * ITEMS_PER_BATCH + report.renewal_items
        try:
            items = self._renewals.plan(run_id, first, rp, until, ITEMS_PER_BATCH - report.renewal_items)
        except AwsRefusal as refusal:
            report.skip(rp.recovery_point_id, f"lock renewal to {until.isoformat()} not planned: {refusal.code}: "
                        f"{refusal}", SkipCategory.ERROR)
            return
        except RenewalDeferred as deferred:
            report.skip(rp.recovery_point_id, str(deferred), SkipCategory.DEFERRED)
            return
        report.renewals[rp.recovery_point_id] = until.isoformat()
        report.renewal_items += items

    def _sweep(self, run_id: str, points: list[RecoveryPoint], report: SweepReport, cutoff: datetime | None) -> None:
        now = self._clock.now()
        self._budget = VERSION_BUDGET
        modes: dict[str, LockMode] = {}
        for rp in points:
            if rp.vault_name not in modes:
                modes[rp.vault_name] = self._guard.object_mode(rp.vault_name)
            # holds matter only to a deletion: asked only for the recovery points whose delete date has come
            # (and for those left DELETING)
            due = rp.delete_at is not None and now >= rp.delete_at
            holds = self._guard.holds_on(rp.recovery_point_id) \
                if due or rp.status is RecoveryPointStatus.DELETING else []
            cold_refusal = self._cold_refusal(rp)
            decision = decide(rp, holds, modes[rp.vault_name], now, cold_refusal)
            after = self._apply(run_id, rp, decision, report)
            if cutoff is not None:
                self._plan_renewal(run_id, after, report)
                active = bool(holds) and all(self._hold_active(h) for h in holds)
                why = gc_blocker(after, self._references_blobs(after), now, cutoff, active)
                if why is not None:
                    report.gc_blockers[rp.recovery_point_id] = why

    def _hold_active(self, hold_id: str) -> bool:
        hold = self._holds.get_hold(hold_id)
        return hold is not None and hold.status is LegalHoldStatus.ACTIVE

    def _references_blobs(self, rp: RecoveryPoint) -> bool:
        """S3 recovery points (and copies made through an export) keep their data as shared vault blobs."""
        return self._resources.adapter(rp.resource_type).strategy is BackupStrategy.OBJECTS or not rp.native_ref

    def sweep_vault(self, run_id: str, vault: str) -> list[SweepReport]:
        """Every page in turn (what the workflow fans out; the twin and tests call it directly)."""
        reports, token, seq = [], None, 0
        while True:
            report = self.sweep_page(run_id, vault, seq, token)
            reports.append(report)
            if report.next_token is None:
                return reports
            token, seq = report.next_token, seq + 1

    # ---- applying a decision --------------------------------------------------------------------
    def _apply(self, run_id: str, rp: RecoveryPoint, decision: SweepDecision, report: SweepReport) -> RecoveryPoint:
        """Apply the decision; the recovery point as it is afterwards (as far as this run knows)."""
        rid = rp.recovery_point_id
        if decision.action is SweepAction.KEEP:
            if decision.skipped:
                report.skip(rid, decision.reason, decision.category or SkipCategory.ERROR)
            else:
                report.kept += 1
            return rp
        try:
            if decision.action is SweepAction.TRANSITION_TO_COLD:
                after = self._to_cold(rp)
                report.moved[rid] = decision.reason
                return after
            after, refused = self._expire(run_id, rp)
            if refused is None:
                report.expired[rid] = decision.reason
            else:
                report.skip(rid, *refused)
                if refused[1] is SkipCategory.ERROR:
                    return self._blocked(run_id, after, refused[0], report)
            return after
        except RecoveryPointInUse as error:
            report.skip(rid, f"due ({decision.reason}) but a restore holds it: {error}", SkipCategory.RESTORE)
        except AwsRefusal as refusal:
            # refused by AWS for this one (access denied, a resource in a bad state): the batch's others go on, and
            # a later run tries again (an expiry stays DELETING, nothing is lost). What a retry may cure is not a
            # refusal: it fails the batch, which the workflow tries again.
            why = f"due ({decision.reason}) but {refusal.code}: {refusal}"
            report.skip(rid, why, SkipCategory.ERROR)
            if decision.action is SweepAction.EXPIRE:
                return self._blocked(run_id, rp, why, report)
        except CofferError as error:  # refused or failed for this one (ConcurrentUpdate, NativeOperationFailed...)
            why = f"due ({decision.reason}) but {type(error).__name__}: {error}"
            report.skip(rid, why, SkipCategory.ERROR)
            if decision.action is SweepAction.EXPIRE and not isinstance(error, ConcurrentUpdate):
                return self._blocked(run_id, rp, why, report)
        return rp

    def _blocked(self, run_id: str, rp: RecoveryPoint, why: str, report: SweepReport) -> RecoveryPoint:
        """An expiry refused for good: the recovery point stays recorded - DELETING once its expiry began, so no
        restore takes it - with the reason as its status message; the next run tries again."""
        report.blocked[rp.recovery_point_id] = {"resource_arn": rp.resource_arn, "reason": why}
        message = f"expiry blocked (sweep {run_id}, {self._clock.now().isoformat()}): {why}"[:1000]
        try:
            current = self._catalog.get_recovery_point(rp.recovery_point_id)
            marked = current.model_copy(update={"status_message": message})
            self._catalog.put_recovery_point(marked)
        except (NotFound, ConcurrentUpdate):
            return rp  # gone or changed meanwhile: the next run sees it as it is
        return marked

    def _cold_refusal(self, rp: RecoveryPoint) -> str | None:
        """None when `rp` can go cold: objects (S3) through the ColdStorage workflow, native artefacts by their
        adapter's archive tier; else why not (the adapter's or the workflow's reason)."""
        adapter = self._resources.adapter(rp.resource_type)
        if adapter.strategy is BackupStrategy.OBJECTS:
            return self._tiering.refusal
        if Capability.COLD_STORAGE in adapter.capabilities:
            return None
        return adapter.refusals.get(Capability.COLD_STORAGE, "no cold storage tier")

    def _to_cold(self, rp: RecoveryPoint) -> RecoveryPoint:
        """Start the move, then record COLD: a run that dies between the two starts the same move again (the
        ColdStorage execution is named after the recovery point; an archive-tier request is idempotent)."""
        if self._resources.adapter(rp.resource_type).strategy is BackupStrategy.OBJECTS:
            self._tiering.start(rp)
        else:
            self._resources.adapter(rp.resource_type).start_cold(rp)
        cold = rp.model_copy(update={"storage_class": StorageClass.COLD})
        self._catalog.put_recovery_point(cold)
        return cold

    def _expire(self, run_id: str, rp: RecoveryPoint) -> tuple[RecoveryPoint, tuple[str, SkipCategory] | None]:
        """Delete the recovery point's data: (it afterwards, None when done or why it is left DELETING)."""
        if rp.status is RecoveryPointStatus.DELETING:
            deleting = rp  # an expiry begun before (or a failed backup's leftovers): restores refuse it already
        else:
            deleting = self._leases.begin_expiry(rp, by=f"sweeper:{run_id}")
        adapter = self._resources.adapter(rp.resource_type)
        if self._references_blobs(rp):
            refused = self._delete_vault_objects(rp)
            if refused is not None:
                return deleting, refused
        else:
            adapter.delete_recovery_point(deleting)
        # done: a reason an earlier run left (an expiry blocked) no longer describes it
        expired = deleting.model_copy(update={"status": RecoveryPointStatus.EXPIRED,
                                              "storage_class": StorageClass.DELETED, "status_message": None})
        self._catalog.put_recovery_point(expired)
        return expired, None

    def _delete_vault_objects(self, rp: RecoveryPoint) -> tuple[str, SkipCategory] | None:
        """Delete every version under the recovery point's prefix - parts first, then the manifest and its
        amendments - each only if its lock has passed and no legal hold is on it (checked, and S3 refuses it
        anyway). At most this batch's VERSION_BUDGET versions: a large recovery point is finished over several
        runs (it stays DELETING, never restorable, meanwhile). None when done, else why not and the category."""
        now = self._clock.now()
        prefix = VaultLayout.recovery_point_prefix(rp.vault_name, rp.recovery_point_id)
        parts = VaultLayout.parts_prefix(rp.vault_name, rp.recovery_point_id)
        deleted = 0
        for listed, skip_parts in ((parts, False), (prefix, True)):  # the manifest goes after its parts
            marker = None
            while True:
                versions, marker = self._versions.page(listed, marker)
                for key, version_id, size in versions:
                    if skip_parts and key.startswith(parts):
                        continue
                    if self._budget <= 0:
                        return (f"left DELETING: this batch's budget of {VERSION_BUDGET} object versions is spent "
                                f"({deleted} deleted here); the next run goes on", SkipCategory.DEFERRED)
                    self._budget -= 1
                    facts = self._versions.facts(key, version_id, size)
                    if facts is None:
                        continue  # gone already (a retried or resumed expiry)
                    refusal = version_deletion_refusal(facts.lock, now)
                    if refusal is not None:
                        return f"left DELETING: {key}: {refusal}", SkipCategory.LOCKED
                    if not self._versions.delete(key, version_id):
                        # its lock has passed (checked above): what refuses is the bucket policy or a permission
                        return (f"left DELETING: {key}: S3 refused the deletion (Object Lock or the bucket policy)",
                                SkipCategory.ERROR)
                    deleted += 1
                if marker is None:
                    break
        return None

    # ---- the Sweep workflow's steps ---------------------------------------------------------------
    def list_items(self, step: ListSweepItemsStep) -> ListSweepItemsResult:
        """Write the next pages of work as batch files (at most `pages_per_listing` pages per call); the
        workflow calls again while `more`."""
        if step.phase is SweepPhase.RECOVERY_POINTS:
            return self._list_recovery_points(step)
        if step.phase is SweepPhase.RENEWALS:
            # written by the sweep stage's batches: nothing to list, only how many (the map's items are files)
            run = self._records.get_run(step.run_id)
            return ListSweepItemsResult(run_id=step.run_id, phase=step.phase, token=None,
                                        next_seq=int(run.get("renew_expected", 0)), more=False,
                                        items_prefix=items_prefix(step.run_id, step.phase))
        return self._list_blobs(step)

    def _write(self, step: ListSweepItemsStep, seq: int, doc: dict[str, Any]) -> int:
        self._work.write_json(f"{items_prefix(step.run_id, step.phase)}{seq:08d}.json", doc)
        return seq + 1

    def _list_recovery_points(self, step: ListSweepItemsStep) -> ListSweepItemsResult:
        if step.token is None and step.next_seq == 0:
            self._records.start_run(step.run_id, self._clock.now().isoformat())
        run = self._records.get_run(step.run_id)
        # the cursor names its vault (vaults made or deleted between two calls do not shift it)
        names = [v.name for v in self._vaults.all()]
        cursor: dict[str, Any] | None = json.loads(step.token) if step.token else \
            ({"vault": names[0], "next": None} if names else None)
        seq = step.next_seq
        for _ in range(self._settings.pages_per_listing):
            if cursor is None:
                break
            vault = cursor["vault"]
            ids, last = self._records.live_recovery_point_ids(vault, cursor["next"], _RP_PAGE)
            for start in range(0, len(ids), SWEEP_BATCH):  # batch files never mix vaults
                seq = self._write(step, seq, {"run_id": step.run_id, "vault": vault, "cutoff": run["started_at"],
                                              "ids": ids[start:start + SWEEP_BATCH]})
            following = [name for name in names if name > vault]
            cursor = {"vault": vault, "next": last} if last else \
                ({"vault": following[0], "next": None} if following else None)
        if cursor is None:
            self._records.set_run(step.run_id, {"batch_expected": seq, "vaults": json.dumps(names)})
        return ListSweepItemsResult(run_id=step.run_id, phase=step.phase, token=json.dumps(cursor) if cursor else None,
                                    next_seq=seq, more=cursor is not None,
                                    items_prefix=items_prefix(step.run_id, step.phase))

    def gc_exclusions(self, run: dict[str, Any]) -> dict[str, str]:
        """Vaults whose blobs this run must not collect, and why (read once, when the blobs phase begins). Only
        the vaults the sweep stage listed are candidates (one made since was not swept by this run)."""
        names = json.loads(run.get("vaults") or "[]")
        expected, recorded = run.get("batch_expected"), run.get("batch_recorded", 0)
        if expected is None or recorded < expected:
            why = f"{(expected or 0) - recorded} sweep batch(es) not recorded: their recovery points' references " \
                  "are unknown" if expected is not None else "the sweep stage did not finish"
            return dict.fromkeys(names, why)
        skipped: dict[str, str] = {}
        blocked = set(run.get("gc_blocked", []))
        journals = self._journals
        for name in names:
            if name in blocked:
                skipped[name] = "a restorable recovery point is past its own lock date (see this run's batches' " \
                                "gc_blockers): blobs it references may be unlocked"
            elif any(p.resource_type is ResourceType.S3 for p in journals.protections(name)):
                skipped[name] = "continuous S3 backups write here: a point-in-time restore reads base and journal " \
                                "blobs after their lock has passed"
        return skipped

    def _list_blobs(self, step: ListSweepItemsStep) -> ListSweepItemsResult:
        run = self._records.get_run(step.run_id)
        if step.token is None and step.next_seq == 0:
            skipped = self.gc_exclusions(run)
            names = [name for name in json.loads(run.get("vaults") or "[]") if name not in skipped]
            self._records.set_run(step.run_id, {"gc_skipped": json.dumps(skipped)})
            cursor: dict[str, Any] | None = {"vaults": names, "v": 0, "marker": None} if names else None
        else:
            cursor = json.loads(step.token) if step.token else None
        seq = step.next_seq
        for _ in range(self._settings.pages_per_listing):
            if cursor is None:
                break
            vault = cursor["vaults"][cursor["v"]]
            versions, marker = self._versions.page(blobs_prefix(vault), cursor["marker"], _BLOB_PAGE)
            for start in range(0, len(versions), GC_BATCH):
                seq = self._write(step, seq, {"run_id": step.run_id, "vault": vault, "cutoff": run["started_at"],
                                              "versions": [list(v) for v in versions[start:start + GC_BATCH]]})
            if marker is not None:
                cursor = {**cursor, "marker": marker}
            elif cursor["v"] + 1 < len(cursor["vaults"]):
                cursor = {**cursor, "v": cursor["v"] + 1, "marker": None}
            else:
                cursor = None
        if cursor is None:
            self._records.set_run(step.run_id, {"blobs_expected": seq})
        return ListSweepItemsResult(run_id=step.run_id, phase=step.phase, token=json.dumps(cursor) if cursor else None,
                                    next_seq=seq, more=cursor is not None,
                                    items_prefix=items_prefix(step.run_id, step.phase))

    def sweep_batch(self, run_id: str, batch_key: str) -> SweepBatchResult:
        """One Distributed Map child: sweep one batch file's recovery points, record it with the run's totals."""
        doc = self._work.read_json(batch_key)
        seq = _seq_of(batch_key)
        report = self.sweep_ids(run_id, doc["vault"], seq, list(doc["ids"]), datetime.fromisoformat(doc["cutoff"]))
        blocked = {doc["vault"]} if report.gc_blockers else set()
        recorded = self._records.record_batch(run_id, "BATCH", seq, report.as_json(), report.totals(), blocked)
        self._tell_blocked(run_id, doc["vault"], report)
        return SweepBatchResult(run_id=run_id, seq=seq, moved=len(recorded["moved"]),
                                expired=len(recorded["expired"]), skipped=len(recorded["skipped"]),
                                kept=recorded["kept"])

    def collect_blobs(self, run_id: str, batch_key: str) -> CollectBlobsResult:
        """One Distributed Map child: delete the batch's blob versions that no legal hold and no lock protects
        any more (locked until no later than the run's start). S3 Object Lock refuses anything else anyway."""
        doc = self._work.read_json(batch_key)
        seq, cutoff = _seq_of(batch_key), datetime.fromisoformat(doc["cutoff"])
        outcome: Counter[str] = Counter()
        deleted: list[str] = []
        freed = 0
        for key, version_id, size in doc["versions"]:
            facts = self._versions.facts(key, version_id, size)
            if facts is None:
                outcome["gone"] += 1
                continue
            verdict = blob_verdict(facts.retain_until, facts.legal_hold, cutoff)
            if verdict is BlobVerdict.COLLECT and self._versions.delete(key, version_id):
                deleted.append(f"{key}?versionId={version_id}")
                freed += facts.size
            else:
                outcome["refused" if verdict is BlobVerdict.COLLECT else verdict.value.lower()] += 1
        record = {"run_id": run_id, "vault": doc["vault"], "seq": seq, "versions": len(doc["versions"]),
                  "deleted": deleted, "kept": dict(outcome), "bytes_freed": freed}
        kept = sum(v for k, v in outcome.items() if k != "gone")
        recorded = self._records.record_batch(run_id, "BLOBS", seq, record, {
            "blobs_deleted": len(deleted), "blobs_kept": kept, "bytes_freed": freed})
        return CollectBlobsResult(run_id=run_id, seq=seq, versions=recorded["versions"],
                                  deleted=len(recorded["deleted"]), bytes_freed=recorded["bytes_freed"],
                                  kept=sum(v for k, v in recorded["kept"].items() if k != "gone"))

    def summary(self, run: dict[str, Any]) -> SweepRunSummary:
        skipped_by = {k.removeprefix("skipped_"): int(v) for k, v in run.items()
                      if k.startswith("skipped_") and isinstance(v, int)}
        return SweepRunSummary(
            run_id=run["run_id"], state=run["state"], started_at=run["started_at"],
            completed_at=run.get("completed_at"), batches=run.get("batch_recorded", 0),
            batches_expected=run.get("batch_expected"), moved=run.get("moved", 0), expired=run.get("expired", 0),
            skipped=run.get("skipped", 0), kept=run.get("kept", 0), skipped_by=skipped_by,
            blob_batches=run.get("blobs_recorded", 0), blob_batches_expected=run.get("blobs_expected"),
            blobs_deleted=run.get("blobs_deleted", 0), blobs_kept=run.get("blobs_kept", 0),
            renewal_items=run.get("renew_recorded", 0), renewal_items_expected=run.get("renew_expected", 0),
            locks_extended=run.get("locks_extended", 0), renewals_completed=run.get("renewals_completed", 0),
            bytes_freed=run.get("bytes_freed", 0), gc_skipped=json.loads(run.get("gc_skipped") or "{}"),
            error=run.get("error"))

    def complete(self, step: CompleteSweepStep) -> SweepRunSummary:
        """The run's outcome in the catalog: COMPLETED, PARTIAL (a batch failed for good: its recovery points
        are swept again by the next run) or FAILED (the workflow's Catch passes the error)."""
        run = self._records.get_run(step.run_id)
        summary = self.summary(run)
        error: str | None
        if step.error is not None:
            state = "FAILED"
            error = f"{step.error.get('Error', 'States.Runtime')}: {step.error.get('Cause', '')}"[:1000]
        else:
            missing = (summary.batches_expected or 0) - summary.batches + \
                (summary.blob_batches_expected or 0) - summary.blob_batches + \
                summary.renewal_items_expected - summary.renewal_items
            state, error = ("PARTIAL", f"{missing} batch(es) failed") if missing > 0 else ("COMPLETED", None)
        fields: dict[str, Any] = {"state": state, "completed_at": self._clock.now().isoformat()}
        if error is not None:
            fields["error"] = error
        self._records.set_run(step.run_id, fields)
        return self.summary(self._records.get_run(step.run_id))
