"""Restores never take over (issue 15, item 4): tried on the twin with IAM enforced, as the principal who would try
it - the restore requester RestoreRequesterArns names (``events:PutEvents`` on the Coffer bus, nothing else), aiming
a restore at something that exists.

- An existing bucket is written into only when its versioning is Enabled (every overwritten object keeps its
  previous version); a new bucket is the default, and a bucket NewBucket names that exists is refused before any
  write - no job, nothing written, its objects, versions and tags as they were.
- No byte that differs from the manifest stays visible: the restore reads the blob versions the recovery point pins,
  whatever was written over them in the vault since.
- One missing blob, or one key over 1,024 bytes under DestinationPrefix, fails that key only: PARTIAL naming it.
- Every header S3 keeps is restored, with the user metadata, the tags and the storage class.
(The same rules on the fakes, with a checksum mismatch and a restore whose every key fails:
tests/unit/services/test_s3_restores.py.)
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job, JobState
from coffer.domain.manifest import Manifest, ManifestPart, VaultLayout
from coffer_cli.local.samples import bucket_snapshot

from .conftest import Secured


def restore(secured: Secured, token: str, metadata: dict[str, str],
            recovery_point_id: str | None = None) -> dict[str, Any]:
    """A StartRestoreJob the requester puts on the Coffer bus; the execution's result once it ended. What the
    workflow called, IAM allowed: every refusal here is Coffer's own, never a permission that is missing."""
    events = secured.session("requester").client("events")
    mark = len(secured.twin.iam.decisions)
    [execution] = secured.twin.put_event("coffer", "StartRestoreJob", {
        "RecoveryPointArn": recovery_point_id or secured.recovery_point_id, "IdempotencyToken": token,
        "Metadata": metadata}, bus=secured.coffer.request_bus, events_client=events)
    result = dict(secured.twin.wait(execution, timeout=240))
    assert [d for d in secured.decisions_since(mark) if not d.allowed] == []
    return result


def cause(secured: Secured, result: dict[str, Any]) -> str:
    events = [e for e in secured.twin.history(str(result["arn"])) if e["type"] in ("TaskFailed", "ExecutionFailed")]
    return json.dumps(events, default=str)


def job(secured: Secured, token: str) -> Job:
    return secured.coffer.deps.catalog.get_job(job_id_for(token))


def everything_in(secured: Secured, bucket: str) -> dict[str, Any]:
    """A bucket as a take-over would change it: every version's bytes, the delete markers, the bucket's tags."""
    s3 = secured.coffer.client("s3")
    listed = s3.list_object_versions(Bucket=bucket)
    versions = {(v["Key"], v["VersionId"]): hashlib.sha256(
        s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()).hexdigest()
        for v in listed.get("Versions", [])}
    try:
        tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except s3.exceptions.ClientError:
        tags = []
    return {"versions": versions, "markers": sorted(m["Key"] for m in listed.get("DeleteMarkers", [])), "tags": tags}


def user_bucket(secured: Secured, name: str, versioning: str | None) -> None:
    """The user's bucket the restore aims at: their newer README.txt, tagged, versioning as given."""
    s3 = secured.coffer.client("s3")
    s3.create_bucket(Bucket=name)
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if versioning == "Suspended":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "owner", "Value": "orders-team"}]})
    s3.put_object(Bucket=name, Key="README.txt", Body=b"the user's newer README")


def backed_up(secured: Secured, bucket: str, objects: dict[str, dict[str, Any]]) -> str:
    """A bucket of `objects` (key -> PutObject parameters) backed up by the Backup workflow; its recovery point."""
    s3 = secured.coffer.client("s3")
    s3.create_bucket(Bucket=bucket)
    for key, params in objects.items():
        s3.put_object(Bucket=bucket, Key=key, **params)
    done = secured.coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{bucket}", "IdempotencyToken": bucket})
    assert done["status"] == "SUCCEEDED", done
    return secured.coffer.deps.catalog.get_job(done["output"]["job_id"]).recovery_point_id


# ---- the bucket: never someone else's -----------------------------------------------------------------------------
@pytest.mark.parametrize(("versioning", "new_bucket", "refusal"), [
    (None, {"NewBucket": "false"}, "has versioning never enabled: a restore would overwrite its objects"),
    ("Suspended", {"NewBucket": "false"}, "has versioning Suspended: a restore would overwrite its objects"),
    (None, {}, "exists: a restore into a new bucket (NewBucket, the default) never writes into a bucket it did"),
    ("Enabled", {"NewBucket": "true"}, "exists: a restore into a new bucket (NewBucket, the default) never writes"),
])
def test_a_restore_aimed_at_an_existing_bucket_that_would_lose_what_it_overwrites_is_refused_before_any_write(
        secured: Secured, versioning: str | None, new_bucket: dict[str, str], refusal: str) -> None:
    target = f"users-{(versioning or 'none').lower()}-{len(new_bucket) and new_bucket['NewBucket']}"
    user_bucket(secured, target, versioning)
    before = everything_in(secured, target)
    token = f"take-over-{target}"
    result = restore(secured, token, {"DestinationBucketName": target, **new_bucket})
    assert result["status"] == "FAILED" and result["error"] == "RequestRefused", result
    assert f"Metadata.DestinationBucketName: '{target}' {refusal}" in cause(secured, result)
    with pytest.raises(NotFound):
        job(secured, token)  # refused before the job existed
    assert everything_in(secured, target) == before  # its objects, versions and tags as they were


def test_a_versioned_bucket_keeps_every_version_the_restore_overwrites(secured: Secured) -> None:
    user_bucket(secured, "users-versioned", "Enabled")
    s3 = secured.coffer.client("s3")
    [newer] = s3.list_object_versions(Bucket="users-versioned", Prefix="README.txt")["Versions"]
    result = restore(secured, "into-versioned", {"DestinationBucketName": "users-versioned", "NewBucket": "false"})
    assert result["status"] == "SUCCEEDED", cause(secured, result)
    assert job(secured, "into-versioned").state is JobState.COMPLETED
    versions = s3.list_object_versions(Bucket="users-versioned", Prefix="README.txt")["Versions"]
    assert len(versions) == 2 and newer["VersionId"] in {v["VersionId"] for v in versions}
    kept = s3.get_object(Bucket="users-versioned", Key="README.txt", VersionId=newer["VersionId"])["Body"].read()
    assert kept == b"the user's newer README"  # the overwritten object is one GetObject away
    assert bucket_snapshot(s3, "users-versioned") == bucket_snapshot(s3, secured.source_bucket)
    assert s3.get_bucket_tagging(Bucket="users-versioned")["TagSet"] == [{"Key": "owner", "Value": "orders-team"}]


def test_a_restore_still_never_writes_into_coffers_own_buckets(secured: Secured) -> None:
    for bucket in (secured.vault_bucket, secured.coffer.settings.work_bucket):
        for new_bucket in ({}, {"NewBucket": "false"}):
            token = f"own-{bucket[-6:]}-{len(new_bucket)}"
            result = restore(secured, token, {"DestinationBucketName": bucket, **new_bucket})
            assert result["error"] == "RequestRefused", result
            assert "is one of this Coffer stack's own buckets" in cause(secured, result)
            with pytest.raises(NotFound):
                job(secured, token)


# ---- objects: what the recovery point holds, or named failed ------------------------------------------------------
def test_a_blob_written_over_in_the_vault_is_never_restored(secured: Secured) -> None:
    """Someone who may write to the vault puts other bytes over a blob (a new version of its key): the restore reads
    the version the recovery point pins, and restores what was backed up."""
    rp = backed_up(secured, "planted-source", {"ledger.csv": {"Body": b"id,amount\n1,10\n"}})
    blob = VaultLayout.blob("Default", hashlib.sha256(b"id,amount\n1,10\n").hexdigest())
    secured.coffer.client("s3").put_object(
        Bucket=secured.vault_bucket, Key=blob, Body=b"id,amount\n1,1000000\n", ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1), ChecksumAlgorithm="SHA256")
    result = restore(secured, "planted", {"DestinationBucketName": "planted-restored"}, rp)
    assert result["status"] == "SUCCEEDED", cause(secured, result)
    assert job(secured, "planted").state is JobState.COMPLETED
    got = secured.coffer.client("s3").get_object(Bucket="planted-restored", Key="ledger.csv")["Body"].read()
    assert got == b"id,amount\n1,10\n"


def test_a_missing_blob_fails_its_key_only_and_the_restore_ends_partial_naming_it(secured: Secured) -> None:
    rp = backed_up(secured, "gaps-source", {f"gap-{n}.txt": {"Body": f"gap object {n}".encode()} for n in range(3)})
    entry = next(e for e in _entries(secured, rp) if e["key"] == "gap-1.txt")
    # the blob's pinned version gone (the operator role may delete a GOVERNANCE version, bypassing it)
    secured.session("operator").client("s3").delete_object(
        Bucket=secured.vault_bucket, Key=VaultLayout.blob("Default", entry["sha256"]),
        VersionId=entry["blob_version_id"], BypassGovernanceRetention=True)
    result = restore(secured, "gaps", {"DestinationBucketName": "gaps-restored"}, rp)
    assert result["status"] == "SUCCEEDED", cause(secured, result)
    ended = job(secured, "gaps")
    assert ended.state is JobState.PARTIAL and ended.progress.objects == 2
    assert ended.progress.failed_keys == ["gap-1.txt (NoSuchVersion)"]
    keys = [o["Key"] for o in secured.coffer.client("s3").list_objects_v2(Bucket="gaps-restored")["Contents"]]
    assert keys == ["gap-0.txt", "gap-2.txt"]


def test_a_key_over_1024_bytes_under_the_prefix_fails_that_key_only(secured: Secured) -> None:
    long_key = "k" * 1000
    rp = backed_up(secured, "long-source", {long_key: {"Body": b"long"}, "short.txt": {"Body": b"short"}})
    prefix = "restored/" + "p" * 21  # 30 bytes: 1,030 with the long key
    result = restore(secured, "long", {"DestinationBucketName": "long-restored", "DestinationPrefix": prefix}, rp)
    assert result["status"] == "SUCCEEDED", cause(secured, result)
    ended = job(secured, "long")
    assert ended.state is JobState.PARTIAL and ended.progress.objects == 1
    [failed] = ended.progress.failed_keys
    assert failed.startswith(f"{long_key} (KeyTooLong: under DestinationPrefix its key is 1030 bytes")
    keys = [o["Key"] for o in secured.coffer.client("s3").list_objects_v2(Bucket="long-restored")["Contents"]]
    assert keys == [prefix + "short.txt"]


def test_every_header_s3_keeps_the_tags_and_the_storage_class_are_restored(secured: Secured) -> None:
    expires = datetime(2027, 1, 1, tzinfo=UTC)
    headers = {"ContentType": "text/html", "CacheControl": "max-age=60", "ContentDisposition": "inline",
               "ContentEncoding": "identity", "ContentLanguage": "fr-CA", "Expires": expires,
               "WebsiteRedirectLocation": "/moved.html", "StorageClass": "STANDARD_IA",
               "Metadata": {"owner": "web"}, "Tagging": "team=web&tier=gold"}
    rp = backed_up(secured, "headers-source", {"index.html": {"Body": b"<html/>", **headers}})
    result = restore(secured, "headers", {"DestinationBucketName": "headers-restored"}, rp)
    assert result["status"] == "SUCCEEDED", cause(secured, result)
    s3 = secured.coffer.client("s3")
    source, restored = (s3.head_object(Bucket=b, Key="index.html") for b in ("headers-source", "headers-restored"))
    kept = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "Expires",
            "WebsiteRedirectLocation", "StorageClass", "Metadata")
    assert {k: restored.get(k) for k in kept} == {k: source.get(k) for k in kept}
    assert restored["Expires"] == expires and restored["StorageClass"] == "STANDARD_IA"
    assert s3.get_object_tagging(Bucket="headers-restored", Key="index.html")["TagSet"] == [
        {"Key": "team", "Value": "web"}, {"Key": "tier", "Value": "gold"}]


def test_a_recovery_point_without_pins_never_leaves_bytes_that_differ_visible(secured: Secured) -> None:
    """A recovery point written before versions were pinned reads the newest blob version: a blob written over since
    is copied, S3's SHA-256 of the copy differs from the manifest's, and the version the restore wrote is deleted by
    its VersionId - the user's object it overwrote is current again - and the job FAILS naming the key."""
    body = b"id,amount\n2,20\n"
    rp_id = backed_up(secured, "unpinned-source", {"ledger.csv": {"Body": body}})
    _without_pins(secured, rp_id)
    s3 = secured.coffer.client("s3")
    s3.put_object(Bucket=secured.vault_bucket, Key=VaultLayout.blob("Default", hashlib.sha256(body).hexdigest()),
                  Body=b"id,amount\n2,2000000\n", ObjectLockMode="GOVERNANCE",
                  ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1), ChecksumAlgorithm="SHA256")
    user_bucket(secured, "users-ledger", "Enabled")
    s3.put_object(Bucket="users-ledger", Key="ledger.csv", Body=b"the user's newer ledger")
    before = everything_in(secured, "users-ledger")
    result = restore(secured, "unpinned", {"DestinationBucketName": "users-ledger", "NewBucket": "false"}, rp_id)
    assert result["status"] == "FAILED" and result["error"] == "JobFailed", result
    ended = job(secured, "unpinned")
    assert ended.state is JobState.FAILED
    [failed] = ended.progress.failed_keys
    assert failed.startswith("ledger.csv (IntegrityError: s3://users-ledger/ledger.csv: restored SHA-256")
    assert "restored 0 of 1 objects; 1 failed: ledger.csv (IntegrityError" in (ended.status_message or "")
    assert everything_in(secured, "users-ledger") == before  # the restore's version deleted, nothing else
    assert s3.get_object(Bucket="users-ledger", Key="ledger.csv")["Body"].read() == b"the user's newer ledger"


def test_the_restore_writer_deletes_nothing_in_the_vault_nor_the_work_bucket(secured: Secured) -> None:
    """RestoreBatch may delete object versions in restore targets (its own, whose checksum differs): tried by its role
    directly on the vault's blobs and the work bucket's files, what a bug in it could call."""
    s3 = secured.as_function("RestoreBatchFunction").client("s3")
    entry = _entries(secured, secured.recovery_point_id)[0]
    blob = VaultLayout.blob("Default", entry["sha256"])
    before = everything_in(secured, secured.vault_bucket)
    with secured.refused("s3:DeleteObjectVersion", "identity:NeverRestoreIntoTheVault"):
        s3.delete_object(Bucket=secured.vault_bucket, Key=blob, VersionId=entry["blob_version_id"])
    with secured.refused("s3:DeleteObject", "identity:NeverRestoreIntoTheVault"):
        s3.delete_object(Bucket=secured.vault_bucket, Key=blob)
    assert everything_in(secured, secured.vault_bucket) == before
    with secured.refused("s3:DeleteObject", "identity:NeverDeleteInTheWorkBucket"):
        s3.delete_object(Bucket=secured.coffer.settings.work_bucket, Key="jobs/some-backup/batches/00000000.json")


def _without_pins(secured: Secured, recovery_point_id: str) -> None:
    """Make the recovery point as backups wrote them before versions were pinned: parts and manifest without
    VersionIds (new versions of their keys, each checksum recorded where its reader checks it)."""
    vault, catalog = secured.coffer.deps.vault, secured.coffer.deps.catalog
    rp = catalog.get_recovery_point(recovery_point_id)
    key = rp.manifest_key or ""
    manifest = Manifest.model_validate_json(vault.get_bytes_version(key, rp.manifest_version_id or ""))
    refs = []
    for ref in manifest.parts:
        part = ManifestPart.model_validate_json(vault.get_bytes_version(ref.key, ref.version_id or ""))
        unpinned = part.model_copy(update={"entries": tuple(e.model_copy(update={"blob_version_id": None})
                                                            for e in part.entries)})
        sha = vault.put_json_locked(ref.key, unpinned.model_dump(mode="json"), rp.retain_until)
        refs.append(ref.model_copy(update={"sha256": str(sha), "version_id": None}))
    sha = vault.put_json_locked(key, manifest.model_copy(update={"parts": tuple(refs)}).model_dump(mode="json"),
                                rp.retain_until)
    catalog.put_recovery_point(rp.model_copy(update={"manifest_sha256": str(sha), "manifest_version_id": None}))


def _entries(secured: Secured, recovery_point_id: str) -> list[dict[str, Any]]:
    """The recovery point's manifest entries, read as a restore reads them (pinned versions)."""
    vault = secured.coffer.deps.vault
    rp = secured.coffer.deps.catalog.get_recovery_point(recovery_point_id)
    manifest = json.loads(vault.get_bytes_version(rp.manifest_key or "", rp.manifest_version_id or ""))
    return [e.model_dump(mode="json") for ref in manifest["parts"]
            for e in ManifestPart.model_validate_json(vault.get_bytes_version(ref["key"], ref["version_id"])).entries]
