"""S3 backups in bounded batches, each run by one Distributed Map child (restores: object_restores.py).

No invocation's work grows with the bucket: a listing step handles at most `pages_per_listing` pages of
`batch_size` keys, a copy step one batch.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, TypeVar

from coffer.domain.batches import split_by_bytes
from coffer.domain.clock import Clock
from coffer.domain.cold_tier import (
    ARCHIVE_CLASSES,
    format_day,
    may_go_cold,
    parse_day,
    raised_warm_until,
    warm_tags,
    warm_until_needed,
)
from coffer.domain.errors import CofferError, IntegrityError, NotFound, ObjectRefused
from coffer.domain.jobs import Job
from coffer.domain.manifest import ManifestPart, ObjectEntry, PartRef, VaultLayout, WorkLayout
from coffer.domain.object_lock import LockMode, VersionLock
from coffer.domain.resources import resource_name
from coffer.domain.steps import BatchResult, ListBatchesResult
from coffer.domain.tag_freshness import TAGS_READ_AT, is_refresh_day, tags_due
from coffer.domain.vaults import Seal
from coffer.ports.blob_records import BlobRecords
from coffer.ports.catalog import Catalog
from coffer.ports.source_buckets import SourceBuckets
from coffer.ports.tag_marks import TagMarks
from coffer.ports.vault import VaultStore
from coffer.ports.work_area import WorkArea
from coffer.services.inventory_batches import InventoryBatches
from coffer.services.large_objects import Deferred, LargeObjects, pinned_version
from coffer.services.object_tiering import keep_warm
from coffer.services.vaults import Vaults
from coffer.settings import Settings

_T = TypeVar("_T")
_R = TypeVar("_R")
#: how the warning of a bucket without tag events begins (a retried first listing step replaces it, never adds one)
_NO_TAG_EVENTS = "tags read for every object: no S3 tag events reach this stack for bucket"


def _seq_of(key: str) -> int:
    return int(key.rsplit("/", 1)[-1].split(".", 1)[0])


def _entry_fields(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if k in ObjectEntry.model_fields}


@dataclass(frozen=True)
class _Batch:
    """What every object of one CopyBatch shares."""

    job: Job
    bucket: str
    seq: int
    seal: Seal
    known: dict[str, dict[str, Any]]
    marks: dict[str, datetime]
    #: when the batch began looking for tag marks (domain/tag_freshness.py)
    as_of: datetime
    events_on: bool


class _Placed(NamedTuple):
    """Where an object's content is in the vault: its blob, lock, whether bytes were copied, the pinned version and
    the blob's warm-until (None: not known yet)."""

    blob: str
    locked_until: datetime | None
    mode: Any
    copied: bool
    version_id: str | None
    warm: date | None


@dataclass(frozen=True)
class _Pending:
    """A new content, its SHA-256 known, waiting for its place in the vault."""

    facts: dict[str, Any]
    staging: str | None
    fresh: date
    warm_needed: date
    #: its blob was found gone from the vault: the blob record (which names that version) is not to be relied on
    gone: bool = False


@dataclass
class _Outcome:
    """One listed object's outcome (nothing set: it vanished since it was listed)."""

    entry: ObjectEntry | None = None
    record: dict[str, Any] = field(default_factory=dict)
    copied: bool = False
    failure: str | None = None
    deferred: dict[str, Any] | None = None
    pending: _Pending | None = None


def _blob_record(place: _Placed) -> dict[str, Any]:
    """The catalog's record of a blob (ports/blob_records.py): what lets the next new object of this content skip
    the HeadObject."""
    assert place.locked_until is not None and place.warm is not None
    return {"version_id": place.version_id, "retain_until": place.locked_until.isoformat(),
            "lock_mode": str(place.mode) if place.mode is not None else None, "warm_until": format_day(place.warm)}


class ObjectBatches:
    """Per-object refusals that no retry cures (ObjectRefused: access denied, a KMS key, an archived source object)
    name the object failed and the batch goes on; anything else fails the batch, which the workflow retries."""

    def __init__(self, catalog: Catalog, vault: VaultStore, work: WorkArea, buckets: SourceBuckets,
                 inventory: InventoryBatches, large: LargeObjects, vaults: Vaults,
                 settings: Settings, clock: Clock, tag_marks: TagMarks, blobs: BlobRecords) -> None:
        self._catalog = catalog
        self._vault = vault
        self._work = work
        self._buckets = buckets
        self._inventory = inventory
        self.large = large  # also the Backup workflow's part-range fan-out (CopyBatch)
        self._vaults = vaults
        self._settings = settings
        self._clock = clock
        self._tag_marks = tag_marks
        self._blobs = blobs

    # ---- listing --------------------------------------------------------------------------------
    def list_batches(self, job_id: str, token: str | None, next_seq: int) -> ListBatchesResult:
        """Write the next few pages of the source listing as batch files; the workflow loops until done.

        A batch holds at most `batch_size` objects and `batch_bytes` bytes, so one child's copy work is
        bounded whatever the objects' sizes. The first call also learns whether the bucket's tag events reach
        EventBridge (domain/tag_freshness.py), once per job.
        """
        job = self._catalog.get_job(job_id)
        bucket = resource_name(job.resource_arn)
        if token is None and next_seq == 0:
            job = self._note_tag_events(job, bucket)
        # The bucket's S3 Inventory instead of listing it, when it has a recent enough one (inventory_batches.py).
        job, from_inventory = self._inventory.maybe_list(job, token, next_seq)
        if from_inventory is not None:
            return from_inventory
        seq = next_seq
        for _ in range(self._settings.pages_per_listing):
            items, token = self._buckets.list_page(bucket, token, self._settings.batch_size)
            for batch in split_by_bytes(items, self._settings.batch_bytes):
                # "listed": a listing's page holds every key of its range (copy_batch forgets the others' records)
                self._work.write_json(WorkLayout.batch(job_id, seq), {"bucket": bucket, "items": batch,
                                                                      "listed": True})
                seq += 1
            if token is None:
                break
        if token is None:
            self._catalog.save_job(job.with_changes(progress=job.progress.model_copy(update={"batches_total": seq})))
        return ListBatchesResult(job_id=job_id, token=token, next_seq=seq, more=token is not None,
                                 items_prefix=WorkLayout.batches_prefix(job_id))

    def _note_tag_events(self, job: Job, bucket: str) -> Job:
        """Record on the job whether tag events reach EventBridge; without them every object's tags are read at
        every backup, and the job says so (a warning), never leaving tags silently stale."""
        # S3 puts a bucket's events on the default bus of the bucket's own region, and the stack's rule listens in
        # the stack's: a bucket elsewhere sends none that reach Coffer, whatever its configuration says
        region = job.source.get("region")
        here = region in (None, self._settings.region)
        on = here and self._buckets.tag_events_on(bucket)
        why = "EventBridgeConfiguration is off" if here else (
            f"it is in {region}, and S3's events reach only that region's bus, not this stack's in "
            f"{self._settings.region}")
        warnings = [w for w in job.progress.warnings if not w.startswith(_NO_TAG_EVENTS)]
        if not on:
            warnings.append(f"{_NO_TAG_EVENTS} {bucket} ({why}): every object's tags were "
                            "read (GetObjectTagging per object); turn the bucket's EventBridge notifications on to "
                            f"read only changed tags, and each object's once every {self._settings.tag_refresh_days} "
                            "days")
        if job.progress.tag_events == on and warnings == job.progress.warnings:
            return job
        return self._catalog.save_job(job.with_changes(progress=job.progress.model_copy(
            update={"tag_events": on, "warnings": warnings})))

    # ---- backup one batch -----------------------------------------------------------------------
    def copy_batch(self, job_id: str, batch_key: str) -> BatchResult:
        """Copy one batch into the vault, content-addressed by SHA-256, and write its manifest part.

        The batch's object-index records are read as their key range (one Query, billed by the bytes it reads, not a
        4 KB read unit per record); records in that range of objects no longer listed are forgotten.
        Unchanged objects (same ETag, size and modification time as last backed up) are not copied again;
        their blob's lock is extended when it falls short, and their tags are read only when S3's tag events or
        the rolling refresh say so (domain/tag_freshness.py). New content: one HeadObject (its checksum and tag
        count in one answer; GetObjectTagging only for a tagged object), a staging copy in the work bucket only
        where S3 has no full-object SHA-256 yet, then one CopyObject into the vault unless the catalog's blob
        records say the vault holds that content (one BatchGetItem per 100 new contents, not a HeadObject each).
        Objects are worked on `copy_concurrency` at a time.
        """
        job = self._catalog.get_job(job_id)
        seq = _seq_of(batch_key)
        batch = self._work.read_json(batch_key)
        bucket: str = batch["bucket"]
        items: list[dict[str, Any]] = batch["items"]
        keys = [i["key"] for i in items]
        seal = self._vaults.seal_for(job)  # the vault's lock mode, its MinRetentionDays, its KMS key
        # the batch's records read as their key range (one Query, billed by bytes), not key by key
        indexed = self._catalog.objects_in_range(job.vault_name, bucket, keys)
        known = indexed.records
        events_on = bool(job.progress.tag_events)
        as_of = self._clock.now()  # before the marks are read: a mark noted from now on is seen by the next backup
        marks = self._tag_marks.noted_between(bucket, min(keys), max(keys)) if events_on and known else {}
        ctx = _Batch(job, bucket, seq, seal, known, marks, as_of, events_on)
        examined = self._map(lambda numbered: self._examine(ctx, *numbered), list(enumerate(items)))
        self._place_new(ctx, [e for e in examined if e.pending is not None])
        entries: list[ObjectEntry] = []
        index: dict[str, dict[str, Any]] = {}
        failed: list[dict[str, str]] = []
        deferred: list[dict[str, Any]] = []  # copied by the part-range fan-out (services/large_objects.py)
        copied = reused = bytes_copied = 0
        for item, outcome in zip(items, examined, strict=True):
            if outcome.deferred is not None:
                deferred.append(outcome.deferred)
            elif outcome.failure is not None:
                failed.append({"key": item["key"], "reason": outcome.failure})
            elif outcome.entry is not None:  # (None: deleted since it was listed, not part of this recovery point)
                entries.append(outcome.entry)
                index[outcome.entry.key] = outcome.record
                if outcome.copied:
                    copied += 1
                    bytes_copied += outcome.entry.size
                else:
                    reused += 1
        part = ManifestPart(recovery_point_id=job.recovery_point_id, seq=seq, entries=tuple(entries))
        part_key = VaultLayout.part(job.vault_name, job.recovery_point_id, seq)
        sha = self._vault.put_json_locked(part_key, part.model_dump(mode="json"), seal.retain_until, seal)
        ref = PartRef(seq=seq, key=part_key, sha256=sha, version_id=sha.version_id, objects=len(entries),
                      bytes=sum(e.size for e in entries),
                      first_key=entries[0].key if entries else None, last_key=entries[-1].key if entries else None)
        # the object index is written only where a record changed (new content, a lock extended, a warm-until
        # raised, tags read): with locks ahead, most unchanged objects write nothing
        self._catalog.put_objects(job.vault_name, bucket, {key: record for key, record in index.items()
                                                           if record != known.get(key)})
        if indexed.others and batch.get("listed"):
            # records between a listed page's keys that the listing did not hold: objects deleted from the source,
            # whose records every later range read would pay for
            self._catalog.forget_objects(job.vault_name, bucket, indexed.others)
        self._catalog.put_part(job_id, seq, {"seq": seq, "part": ref.model_dump(mode="json"), "copied": copied,
                                         "reused": reused, "bytes_copied": bytes_copied, "failed": failed,
                                         **({"deferred": deferred} if deferred else {})})
        return BatchResult(job_id=job_id, seq=seq, objects=len(entries), copied=copied, reused=reused,
                           failed=len(failed))

    def _map(self, work: Callable[[_T], _R], inputs: list[_T]) -> list[_R]:
        """`work` over `inputs`, at most `copy_concurrency` at once, results in order (boto3 clients are
        thread-safe; every call here goes through them, no resource object is shared)."""
        workers = min(self._settings.copy_concurrency, len(inputs))
        if workers <= 1:
            return [work(one) for one in inputs]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="copy") as pool:
            return list(pool.map(work, inputs))

    def _examine(self, ctx: _Batch, n: int, item: dict[str, Any]) -> _Outcome:
        """One object: done here when its content is known to the vault (unchanged, or large: copied in parts);
        else its facts and SHA-256 (a staging copy where S3 had none), the vault copy left to `_place_new`.
        A refusal that no retry cures names the object failed; anything else fails the batch."""
        try:
            return self._examine_one(ctx, n, item)
        except Deferred as later:
            return _Outcome(deferred=later.record)
        except ObjectRefused as refused:  # an archived source object too
            return _Outcome(failure=refused.code)
        except CofferError as error:
            return _Outcome(failure=f"{type(error).__name__}: {error}")

    def _examine_one(self, ctx: _Batch, n: int, item: dict[str, Any]) -> _Outcome:
        job, known = ctx.job, ctx.known.get(item["key"])
        unchanged = known is not None and all(known.get(k) == item[k] for k in ("etag", "size", "last_modified"))
        warm_needed = warm_until_needed(job.lifecycle.cold_at(job.created_at))
        known_warm = parse_day(known.get("warm_until")) if known else None
        if unchanged and known_warm is not None and may_go_cold(known_warm, self._clock.now()):
            unchanged = False  # its blob may be archived by now: look at it (and store the content warm again)
        gone = False
        if known is not None and unchanged:
            facts: dict[str, Any] = dict(known)
            if tags_due(item["key"], known, ctx.marks.get(item["key"]), ctx.as_of, self._settings.tag_refresh_days,
                        ctx.events_on):
                tags = self._buckets.tags(ctx.bucket, item["key"])
                if tags is None:
                    return _Outcome()
                facts["tags"] = tags
                facts[TAGS_READ_AT] = self._read_at(ctx, known, tags)
            blob = VaultLayout.blob_of(job.vault_name, ObjectEntry.model_validate(_entry_fields(facts)))
            place = _Placed(blob, datetime.fromisoformat(known["retain_until"]), known.get("lock_mode"), False,
                            facts.get("blob_version_id"), known_warm)
            if not facts.get("blob_version_id"):  # indexed before versions were pinned: one HeadObject, once
                found = self._vault.lock_of(blob)
                if not found.holds(blob):
                    unchanged = False
                else:
                    place = place._replace(version_id=found.version_id, locked_until=found[1], mode=found.mode)
            if unchanged:
                try:
                    return self._finished(ctx, facts, self._secured(ctx, place, warm_needed))
                except NotFound:  # its day's look found no version of the blob (deleted, bypassing GOVERNANCE)
                    gone = True  # stored again, as new content
        # a small object is read once and hashed here (a GET instead of a HeadObject and a staging CopyObject); a
        # larger one is described by HeadObject and, without an S3 SHA-256, copied to staging for S3 to hash
        hash_up_to = self._settings.hash_in_lambda_bytes
        described = self._buckets.read_object(ctx.bucket, item["key"], hash_up_to) \
            if hash_up_to and item["size"] <= hash_up_to else self._buckets.describe_object(ctx.bucket, item["key"])
        if described is None:
            return _Outcome()
        facts = {**described, "key": item["key"], "last_modified": item["last_modified"], TAGS_READ_AT:
                 ctx.as_of.isoformat()}
        fresh = raised_warm_until(None, warm_needed)
        assert fresh is not None
        if self.large.is_large(facts["size"]):
            blob, locked_until, mode, copied, facts["blob_version_id"] = self.large.store(
                job, ctx.bucket, facts, ctx.seq, n, ctx.seal, warm_tags(fresh))
            place = _Placed(blob, locked_until, mode, copied, facts["blob_version_id"], fresh if copied else None)
            return self._finished(ctx, facts, self._secured(ctx, place, warm_needed))
        staging = None
        if not facts.get("sha256"):
            # S3 computes the SHA-256 on a copy: into the work bucket's staging prefix, which a lifecycle rule
            # empties (template.yaml expire-staging), so no DeleteObject per object
            staging = WorkLayout.staging(job.job_id, ctx.seq, n)
            facts["sha256"] = self._buckets.copy_with_checksum(ctx.bucket, facts["key"], facts.get("version_id"),
                                                               facts["size"], self._work.bucket, staging,
                                                               facts.get("etag"))
        return _Outcome(pending=_Pending(facts, staging, fresh, warm_needed, gone))

    def _read_at(self, ctx: _Batch, known: dict[str, Any], tags: dict[str, str]) -> str:
        """When these tags count as read (domain/tag_freshness.py): the batch's start of looking for marks. Without
        tag events the moment is kept while the tags are unchanged: they are read every backup anyway, and a
        moment moved at every backup would rewrite every index record every day."""
        if not ctx.events_on and known.get("tags") == tags and known.get(TAGS_READ_AT):
            return str(known[TAGS_READ_AT])
        return ctx.as_of.isoformat()

    def _place_new(self, ctx: _Batch, waiting: list[_Outcome]) -> None:
        """Put each new content into the vault once (two keys of one content in a batch: one copy), unless the
        blob records show a locked, warm version of it there already; then finish each waiting object."""
        by_sha: dict[str, list[_Outcome]] = {}
        for outcome in waiting:
            assert outcome.pending is not None
            by_sha.setdefault(outcome.pending.facts["sha256"], []).append(outcome)
        if not by_sha:
            return
        recorded = self._blobs.get_blobs(ctx.job.vault_name, sorted(by_sha))
        for sha, outcomes in by_sha.items():
            if any(o.pending is not None and o.pending.gone for o in outcomes):
                recorded.pop(sha, None)

        def place(sha: str) -> tuple[str, _Placed | str]:
            first = by_sha[sha][0].pending
            assert first is not None
            try:
                return sha, self._secured(ctx, self._store(ctx, first, recorded.get(sha)), first.warm_needed)
            except ObjectRefused as refused:
                return sha, refused.code
            except CofferError as error:
                return sha, f"{type(error).__name__}: {error}"

        placed = dict(self._map(place, list(by_sha)))
        learned: dict[str, dict[str, Any]] = {}
        for sha, outcomes in by_sha.items():
            where = placed[sha]
            for outcome in outcomes:
                assert outcome.pending is not None
                if isinstance(where, str):
                    outcome.failure, outcome.pending = where, None
                    continue
                done = self._finished(ctx, outcome.pending.facts, where if outcome is outcomes[0]
                                      else where._replace(copied=False))
                outcome.entry, outcome.record, outcome.copied, outcome.pending = done.entry, done.record, \
                    done.copied, None
            if not isinstance(where, str):
                record = _blob_record(where)
                if record != recorded.get(sha):
                    learned[sha] = record
        if learned:
            self._blobs.put_blobs(ctx.job.vault_name, learned)

    def _store(self, ctx: _Batch, new: _Pending, recorded: dict[str, Any] | None) -> _Placed:
        """Make sure the vault holds this content; where it lives, its lock, and whether bytes were copied.

        A blob record is relied on while its version is locked (Object Lock keeps a locked version: it cannot be
        gone) and warm; an older record makes one HeadObject look, and no record means a copy. A blob found in the
        archive tier is stored again as a new, warm version of the same key (the archived version keeps its lock and
        goes when that passes): a new recovery point is never restored from the archive. The copy is pinned to what was
        described (the source's VersionId, else its ETag) and S3's SHA-256 of the copy must be the address.
        """
        facts, now = new.facts, self._clock.now()
        blob = VaultLayout.blob(ctx.job.vault_name, facts["sha256"])
        if recorded is not None and recorded.get("version_id"):
            until, warm = datetime.fromisoformat(recorded["retain_until"]), parse_day(recorded.get("warm_until"))
            if until > now and not (warm is not None and may_go_cold(warm, now)):
                return _Placed(blob, until, recorded.get("lock_mode"), False, recorded["version_id"], warm)
            # its lock passed or it may be archived: look (one HeadObject) before relying on it
            found = self._vault.lock_of(blob)
            if found.holds(blob) and (found.storage_class or "STANDARD") not in ARCHIVE_CLASSES:
                return _Placed(blob, found[1], found.mode, False, found.version_id, None)
        # No record: content Coffer never stored (or stored before blob records, or by the continuous journal or
        # the multipart path, which keep none): copied, as a new version of its address if one was there already
        tags = warm_tags(new.fresh)
        ahead = ctx.seal.ahead(self._settings.lock_slack_days)  # a new blob too: tomorrow's backup need not extend it
        if new.staging is not None:
            stored = self._vault.copy_in(self._work.bucket, new.staging, blob, ahead.retain_until, seal=ahead,
                                         tags=tags)
        else:
            stored = self._vault.copy_in(ctx.bucket, facts["key"], blob, ahead.retain_until, facts.get("version_id"),
                                         ahead, tags, if_match=facts.get("etag"))
        if stored != facts["sha256"]:
            raise IntegrityError(f"{facts['key']}: vault copy has SHA-256 {stored}, expected {facts['sha256']}")
        return _Placed(blob, ahead.retain_until, ahead.mode, True, stored.version_id, new.fresh)

    def _secured(self, ctx: _Batch, place: _Placed, warm_needed: date) -> _Placed:
        """The blob kept warm as long as the recovery point needs, and locked at least until its date (ahead by
        the slack), in its mode or stricter."""
        warm = place.warm
        if warm is None or raised_warm_until(warm, warm_needed) is not None:
            warm = keep_warm(self._vault, place.blob, warm_needed)
        place = place._replace(warm=warm)
        seal, slack = ctx.seal, self._settings.lock_slack_days
        ahead = seal.ahead(slack)  # so the next days' backups need not extend it
        recompliance = seal.mode is LockMode.COMPLIANCE and place.mode != LockMode.COMPLIANCE
        # Extended when short, and early on the blob's own day in every `slack` days (a hash of its address, as tag
        # refreshes): blobs first locked together are then extended 1/slack a day, never all on one day - and once
        # that day, however many backups run in it (an hourly plan's later ones find it extended to that date)
        rolling = slack > 0 and is_refresh_day(place.blob, self._clock.now().date(), slack) \
            and place.locked_until is not None and place.locked_until.date() < ahead.retain_until.date()
        if place.locked_until is None or place.locked_until < seal.retain_until or recompliance or rolling:
            # one call where the catalog recorded the pinned version's lock (S3 refuses what the record got wrong);
            # else, or refused, a look: extends the newest version, or re-seals a GOVERNANCE blob as COMPLIANCE
            extended = None if recompliance or not place.version_id or place.locked_until is None or \
                not place.mode else self._vault.extend_pinned(
                    place.blob, place.version_id, VersionLock(LockMode(place.mode), place.locked_until), ahead.mode,
                    ahead.retain_until)
            if extended is not None:
                return place._replace(locked_until=ahead.retain_until, mode=extended)
            lock = self._vault.secure(place.blob, ahead)
            place = place._replace(locked_until=lock[1] or ahead.retain_until, mode=lock.mode,
                                   version_id=pinned_version(place.blob, lock))
        return place

    @staticmethod
    def _finished(ctx: _Batch, facts: dict[str, Any], place: _Placed) -> _Outcome:
        """The manifest entry and object-index record of an object whose content the vault holds."""
        facts = {**facts, "blob_version_id": place.version_id}
        entry = ObjectEntry.model_validate(_entry_fields(facts))
        assert place.locked_until is not None and place.warm is not None
        record = {**entry.model_dump(mode="json"), "retain_until": place.locked_until.isoformat(),
                  "lock_mode": place.mode, "warm_until": format_day(place.warm), TAGS_READ_AT: facts.get(TAGS_READ_AT)}
        return _Outcome(entry=entry, record=record, copied=place.copied)
