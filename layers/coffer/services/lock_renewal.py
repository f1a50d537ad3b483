"""Renewing the Object Lock of kept-forever recovery points, spread over the sweep's Distributed Map.

The rules are domain/lock_renewal.py's. Two steps of the Sweep workflow:

- `plan` (in SweepBatch, for each recovery point of its batch whose renewal is due): lists the recovery point's
  prefix in the vault (ListObjectVersions: a million-object recovery point has about a thousand parts, one
  page) and writes renewal items to `sweep/<run>/renew/`: one per manifest part, one per RENEW_KEYS other
  objects (amendments, a copy's export files); the manifest itself is left for last. The run's record says
  how many items the recovery point has.
- `renew_batch` (a RenewLocks child, one item): extends the locks of its objects - a part's blobs before the
  part - to the item's date (HeadObject each, PutObjectRetention only where the lock is shorter); marks the
  item done; the child that completes the recovery point renews the manifest and then records the new
  retain-until in the catalog. A child retried after it marked its item re-sends nothing (the locks read long
  enough) and completes the recovery point if it was the last.

Every call is bounded: an item is at most one part (BatchSize entries) or RENEW_KEYS objects; a batch plans
at most SWEEP_BATCH recovery points, a prefix listing page at a time.
"""

from __future__ import annotations

from datetime import datetime

from coffer.domain.clock import Clock
from coffer.domain.errors import CofferError, ConcurrentUpdate, NotFound
from coffer.domain.lock_renewal import ITEMS_PER_BATCH, RENEW_KEYS, RenewBatchResult, kept_forever
from coffer.domain.manifest import ManifestPart, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint
from coffer.ports.catalog import Catalog
from coffer.ports.sweeps import SweepStore
from coffer.ports.vault import VaultStore
from coffer.ports.vault_versions import VaultVersionStore
from coffer.ports.work_area import WorkArea

_ATTEMPTS = 5


class RenewalDeferred(CofferError):
    """A batch cannot number a recovery point's renewal items this run (item seqs would reach the next batch's)."""


def renew_prefix(run_id: str) -> str:
    return f"sweep/{run_id}/renew/"


class LockRenewals:
    def __init__(self, catalog: Catalog, vault: VaultStore, versions: VaultVersionStore, records: SweepStore,
                 work: WorkArea, clock: Clock) -> None:
        self._catalog = catalog
        self._vault = vault
        self._versions = versions
        self._records = records
        self._work = work
        self._clock = clock

    def plan(self, run_id: str, first_seq: int, rp: RecoveryPoint, until: datetime,
             room: int = ITEMS_PER_BATCH) -> int:
        """Write the renewal items of `rp` (seqs from `first_seq`); how many (at least one: the manifest is
        renewed by whichever item completes the recovery point, so SweepBatch itself never writes a lock)."""
        prefix = VaultLayout.recovery_point_prefix(rp.vault_name, rp.recovery_point_id)
        parts_prefix = VaultLayout.parts_prefix(rp.vault_name, rp.recovery_point_id)
        items: list[list[str]] = []
        others: list[str] = []
        marker = None
        seen: set[str] = set()
        while True:
            versions, marker = self._versions.page(prefix, marker)
            for key, _, _ in versions:
                if key in seen or key == rp.manifest_key:
                    continue  # an object's versions are listed together; the current one is extended
                seen.add(key)
                if key.startswith(parts_prefix):
                    items.append([key])
                else:
                    others.append(key)
                    if len(others) == RENEW_KEYS:
                        items.append(others)
                        others = []
            if marker is None:
                break
        if others:
            items.append(others)
        if len(items) > room:  # item seqs are the batch's (batch seq * ITEMS_PER_BATCH + n): never another's
            raise RenewalDeferred(f"lock renewal of {rp.recovery_point_id} deferred: {len(items)} items, more than "
                                  f"the {room} this batch may still number; the next run plans it (within the lead)")
        if not items:
            items.append([])  # a native recovery point: its manifest only, renewed by the item's completion
        for n, keys in enumerate(items):
            self._work.write_json(f"{renew_prefix(run_id)}{first_seq + n:013d}.json", {
                "run_id": run_id, "vault": rp.vault_name, "recovery_point_id": rp.recovery_point_id,
                "until": until.isoformat(), "keys": keys})
        self._records.expect_renewal(run_id, rp.recovery_point_id, len(items), until.isoformat())
        return len(items)

    def renew_batch(self, run_id: str, batch_key: str) -> RenewBatchResult:
        """One RenewLocks child: extend the item's objects' locks; complete the recovery point if it is the last."""
        doc = self._work.read_json(batch_key)
        seq = int(batch_key.rsplit("/", 1)[-1].split(".", 1)[0])
        rid, until = doc["recovery_point_id"], datetime.fromisoformat(doc["until"])
        extended = already = 0
        for key in doc["keys"]:
            for target in [*self._blobs_of(doc["vault"], key), key]:  # a part's blobs before the part
                if self._vault.extend_retention(target, until):
                    extended += 1
                else:
                    already += 1
        completed = False
        if self._records.renewal_done(run_id, rid, seq):
            completed = self._complete(rid, until)
        record = {"run_id": run_id, "recovery_point_id": rid, "seq": seq, "until": doc["until"],
                  "keys": len(doc["keys"]), "extended": extended, "already": already, "completed": completed}
        self._records.record_batch(run_id, "RENEW", seq, record, {"locks_extended": extended,
                                                                    "renewals_completed": int(completed)})
        return RenewBatchResult(run_id=run_id, seq=seq, recovery_point_id=rid, extended=extended, already=already,
                                completed=completed)

    def _blobs_of(self, vault: str, key: str) -> list[str]:
        if "/parts/" not in key:
            return []
        part = ManifestPart.model_validate(self._vault.get_json(key))
        return sorted({VaultLayout.blob_of(vault, entry) for entry in part.entries})

    def _complete(self, recovery_point_id: str, until: datetime) -> bool:
        """Every other object is locked until `until`: the manifest too, then the catalog says so. False when
        the recovery point is gone or no longer kept forever (its lifecycle changed meanwhile: locks extended
        further than needed harm nothing)."""
        for _ in range(_ATTEMPTS):
            try:
                rp = self._catalog.get_recovery_point(recovery_point_id)
            except NotFound:
                return False
            if not kept_forever(rp):
                return False
            if rp.manifest_key is not None:
                self._vault.extend_retention(rp.manifest_key, until)
            if rp.retain_until >= until:
                return True  # a retried completion: recorded already
            try:
                self._catalog.put_recovery_point(rp.model_copy(update={"retain_until": until}))
            except ConcurrentUpdate:
                continue  # changed meanwhile (tags, a hold): read again
            return True
        raise ConcurrentUpdate(f"recovery point {recovery_point_id} kept changing while its lock renewal completed")
