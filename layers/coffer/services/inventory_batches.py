"""An S3 backup's listing from the bucket's S3 Inventory, when it has a recent enough one (domain/inventory.py).

The ListBatches step's first call chooses the source and records it on the job (``progress.listing_source`` and
``listing_note``: which inventory, or why the bucket is listed instead). With an inventory, each call reads at most
``pages_per_listing x batch_size`` rows of its data files (the same bound as a listing call) and writes them as the
same bounded batch files; the workflow loops on the token as it does for ListObjectsV2's continuation token. The
copy steps are the same: server-side copies, and an object the inventory lists but that is gone is skipped.
"""

from __future__ import annotations

from datetime import timedelta

from coffer.domain.batches import split_by_bytes
from coffer.domain.clock import Clock
from coffer.domain.inventory import TOKEN_PREFIX, decode_token, encode_token
from coffer.domain.jobs import Job
from coffer.domain.manifest import WorkLayout
from coffer.domain.resources import resource_name
from coffer.domain.steps import ListBatchesResult
from coffer.ports.catalog import Catalog
from coffer.ports.inventories import Inventories
from coffer.ports.listing_marks import ListingMarkStore
from coffer.ports.work_area import WorkArea
from coffer.settings import Settings

LISTING = "ListObjectsV2"
INVENTORY = "S3 Inventory"


class InventoryBatches:
    def __init__(self, catalog: Catalog, inventories: Inventories, marks: ListingMarkStore, work: WorkArea,
                 settings: Settings, clock: Clock) -> None:
        self._catalog = catalog
        self._inventory = inventories
        self._marks = marks
        self._work = work
        self._settings = settings
        self._clock = clock

    def maybe_list(self, job: Job, token: str | None, next_seq: int) -> tuple[Job, ListBatchesResult | None]:
        """The next slice from the inventory, or (job, None) when the bucket is listed (ListObjectsV2) instead.
        The job returned is the one to go on with (its listing source recorded on the first call)."""
        if token is not None and not token.startswith(TOKEN_PREFIX):
            return job, None  # a listing under way
        if token is None:
            if next_seq != 0 or job.progress.listing_source not in (None, INVENTORY):
                return job, None  # (a retried first call of a listing goes on listing)
            job, token = self._choose(job)
            if token is None:
                return job, None
        return job, self._slice(job, token, next_seq)

    def _choose(self, job: Job) -> tuple[Job, str | None]:
        """First call: an inventory young enough (and not older than the previous backup's listing), else a listing."""
        now = self._clock.now()
        bucket = resource_name(job.resource_arn)
        listed_before = self._marks.listed_before(job.vault_name, bucket)
        max_age = timedelta(hours=self._settings.inventory_max_age_hours)
        manifest, where, key = self._inventory.newest_usable(bucket, now, max_age, listed_before)
        if manifest is None:
            self._marks.mark(job.vault_name, bucket, now)
            progress = job.progress.model_copy(update={"listing_source": LISTING, "listing_note": key})
            return self._catalog.save_job(job.with_changes(progress=progress)), None
        # The recovery point is the bucket as the inventory saw it: that is what the next backup must not predate.
        self._marks.mark(job.vault_name, bucket, manifest.created_at)
        note = f"s3://{where}/{key} of {manifest.created_at.isoformat()} ({len(manifest.files)} data files)"
        progress = job.progress.model_copy(update={"listing_source": INVENTORY, "listing_note": note})
        return self._catalog.save_job(job.with_changes(progress=progress)), encode_token(where, key, 0, 0)

    def _slice(self, job: Job, token: str, next_seq: int) -> ListBatchesResult:
        settings = self._settings
        bucket = resource_name(job.resource_arn)
        where, key, file_index, position = decode_token(token)
        manifest = self._inventory.manifest(where, key)
        budget = settings.pages_per_listing * settings.batch_size
        items = []
        while budget > 0 and file_index < len(manifest.files):
            read, position, done = self._inventory.read(manifest, file_index, position, budget)
            items.extend(read)
            budget -= len(read)
            if done:
                file_index, position = file_index + 1, 0
        seq = next_seq
        for start in range(0, len(items), settings.batch_size):
            for batch in split_by_bytes(items[start:start + settings.batch_size], settings.batch_bytes):
                self._work.write_json(WorkLayout.batch(job.job_id, seq), {"bucket": bucket, "items": batch})
                seq += 1
        more = file_index < len(manifest.files)
        if not more:
            self._catalog.save_job(job.with_changes(progress=job.progress.model_copy(update={"batches_total": seq})))
        resume = encode_token(where, key, file_index, position) if more else None
        return ListBatchesResult(job_id=job.job_id, token=resume, next_seq=seq, more=more,
                                 items_prefix=WorkLayout.batches_prefix(job.job_id))
