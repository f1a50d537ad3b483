"""Kept forever, locked forever: three simulated years of sweeps over recovery points without DeleteAfterDays.

moto-direct, with the injected clock (as test_lifecycle_sweeper_year.py), and the twin's two DynamoDB cost fixes
(a Query reads its partition, a transaction copies the items it names, not the table: coffer_twin.dynamodb_items,
.dynamodb_transactions; without them moto's item copies were most of the walk's CPU): the Sweep workflow's steps
are run in order on each run day - ListSweepItems, SweepBatch per batch file, ListSweepItems (renewals), RenewLocks per
renewal item, ListSweepItems (blobs), CollectBlobs per file, CompleteSweep - as the Distributed Maps would. In
the vault:

- a kept-forever S3 recovery point (two manifest parts, four blobs, an amendment), one of whose blobs it shares
  with a recovery point deleted after 100 days, which also has a blob of its own;
- a kept-forever EBS recovery point (its manifest only in the vault);
- a kept-forever S3 recovery point made 400 days later (its renewals fall on other days), sharing a blob.

The sweep runs daily for the first 60 days and within 3 days of every renewal and expiry date, and every 14th
day in between: a daily run there decides the same (nothing is due; a decision reads only the catalog's dates),
and about 130 runs instead of 1,095 keep the test within minutes on moto. Locks change only when a run does:
after each run every kept-forever object must stay locked past the *next* run day, so no lock lapses on any
day, run or not (the attacker: anyone who could delete a version once its retain-until has passed - S3 would
let them). Blob collection must serve the vault (the expired recovery point's own blob collected once its lock
passed, the kept-forever ones' never). PutObjectRetention is counted per object: once a year (bench/README.md).
The simulated years lie in the past of the wall clock, so moto (which enforces locks by the wall clock) never
refuses what the injected clock allows.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from coffer.domain.clock import FixedClock
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.lock_renewal import RENEWAL_HORIZON, RENEWAL_LEAD
from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry, PartRef, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.resources import ResourceType
from coffer.domain.sweep import CompleteSweepStep, ListSweepItemsStep, SweepPhase
from coffer.entrypoints.bootstrap import Root, bootstrap
from coffer.settings import Settings
from coffer_twin.dynamodb_items import fast_table_listing
from coffer_twin.dynamodb_transactions import transactions_by_item

REGION = "us-east-1"
TABLE = "catalog"
YEARS = 3
DAYS = YEARS * 365
#: far enough in the past that every lock the simulation sets (up to DAYS + a horizon) has passed on the wall clock
START = (datetime.now(UTC) - timedelta(days=DAYS + 2 * 365 + 60)).replace(hour=0, minute=0, second=0, microsecond=0)
FOREVER = Lifecycle(move_to_cold_storage_after_days=None)
SHORT = Lifecycle(delete_after_days=100)
KEY = "arn:aws:kms:us-east-1:123456789012:key/stack"
DEFAULT_DAYS = 35  # Settings.default_retention_days: a kept-forever recovery point's first lock


@dataclass
class World:
    clock: FixedClock
    deps: Root
    #: PutObjectRetention calls per key (every client of the composition root)
    retention_puts: Counter[str]
    #: each key's retain-until as the last PutObject / PutObjectRetention that set it asked (checked against S3's
    #: own on every day a renewal ran: the daily check then needs no HeadObject per object)
    locked_until: dict[str, datetime]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, create_catalog_table: Callable[[Any, str], None]) -> Iterator[World]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(), fast_table_listing(), transactions_by_item():  # moto's DynamoDB at DynamoDB's cost
        session = boto3.Session(region_name=REGION)
        puts: Counter[str] = Counter()
        locked: dict[str, datetime] = {}

        def count(params: dict[str, Any], **_: Any) -> None:
            puts[params["Key"]] += 1
            locked[params["Key"]] = params["Retention"]["RetainUntilDate"]

        def written(params: dict[str, Any], **_: Any) -> None:
            if params.get("ObjectLockRetainUntilDate"):
                locked[params["Key"]] = params["ObjectLockRetainUntilDate"]

        # registered on the session before any client is made: every client of the composition root counts
        session.events.register("provide-client-params.s3.PutObjectRetention", count)
        session.events.register("provide-client-params.s3.PutObject", written)
        create_catalog_table(session.client("dynamodb"), TABLE)
        session.client("s3").create_bucket(Bucket="vault", ObjectLockEnabledForBucket=True)
        session.client("s3").create_bucket(Bucket="work")
        settings = Settings(catalog_table=TABLE, vault_bucket="vault", work_bucket="work", vault_key_arn=KEY,
                            region=REGION, default_retention_days=DEFAULT_DAYS)
        clock = FixedClock(START)
        yield World(clock, bootstrap(settings, clock, session), puts, locked)


def _entry(content: str) -> ObjectEntry:
    sha = hashlib.sha256(content.encode()).hexdigest()
    return ObjectEntry(key=content, size=len(content), etag="e", last_modified="2020-01-01T00:00:00Z", sha256=sha)


def _blob(w: World, content: str, until: datetime) -> ObjectEntry:
    entry = _entry(content)
    blob = VaultLayout.blob_of("Default", entry)
    if not w.deps.vault.lock_of(blob)[0]:
        w.deps.vault.put_locked(blob, content.encode(), until, content_type="application/octet-stream")
    else:
        w.deps.vault.extend_retention(blob, until)  # a later backup of the same content, as CopyBatch does
    return entry


def _s3_backup(w: World, rid: str, lifecycle: Lifecycle, parts: list[list[str]]) -> RecoveryPoint:
    """A completed S3 recovery point as CompleteBackup leaves it: blobs, parts and manifest locked until its
    retain-until (the vault's default for a kept-forever one), an amendment beside the manifest, catalogued."""
    created = w.clock.now()
    until = lifecycle.retain_until(created, DEFAULT_DAYS)
    refs = []
    for seq, contents in enumerate(parts):
        part = ManifestPart(recovery_point_id=rid, seq=seq, entries=tuple(_blob(w, c, until) for c in contents))
        key = VaultLayout.part("Default", rid, seq)
        sha = w.deps.vault.put_json_locked(key, part.model_dump(mode="json"), until)
        refs.append(PartRef(seq=seq, key=key, sha256=sha, objects=len(contents), bytes=0))
    rp = RecoveryPoint(recovery_point_id=rid, vault_name="Default", resource_arn=f"arn:aws:s3:::{rid}",
                       resource_type=ResourceType.S3, status=RecoveryPointStatus.COMPLETED, creation_date=created,
                       completion_date=created, lifecycle=lifecycle, delete_at=lifecycle.delete_at(created),
                       retain_until=until, job_id=f"job-{rid}", manifest_key=VaultLayout.manifest("Default", rid))
    assert rp.manifest_key is not None
    w.deps.vault.put_json_locked(rp.manifest_key, Manifest(recovery_point=rp, completed_at=created, parts=tuple(
        refs)).model_dump(mode="json"), until)
    prefix = VaultLayout.recovery_point_prefix("Default", rid)
    w.deps.vault.put_json_locked(f"{prefix}amendments/tags.json", {"recovery_point_id": rid}, until)
    w.deps.catalog.put_recovery_point(rp)
    return rp


def _ebs_backup(w: World, rid: str) -> RecoveryPoint:
    """A kept-forever EBS recovery point: in the vault, its manifest only (the snapshot is EBS's)."""
    created = w.clock.now()
    until = FOREVER.retain_until(created, DEFAULT_DAYS)
    rp = RecoveryPoint(recovery_point_id=rid, vault_name="Default", resource_arn="arn:aws:ec2:us-east-1:1:volume/v",
                       resource_type=ResourceType.EBS, status=RecoveryPointStatus.COMPLETED, creation_date=created,
                       completion_date=created, lifecycle=FOREVER, retain_until=until, job_id=f"job-{rid}",
                       manifest_key=VaultLayout.manifest("Default", rid),
                       native_ref="arn:aws:ec2:us-east-1::snapshot/s")
    assert rp.manifest_key is not None
    w.deps.vault.put_json_locked(rp.manifest_key, Manifest(recovery_point=rp, completed_at=created,
                                                           parts=()).model_dump(mode="json"), until)
    w.deps.catalog.put_recovery_point(rp)
    return rp


def _daily_sweep(w: World, run_id: str) -> dict[str, Any]:
    """The Sweep workflow's steps in order, each Distributed Map's children one after another."""
    sweeper, work = w.deps.sweeper, w.deps.work

    def listed(phase: SweepPhase) -> list[str]:
        step = ListSweepItemsStep(run_id=run_id, phase=phase)
        while True:
            result = sweeper.list_items(step)
            if not result.more:
                break
            step = ListSweepItemsStep(run_id=run_id, phase=phase, token=result.token, next_seq=result.next_seq)
        if result.next_seq == 0:
            return []  # the Choice skips the Map
        return sorted(o["key"] for o in work.listing(result.items_prefix))

    for key in listed(SweepPhase.RECOVERY_POINTS):
        sweeper.sweep_batch(run_id, key)
    renewals = listed(SweepPhase.RENEWALS)
    for key in renewals:
        w.deps.lock_renewals.renew_batch(run_id, key)
    for key in listed(SweepPhase.BLOBS):
        sweeper.collect_blobs(run_id, key)
    summary = sweeper.complete(CompleteSweepStep(run_id=run_id))
    assert summary.state == "COMPLETED", summary
    return {"renewal_items": len(renewals), "summary": summary}


def _objects(w: World, rp: RecoveryPoint) -> set[str]:
    """Every object that must stay locked while `rp` is kept: under its prefix, and the blobs its parts name."""
    prefix = VaultLayout.recovery_point_prefix(rp.vault_name, rp.recovery_point_id)
    keys = {key for key, _ in w.deps.vault.versions(prefix)}
    for key in [k for k in keys if "/parts/" in k]:
        part = ManifestPart.model_validate(w.deps.vault.get_json(key))
        keys |= {VaultLayout.blob_of(rp.vault_name, e) for e in part.entries}
    return keys


#: the days a daily sweep does something: kept-s3 and kept-ebs renew on 5, 370, 735; kept-later (made on day 400)
#: on 405, 770; short-s3 expires on 100
EVENTFUL = (5, 100, 370, 405, 735, 770)
RUN_DAYS = sorted({d for d in range(1, DAYS + 1)
                   if d <= 60 or d % 14 == 0 or any(abs(d - e) <= 3 for e in EVENTFUL) or d == 400})


@pytest.mark.slow  # three years of sweeps on moto: about 130 runs of the workflow's steps
def test_kept_forever_locks_never_lapse_over_three_years_and_are_renewed_about_once_a_year(world: World) -> None:
    w = world
    w.clock.set(START + timedelta(hours=1))
    kept = _s3_backup(w, "kept-s3", FOREVER, [["shared", "a"], ["b", "c"]])
    short = _s3_backup(w, "short-s3", SHORT, [["shared", "only-short"]])
    kept_ebs = _ebs_backup(w, "kept-ebs")
    later: RecoveryPoint | None = None
    only_short = VaultLayout.blob_of("Default", _entry("only-short"))
    watched = {rp.recovery_point_id: _objects(w, rp) for rp in (kept, kept_ebs)}
    w.retention_puts.clear()  # the backups' own (short-s3 extended the blob it shares): only renewals counted
    assert len(watched["kept-s3"]) == 2 + 1 + 1 + 4 and len(watched["kept-ebs"]) == 1
    renewal_days: list[int] = []
    collected_on: int | None = None
    for n, day in enumerate(RUN_DAYS):
        w.clock.set(START + timedelta(days=day, hours=12))
        next_run = START + timedelta(days=RUN_DAYS[n + 1] if n + 1 < len(RUN_DAYS) else DAYS + 1, hours=12)
        if day == 400:  # a year later, another kept-forever recovery point: its renewals fall on other days
            later = _s3_backup(w, "kept-later", FOREVER, [["d", "a"]])
            watched["kept-later"] = _objects(w, later)
        ran = _daily_sweep(w, f"day-{day}")
        if ran["renewal_items"]:
            renewal_days.append(day)
        now = w.clock.now()
        if ran["renewal_items"] or day in (1, 400):  # the locks S3 holds are the ones the calls asked for
            for key in set().union(*watched.values()):
                assert w.deps.vault.lock_of(key)[1] == w.locked_until[key], (day, key)
        for rid, keys in watched.items():
            rp = w.deps.catalog.get_recovery_point(rid)
            assert rp.status is RecoveryPointStatus.COMPLETED and rp.retain_until > now, (day, rp)
            for key in keys:
                # never lapses: every object locked beyond the next run (nothing changes a lock in between), and
                # at least as long as the catalog claims
                assert w.locked_until[key] >= rp.retain_until > next_run, (day, rid, key, w.locked_until[key])
        if collected_on is None and ran["summary"].blobs_deleted:
            assert not w.deps.vault.lock_of(only_short)[0], day  # the one blob only the expired one named
            collected_on = day
        # blob collection serves the vault: never blocked for a kept-forever recovery point
        assert not ran["summary"].gc_skipped, (day, ran["summary"].gc_skipped)

    # the short-lived recovery point expired at 100 days; its own blob was collected by that day's run (its lock
    # had passed), while the blob it shared with the kept-forever one stayed (extended with it)
    assert w.deps.catalog.get_recovery_point(short.recovery_point_id).status is RecoveryPointStatus.EXPIRED
    assert collected_on == 100, collected_on
    # amortised: one renewal a year per kept-forever recovery point - the first 5 days after the backup moves its
    # 35-day default lock to a year past that; then a year later, and so on - and on the other days no S3 write
    first = DEFAULT_DAYS - RENEWAL_LEAD.days
    year = RENEWAL_HORIZON.days
    renewed = {"kept-s3": [d for d in (first, first + year, first + 2 * year) if d <= DAYS],
               "kept-later": [d for d in (400 + first, 400 + first + year, 400 + first + 2 * year) if d <= DAYS]}
    renewed["kept-ebs"] = renewed["kept-s3"]
    assert renewal_days == sorted({d for days in renewed.values() for d in days}), renewal_days
    shared_later = VaultLayout.blob_of("Default", _entry("a"))  # in kept-s3 and kept-later: renewed by both
    for rid, keys in watched.items():
        for key in keys - {shared_later}:
            assert w.retention_puts[key] == len(renewed[rid]), (rid, key, w.retention_puts[key], renewed[rid])
    assert w.retention_puts[shared_later] <= len(renewed["kept-s3"]) + len(renewed["kept-later"])
    objects = set().union(*watched.values())
    per_object_year = sum(w.retention_puts[k] for k in objects) / len(objects) / YEARS
    # the figure in bench/README.md ("Kept-forever locks")
    assert 0.9 <= per_object_year <= 1.0, per_object_year
    print(f"PutObjectRetention per object per year: {per_object_year:.3f} "
          f"({sum(w.retention_puts[k] for k in objects)} over {len(objects)} objects, {YEARS} years)")
