"""S3 restores on the ports' in-memory fakes (tests/fakes): restores never take over a bucket, no byte that differs
from the manifest stays visible, one object's failure fails that object only - each tried as the request or the
vault state that would get past the rule (issue 15, item 4; the same attacks on the twin with IAM enforced:
tests/security/test_restore_never_takes_over.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fakes.catalog import MemoryRestoreLeases
from fakes.resources import FakeResources, RecordingAdapter
from fakes.world import START, FakeWorld

from coffer.domain.errors import InvalidInput, RestoreMismatch, UploadGone
from coffer.domain.jobs import JobState
from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry, PartRef, VaultLayout, WorkLayout
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.requests import StartRestoreJobRequest
from coffer.domain.resources import ResourceType
from coffer.ports.multipart import Composite, Upload
from coffer.ports.resources import BackupStrategy
from coffer.services.large_objects import LargeObjects, fanout_seq
from coffer.services.restore_jobs import RestoreJobs

SOURCE = "arn:aws:s3:::orders"
EXECUTION = "arn:aws:states:eu-west-1:111122223333:execution:coffer-restore:one"
OBJECTS = {"a.txt": b"alpha", "b.txt": b"bravo", "c.txt": b"charlie"}


class S3Recording(RecordingAdapter):
    """The S3 adapter's job-level side as the service sees it: objects restored batch by batch (ObjectBatches)."""

    strategy = BackupStrategy.OBJECTS

    def validate_restore(self, job: Any, manifest: Manifest) -> dict[str, Any]:
        if job.progress.objects != manifest.objects:
            raise RestoreMismatch(f"restored {job.progress.objects} objects, the recovery point holds "
                                  f"{manifest.objects}")
        return {"objects": job.progress.objects}


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def entry(key: str, body: bytes, **headers: Any) -> ObjectEntry:
    return ObjectEntry(key=key, size=len(body), etag=key, last_modified=START.isoformat(), sha256=sha(body), **headers)


def backed_up(world: FakeWorld, objects: dict[str, bytes], pinned: bool = False,
              **headers: Any) -> tuple[RecoveryPoint, str]:
    """An S3 recovery point as a backup leaves it: blobs, one manifest part, the manifest; (it, its part's key).
    `pinned`: as backups write them now (each blob, part and the manifest pinned by VersionId); else as before."""
    rp = RecoveryPoint(recovery_point_id="rp-s3", vault_name="Default", resource_arn=SOURCE,
                       resource_type=ResourceType.S3, status=RecoveryPointStatus.COMPLETED, creation_date=START,
                       retain_until=START, job_id="backup-1", manifest_key=VaultLayout.manifest("Default", "rp-s3"))
    versions = {key: world.vault.put_locked(VaultLayout.blob("Default", sha(body)), body, START).version_id
                for key, body in objects.items()}
    entries = tuple(entry(key, body, **({"blob_version_id": versions[key]} if pinned else {}), **headers)
                    for key, body in objects.items())
    part_key = VaultLayout.part("Default", rp.recovery_point_id, 0)
    part_sha = world.vault.put_json_locked(part_key, ManifestPart(recovery_point_id=rp.recovery_point_id, seq=0,
                                                                  entries=entries).model_dump(mode="json"), START)
    manifest = Manifest(recovery_point=rp, completed_at=START, objects=len(entries), parts=(
        PartRef(seq=0, key=part_key, sha256=part_sha, version_id=part_sha.version_id if pinned else None,
                objects=len(entries), bytes=0),))
    manifest_sha = world.vault.put_json_locked(rp.manifest_key or "", manifest.model_dump(mode="json"), START)
    world.catalog.put_recovery_point(rp.model_copy(update={
        "manifest_sha256": manifest_sha, "manifest_version_id": manifest_sha.version_id if pinned else None}))
    return rp, part_key


def restore_jobs(world: FakeWorld) -> tuple[RestoreJobs, S3Recording]:
    s3 = S3Recording(ResourceType.S3)
    return RestoreJobs(world.catalog, world.vault, FakeResources(world.ebs, s3), MemoryRestoreLeases(world.table),
                       world.continuous, world.targets, world.settings, world.clock), s3


def request(metadata: dict[str, str], token: str = "restore-1") -> StartRestoreJobRequest:
    return StartRestoreJobRequest.model_validate({"RecoveryPointArn": "rp-s3", "IdempotencyToken": token,
                                                  "Metadata": metadata})


# ---- the bucket: a new one by default, an existing one only when it keeps every version ------------------------
@pytest.mark.parametrize(("metadata", "versioning", "cause"), [
    # NewBucket left out (a new bucket: the default) or "true", naming a bucket that exists - versioned or not
    ({"DestinationBucketName": "orders"}, "", "exists: a restore into a new bucket (NewBucket, the default)"),
    ({"DestinationBucketName": "orders", "NewBucket": "true"}, "Enabled", "exists: a restore into a new bucket"),
    # an existing bucket that would lose what the restore overwrites
    ({"DestinationBucketName": "orders", "NewBucket": "false"}, "", "has versioning never enabled"),
    ({"DestinationBucketName": "orders", "NewBucket": "false"}, "Suspended", "has versioning Suspended"),
    ({"DestinationBucketName": "orders", "NewBucket": "false"}, None, 'does not exist (NewBucket is "false")'),
])
def test_a_restore_that_would_take_over_a_bucket_is_refused_before_anything_is_written(
        metadata: dict[str, str], versioning: str | None, cause: str) -> None:
    world = FakeWorld()
    backed_up(world, OBJECTS)
    if versioning is not None:
        world.targets.create("orders", versioning)
    jobs, s3 = restore_jobs(world)
    before, writes = world.table.snapshot(), list(world.buckets.writes)
    with pytest.raises(InvalidInput) as refused:
        jobs.start(request(metadata), "event-1", EXECUTION)
    [problem] = refused.value.problems
    assert problem.startswith("Metadata.DestinationBucketName: 'orders' ") and cause in problem, problem
    assert world.table.snapshot() == before and world.buckets.writes == writes and s3.restored == []


@pytest.mark.parametrize(("metadata", "existing"), [
    ({"DestinationBucketName": "orders-restored"}, None),  # a new bucket by default
    ({"DestinationBucketName": "orders", "NewBucket": "false"}, "Enabled"),  # keeps every version it overwrites
])
def test_a_new_bucket_or_a_versioned_one_is_restored_into(metadata: dict[str, str], existing: str | None) -> None:
    world = FakeWorld()
    backed_up(world, OBJECTS)
    if existing is not None:
        world.targets.create("orders", existing)
    jobs, s3 = restore_jobs(world)
    started = jobs.start(request(metadata), "event-1", EXECUTION)
    assert started.next == "objects" and s3.restored == [started.job_id]


def test_a_retried_start_goes_on_into_the_bucket_its_first_attempt_created() -> None:
    world = FakeWorld()
    backed_up(world, OBJECTS)
    jobs, s3 = restore_jobs(world)
    first = jobs.start(request({"DestinationBucketName": "orders-restored"}), "event-1", EXECUTION)
    world.targets.create("orders-restored")  # what the first attempt's start_restore made
    again = jobs.start(request({"DestinationBucketName": "orders-restored"}), "event-1", EXECUTION)
    assert again.job_id == first.job_id and s3.restored == [first.job_id]


# ---- objects: checked against the manifest, one failure fails that key only -------------------------------------
def running(world: FakeWorld, metadata: dict[str, str]) -> tuple[RestoreJobs, str]:
    jobs, _ = restore_jobs(world)
    started = jobs.start(request(metadata), "event-1", EXECUTION)
    return jobs, started.job_id


def test_an_object_whose_restored_bytes_differ_is_deleted_and_what_it_overwrote_is_current_again() -> None:
    world = FakeWorld()
    _, part = backed_up(world, OBJECTS)
    world.targets.create("orders", "Enabled")
    world.buckets.put("orders", "b.txt", b"the user's newer bravo")
    world.targets.corrupting[("orders", "b.txt")] = b"bravo, changed in flight"
    jobs, job_id = running(world, {"DestinationBucketName": "orders", "NewBucket": "false"})
    result = world.object_restores.restore_part(job_id, part)
    assert (result.objects, result.failed) == (2, 1)
    assert world.targets.current_body("orders", "b.txt") == b"the user's newer bravo"  # only Coffer's version went
    [(bucket, key, version)] = world.targets.deleted
    assert (bucket, key) == ("orders", "b.txt") and version is not None
    done = jobs.complete(job_id)
    assert done.state == JobState.PARTIAL.value
    [failed] = world.catalog.get_job(job_id).progress.failed_keys
    assert failed.startswith("b.txt (IntegrityError: s3://orders/b.txt: restored SHA-256")


def test_a_missing_blob_fails_its_key_only_and_the_restore_ends_partial_naming_it() -> None:
    world = FakeWorld()
    _, part = backed_up(world, OBJECTS)
    del world.buckets.buckets["vault"][VaultLayout.blob("Default", sha(OBJECTS["c.txt"]))]
    jobs, job_id = running(world, {"DestinationBucketName": "orders-restored"})
    world.targets.create("orders-restored")
    result = world.object_restores.restore_part(job_id, part)
    assert (result.objects, result.failed) == (2, 1)
    assert world.targets.current_body("orders-restored", "a.txt") == b"alpha"
    assert world.targets.current_body("orders-restored", "c.txt") is None
    done = jobs.complete(job_id)
    job = world.catalog.get_job(job_id)
    assert done.state == JobState.PARTIAL.value and job.progress.objects == 2
    assert job.progress.failed_keys == ["c.txt (NoSuchKey)"]


def test_a_key_over_1024_bytes_under_the_prefix_is_failed_not_reported_restored() -> None:
    world = FakeWorld()
    long_key = "k" * 1000
    _, part = backed_up(world, {"short": b"fits", long_key: b"does not fit"})
    prefix = "restored/" + "p" * 20  # 29 bytes: the short key fits, the 1,000-byte key does not
    jobs, job_id = running(world, {"DestinationBucketName": "orders-restored", "DestinationPrefix": prefix})
    world.targets.create("orders-restored")
    result = world.object_restores.restore_part(job_id, part)
    assert (result.objects, result.failed) == (1, 1)
    assert world.buckets.keys("orders-restored", "") == [prefix + "short"]
    jobs.complete(job_id)
    [failed] = world.catalog.get_job(job_id).progress.failed_keys
    assert failed.startswith(f"{long_key} (KeyTooLong: under DestinationPrefix its key is 1029 bytes")


def test_a_restore_whose_every_key_failed_fails_naming_them() -> None:
    world = FakeWorld()
    _, part = backed_up(world, OBJECTS)
    # a recovery point without pins (written before versions were pinned) reads the newest blob versions: every
    # blob overwritten by a newer version in the vault is read, checked, and fails its key
    for body in OBJECTS.values():
        world.buckets.put("vault", VaultLayout.blob("Default", sha(body)), b"planted")
    jobs, job_id = running(world, {"DestinationBucketName": "orders-restored"})
    world.targets.create("orders-restored")
    result = world.object_restores.restore_part(job_id, part)
    assert (result.objects, result.failed) == (0, 3)
    assert world.buckets.keys("orders-restored", "") == []  # no byte that differs stays visible
    with pytest.raises(RestoreMismatch) as failed:
        jobs.complete(job_id)
    assert str(failed.value).startswith("restored 0 of 3 objects; 3 failed: a.txt (IntegrityError")
    assert all(key in str(failed.value) for key in OBJECTS)
    assert len(world.catalog.get_job(job_id).progress.failed_keys) == 3


def test_every_header_s3_keeps_and_the_storage_class_are_restored() -> None:
    world = FakeWorld()
    headers = {"content_type": "text/plain", "cache_control": "max-age=60", "content_disposition": "inline",
               "content_encoding": "identity", "content_language": "fr", "expires": "2027-01-01T00:00:00+00:00",
               "website_redirect_location": "/elsewhere", "storage_class": "STANDARD_IA",
               "metadata": {"owner": "orders"}, "tags": {"team": "orders", "tier": "gold"}}
    _, part = backed_up(world, {"a.txt": b"alpha"}, **headers)
    jobs, job_id = running(world, {"DestinationBucketName": "orders-restored"})
    world.targets.create("orders-restored")
    world.object_restores.restore_part(job_id, part)
    [(where, given)] = world.targets.headers.items()
    assert where[:2] == ("orders-restored", "a.txt")
    assert given == {"ContentType": "text/plain", "CacheControl": "max-age=60", "ContentDisposition": "inline",
                     "ContentEncoding": "identity", "ContentLanguage": "fr", "WebsiteRedirectLocation": "/elsewhere",
                     "Expires": given["Expires"], "StorageClass": "STANDARD_IA", "Metadata": {"owner": "orders"},
                     "Tagging": "team=orders&tier=gold"}
    assert given["Expires"].isoformat() == "2027-01-01T00:00:00+00:00"
    assert jobs.complete(job_id).state == JobState.COMPLETED.value


# ---- pinned reads: the versions the recovery point pins, whatever was written over them since ----------------
def test_a_pinned_restore_reads_the_blob_part_and_manifest_versions_it_pins_not_what_was_written_over_them() -> None:
    world = FakeWorld()
    rp, part = backed_up(world, OBJECTS, pinned=True)
    jobs, job_id = running(world, {"DestinationBucketName": "orders-restored"})
    world.targets.create("orders-restored")
    # someone who may write to the vault writes over every blob, the part and the manifest (new versions)
    for body in OBJECTS.values():
        world.buckets.put("vault", VaultLayout.blob("Default", sha(body)), b"planted")
    world.buckets.put("vault", part, b'{"entries": []}')
    world.buckets.put("vault", rp.manifest_key or "", b'{"planted": true}')
    result = world.object_restores.restore_part(job_id, part)
    assert (result.objects, result.failed) == (3, 0)
    assert {key: world.targets.current_body("orders-restored", key) for key in OBJECTS} == OBJECTS
    assert jobs.complete(job_id).state == JobState.COMPLETED.value


def test_a_pinned_blob_version_that_is_gone_fails_its_key_only() -> None:
    world = FakeWorld()
    _, part = backed_up(world, OBJECTS, pinned=True)
    jobs, job_id = running(world, {"DestinationBucketName": "orders-restored"})
    world.targets.create("orders-restored")
    blob = VaultLayout.blob("Default", sha(OBJECTS["a.txt"]))
    world.buckets.put("vault", blob, OBJECTS["a.txt"])  # the same bytes again, a newer version ...
    world.buckets.buckets["vault"][blob].pop(0)  # ... and the pinned one deleted
    result = world.object_restores.restore_part(job_id, part)
    assert (result.objects, result.failed) == (2, 1)
    assert world.targets.current_body("orders-restored", "a.txt") is None  # never the unpinned version instead
    assert jobs.complete(job_id).state == JobState.PARTIAL.value
    assert world.catalog.get_job(job_id).progress.failed_keys == ["a.txt (NoSuchVersion)"]


# ---- objects copied in parts: the same rule, and never the user's version ------------------------------------------
class StubCopier:
    """MultipartCopies as a large restore's finish uses it: `complete` answers `completes` (or UploadGone), a retry
    finds the key's current version (`current`); `discarded` records every DeleteObject."""

    def __init__(self, completes: Composite | None, current: Composite) -> None:
        self.completes, self.current = completes, current
        self.discarded: list[tuple[str, str, str | None]] = []
        self.aborted = 0

    def complete(self, upload: Upload) -> Composite:
        if self.completes is None:
            raise UploadGone("completed by an earlier attempt")
        return self.completes

    def composite_of(self, bucket: str, key: str) -> tuple[Composite | None, int]:
        return self.current, 12

    def abort(self, upload: Upload) -> None:
        self.aborted += 1

    def discard(self, bucket: str, key: str, version_id: str | None) -> None:
        self.discarded.append((bucket, key, version_id))


def finish_large(world: FakeWorld, copier: StubCopier) -> dict[str, Any]:
    """A restore's deferred blob at its finish (services/large_objects.py), completed by `copier`; its result."""
    large = LargeObjects(world.catalog, world.vault, world.work, copier, world.vaults, world.settings)
    backed_up(world, OBJECTS)
    _, job_id = running(world, {"DestinationBucketName": "orders-restored"})
    big = ObjectEntry(key="big.bin", size=12, etag="e", last_modified=START.isoformat(), sha256="ab" * 32,
                      checksum_type="COMPOSITE", parts=3, part_size=4)
    upload = Upload("vault", "blob", None, 12, 4, "orders-restored", "big.bin", "upload-1")
    key = WorkLayout.large(job_id, 0, 0, 0)
    world.work.write_json(key, {"seq": fanout_seq(0, 0), "entry": big.model_dump(mode="json"),
                                "upload": upload.to_json()})
    large.finish(job_id, key)
    [result] = [r for r in world.catalog.list_parts(job_id) if r.get("fanout")]
    return result


def test_a_large_object_completed_with_another_checksum_has_its_version_deleted() -> None:
    world = FakeWorld()
    copier = StubCopier(completes=Composite("cd" * 32, 3, "v-written"), current=Composite("cd" * 32, 3, "v-written"))
    result = finish_large(world, copier)
    assert copier.discarded == [("orders-restored", "big.bin", "v-written")]
    assert result["failed"][0]["key"] == "big.bin" and result["restored"] == 0


def test_a_retried_finish_never_deletes_the_version_it_did_not_write() -> None:
    """The upload was completed by an earlier attempt: the key's current version may be the user's object the
    restore overwrote (or theirs written since) - its checksum differs, and it is not Coffer's to delete."""
    world = FakeWorld()
    copier = StubCopier(completes=None, current=Composite("ef" * 32, 3, "v-users"))
    result = finish_large(world, copier)
    assert copier.discarded == []
    assert result["failed"][0]["key"] == "big.bin"
