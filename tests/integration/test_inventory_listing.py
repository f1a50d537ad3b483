"""S3 Inventory as an S3 backup's listing, on the twin (moto delivers no inventory: the test writes one as S3 does).

A recent enough inventory replaces ListObjectsV2: the same bounded batch files, the same server-side copies, the
source recorded on the job. Without a usable one (none, too old, older than the previous backup, not yet complete)
the bucket is listed, and the job says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest, ManifestPart
from coffer_cli.local.inventory import bucket_rows, configure_inventory, deliver_inventory
from coffer_cli.local.session import LocalCoffer
from coffer_twin.calls import DRIVER, CallRecorder

ROOT = Path(__file__).resolve().parents[2]
INVENTORIES = "coffer-test-inventories"


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    # 5 objects a batch: the 40 objects below make several batch files and two ListBatches calls (5 x 5 per call)
    with twins.fresh({"BatchSize": "5"}) as deployed:
        yield deployed


def _bucket(coffer: LocalCoffer, name: str, count: int = 40) -> list[str]:
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket=name)
    keys = [f"dir {n % 3}/object+{n:03d}.txt" for n in range(count)]  # spaces and '+': URL-encoded in the CSV
    for n, key in enumerate(keys):
        s3.put_object(Bucket=name, Key=key, Body=f"{name} {n}".encode())
    return keys


def _backup(coffer: LocalCoffer, bucket: str, token: str) -> tuple[Job, list[Any]]:
    with CallRecorder() as calls:
        result = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{bucket}", "IdempotencyToken": token})
    assert result["status"] == "SUCCEEDED", result
    return coffer.deps.catalog.get_job(result["output"]["job_id"]), [c for c in calls.snapshot() if c.caller != DRIVER]


def _keys_in(coffer: LocalCoffer, job: Job) -> list[str]:
    rp = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
    manifest = Manifest.model_validate_json(coffer.deps.vault.get_bytes(rp.manifest_key or ""))
    return sorted(e.key for ref in manifest.parts
                  for e in ManifestPart.model_validate_json(coffer.deps.vault.get_bytes(ref.key)).entries)


def _listed(calls: list[Any], bucket: str) -> int:
    return sum(1 for c in calls if c.operation == "ListObjectsV2" and c.bucket_and_key[0] == bucket)


def test_a_recent_inventory_replaces_the_listing_in_bounded_slices_and_skips_what_was_deleted(
        coffer: LocalCoffer) -> None:
    s3 = coffer.client("s3")
    keys = _bucket(coffer, "inventoried")
    configure_inventory(s3, "inventoried", INVENTORIES)
    deliver_inventory(s3, "inventoried", INVENTORIES, bucket_rows(s3, "inventoried"),
                      coffer.clock.now() - timedelta(hours=2), rows_per_file=7)
    s3.delete_object(Bucket="inventoried", Key=keys[4])  # listed by the inventory, gone since: skipped
    s3.put_object(Bucket="inventoried", Key="after-the-inventory.txt", Body=b"new")  # not in that inventory
    job, calls = _backup(coffer, "inventoried", "inventory-first")

    assert job.state.value == "COMPLETED"
    assert job.progress.listing_source == "S3 Inventory"
    assert job.progress.listing_note and "manifest.json" in job.progress.listing_note
    assert _listed(calls, "inventoried") == 0  # the source bucket was never listed
    assert _keys_in(coffer, job) == sorted(set(keys) - {keys[4]})
    # bounded: each ListBatches call wrote at most pages_per_listing x BatchSize = 25 objects (40 -> 2 calls)
    assert coffer.twin.invocations["ListBatchesFunction"] >= 2
    batches = [coffer.deps.work.read_json(f"jobs/{job.job_id}/batches/{seq:08d}.json")
               for seq in range(job.progress.batches_total or 0)]
    assert all(len(b["items"]) <= 5 for b in batches) and sum(len(b["items"]) for b in batches) == 40
    # each source object read at most once, by CopyBatch, to hash it (these are smaller than HashInLambdaMaxBytes):
    # blobs are written by server-side copies only, never by a handler's PutObject
    reads = [c.bucket_and_key[1] for c in calls if c.operation == "GetObject" and c.bucket_and_key[0] == "inventoried"]
    assert len(reads) == len(set(reads)) and all(c.caller == "CopyBatchFunction" for c in calls
                                                 if c.operation == "GetObject" and c.bucket_and_key[0] == "inventoried")
    assert not [c for c in calls if c.operation == "PutObject" and "/blobs/" in (c.bucket_and_key[1] or "")]


def test_an_incremental_backup_from_a_newer_inventory_copies_exactly_the_changed_object(coffer: LocalCoffer) -> None:
    s3 = coffer.client("s3")
    keys = _bucket(coffer, "inventoried-twice", count=12)
    configure_inventory(s3, "inventoried-twice", INVENTORIES)
    deliver_inventory(s3, "inventoried-twice", INVENTORIES, bucket_rows(s3, "inventoried-twice"),
                      coffer.clock.now() - timedelta(minutes=30))
    first, _ = _backup(coffer, "inventoried-twice", "inventory-incremental-1")
    assert first.progress.listing_source == "S3 Inventory" and first.progress.objects_copied == 12
    s3.put_object(Bucket="inventoried-twice", Key=keys[3], Body=b"changed")
    deliver_inventory(s3, "inventoried-twice", INVENTORIES, bucket_rows(s3, "inventoried-twice"),
                      coffer.clock.now() + timedelta(minutes=2))
    second, calls = _backup(coffer, "inventoried-twice", "inventory-incremental-2")
    assert second.progress.listing_source == "S3 Inventory"
    assert (second.progress.objects_copied, second.progress.objects_reused) == (1, 11)
    assert _listed(calls, "inventoried-twice") == 0


@pytest.mark.parametrize(("case", "why"), [
    ("none", "the bucket has no S3 Inventory configuration"),
    ("stale", "no complete delivery in the last 48 h"),
    ("incomplete", "no complete delivery in the last 48 h"),
    ("prefix", "covers only the prefix 'dir 1/'"),
    ("older-than-previous-backup", "is older than the bucket's previous backup"),
])
def test_without_a_usable_inventory_the_bucket_is_listed_and_the_job_says_why(coffer: LocalCoffer, case: str,
                                                                               why: str) -> None:
    s3 = coffer.client("s3")
    bucket = f"listed-{case}"
    keys = _bucket(coffer, bucket, count=6)
    now = coffer.clock.now()
    if case == "stale":
        configure_inventory(s3, bucket, INVENTORIES)
        deliver_inventory(s3, bucket, INVENTORIES, bucket_rows(s3, bucket), now - timedelta(days=3))
    elif case == "incomplete":
        configure_inventory(s3, bucket, INVENTORIES)
        deliver_inventory(s3, bucket, INVENTORIES, bucket_rows(s3, bucket), now - timedelta(hours=1), complete=False)
    elif case == "prefix":
        configure_inventory(s3, bucket, INVENTORIES, filter_prefix="dir 1/")
        deliver_inventory(s3, bucket, INVENTORIES, bucket_rows(s3, bucket), now - timedelta(hours=1))
    elif case == "older-than-previous-backup":
        listed, _ = _backup(coffer, bucket, f"{case}-by-listing")  # no inventory yet: listed now
        assert listed.progress.listing_source == "ListObjectsV2"
        configure_inventory(s3, bucket, INVENTORIES)
        deliver_inventory(s3, bucket, INVENTORIES, bucket_rows(s3, bucket), now - timedelta(hours=1))
    job, calls = _backup(coffer, bucket, f"{case}-listed")
    assert job.state.value == "COMPLETED"
    assert job.progress.listing_source == "ListObjectsV2"
    assert job.progress.listing_note is not None and why in job.progress.listing_note, job.progress.listing_note
    assert _listed(calls, bucket) >= 1
    assert _keys_in(coffer, job) == sorted(keys)


@pytest.mark.parametrize("compress", [True, False])
def test_a_data_file_is_read_a_bounded_slice_at_a_time_and_resumes_where_it_stopped(
        coffer: LocalCoffer, compress: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import coffer.adapters.resources.s3_inventory as s3_inventory

    monkeypatch.setattr(s3_inventory, "CHUNK_BYTES", 300)  # a few rows per ranged GET of an uncompressed file
    s3 = coffer.client("s3")
    bucket = f"sliced-{'gz' if compress else 'csv'}"
    keys = _bucket(coffer, bucket, count=23)
    configure_inventory(s3, bucket, INVENTORIES)
    key = deliver_inventory(s3, bucket, INVENTORIES, bucket_rows(s3, bucket), coffer.clock.now(),
                            rows_per_file=100, compress=compress)
    inventory = s3_inventory.S3Inventory(s3)
    manifest = inventory.manifest(INVENTORIES, key)
    assert len(manifest.files) == 1
    read: list[str] = []
    position, done, calls = 0, False, 0
    while not done:
        items, position, done = inventory.read(manifest, 0, position, limit=4)
        assert len(items) <= 4
        read.extend(i["key"] for i in items)
        calls += 1
    assert read == sorted(keys) and calls >= 6
    listed = {o["key"]: o for o in coffer.deps.s3.list_page(bucket, None, 1000)[0]}
    assert inventory.read(manifest, 0, 0, limit=100)[0] == [listed[k] for k in sorted(keys)]  # the listing's facts
