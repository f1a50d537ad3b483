"""Pinned versions (DESIGN invariant 6), tried on the IAM-enforced twin by who can write into the vault: a principal
the vault bucket's policy lets put objects under a vault prefix (a function role that writes recovery points or blobs
- a bug or an attacker in that function, or an account administrator who got the policy out of the way).

- a new version written over a recovery point's manifest.json (forged tags, an earlier delete date) is refused by
  `coffer catalog rebuild` (TAMPERED): the version the audit chain recorded is rebuilt;
- a made-up recovery point (a new prefix under vaults/<v>/recovery-points/) is not imported (UNTRUSTED), even when
  its manifest is locked for longer than it claims;
- a manifest.json that does not parse is reported (UNPARSEABLE) and the rebuild goes on, exit status 1;
- a new version written over a blob or a manifest part is not what a copy reads: the copy carries the pinned bytes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from coffer.domain.job_ids import job_id_for
from coffer.domain.manifest import Manifest, ManifestPart, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint
from coffer.entrypoints.bootstrap import bootstrap
from coffer_cli.commands.common import stack_settings
from coffer_cli.local.copy_destinations import DESTINATION_REGION, session_in, vault_arn

from .conftest import Secured

#: writes recovery points (manifests, parts) under the bucket policy: what a forger borrows
MANIFEST_WRITER = "CompleteBackupFunction"
#: writes blobs under the bucket policy
BLOB_WRITER = "CopyBatchFunction"


def base(secured: Secured) -> RecoveryPoint:
    return secured.coffer.deps.catalog.get_recovery_point(secured.recovery_point_id)


def manifest_of(secured: Secured, rp: RecoveryPoint) -> Manifest:
    vault = secured.coffer.deps.vault
    return Manifest.model_validate_json(vault.get_bytes_version(rp.manifest_key or "", rp.manifest_version_id or ""))


def put_as(secured: Secured, who: str, key: str, body: bytes, days: int) -> str:
    """PutObject as `who` (its own policy and the bucket policy both evaluated), locked for `days`."""
    s3 = secured.as_function(who).client("s3")
    until = secured.coffer.clock.now() + timedelta(days=days)
    response = s3.put_object(Bucket=secured.vault_bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                             ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)
    return str(response["VersionId"])


def lose_recovery_point(secured: Secured, recovery_point_id: str) -> None:
    """The catalog lost this recovery point's item (test harness: a direct DeleteItem)."""
    secured.coffer.client("dynamodb").delete_item(TableName=secured.coffer.settings.catalog_table, Key={
        "pk": {"S": f"RP#{recovery_point_id}"}, "sk": {"S": "RP"}})


def rebuild(secured: Secured) -> tuple[int, dict[str, Any]]:
    status, out = secured.cli("operator", "catalog", "rebuild", "--vault", "Default")
    return status, json.loads(out)


def findings_of(report: dict[str, Any], recovery_point_id: str) -> list[str]:
    return [f["kind"] for f in report["findings"] if f.get("recovery_point_id") == recovery_point_id]


def test_a_manifest_written_over_with_forged_dates_and_tags_is_refused_and_the_recorded_one_rebuilt(
        secured: Secured) -> None:
    rp = base(secured)
    manifest = manifest_of(secured, rp)
    soon = secured.coffer.clock.now() + timedelta(days=1)
    forged = manifest.model_copy(update={"recovery_point": manifest.recovery_point.model_copy(update={
        "delete_at": soon, "retain_until": soon, "tags": {"legal": "none", "owner": "attacker"}})})
    forged_version = put_as(secured, MANIFEST_WRITER, rp.manifest_key or "", forged.model_dump_json().encode(), 2)
    assert secured.coffer.deps.vault.lock_of(rp.manifest_key or "").version_id == forged_version  # it is the newest
    lose_recovery_point(secured, rp.recovery_point_id)

    status, report = rebuild(secured)
    assert status == 1 and report["refused"] >= 1
    assert findings_of(report, rp.recovery_point_id) == ["TAMPERED"]
    [tampered] = [f for f in report["findings"] if f.get("recovery_point_id") == rp.recovery_point_id]
    assert forged_version in tampered["found"] and rp.manifest_version_id in tampered["expected"]
    again = secured.coffer.deps.catalog.get_recovery_point(rp.recovery_point_id)
    assert again == rp  # its own dates, tags and pinned manifest version: not the forged ones


def test_a_made_up_recovery_point_is_not_imported_even_locked_longer_than_it_claims(secured: Secured) -> None:
    manifest = manifest_of(secured, base(secured))
    planted = manifest.recovery_point.model_copy(update={"recovery_point_id": "made-up", "job_id": "never-ran",
                                                         "tags": {"planted": "yes"}})
    key = VaultLayout.manifest("Default", "made-up")
    put_as(secured, MANIFEST_WRITER, key, manifest.model_copy(update={"recovery_point": planted})
           .model_dump_json().encode(), 3653)

    status, report = rebuild(secured)
    assert status == 1
    assert findings_of(report, "made-up") == ["UNTRUSTED"] and "made-up: refused" in report["skipped"]
    points = [p.recovery_point_id for p in secured.coffer.deps.catalog.list_recovery_points("Default")]
    assert "made-up" not in points and secured.recovery_point_id in points


def test_an_unparseable_manifest_is_reported_and_the_rebuild_goes_on(secured: Secured) -> None:
    put_as(secured, MANIFEST_WRITER, VaultLayout.manifest("Default", "not-a-manifest"), b"\x00{ not json", 1)
    lose_recovery_point(secured, secured.recovery_point_id)

    status, report = rebuild(secured)  # no traceback: a report, and a status
    assert status == 1
    assert findings_of(report, "not-a-manifest") == ["UNPARSEABLE"]
    assert secured.coffer.deps.catalog.get_recovery_point(secured.recovery_point_id).recovery_point_id == \
        secured.recovery_point_id  # the others are rebuilt all the same


def test_a_blob_and_a_part_written_over_are_not_what_a_copy_reads(secured: Secured) -> None:
    rp = base(secured)
    manifest = manifest_of(secured, rp)
    vault = secured.coffer.deps.vault
    ref = manifest.parts[0]
    part = ManifestPart.model_validate_json(vault.get_bytes_version(ref.key, ref.version_id or ""))
    entry = part.entries[0]
    blob = VaultLayout.blob_of("Default", entry)
    assert entry.blob_version_id and ref.version_id  # the backup pinned both
    put_as(secured, BLOB_WRITER, blob, b"the attacker's bytes", 1)
    forged_part = part.model_copy(update={"entries": part.entries[:1]})
    put_as(secured, MANIFEST_WRITER, ref.key, forged_part.model_dump_json().encode(), 1)
    assert vault.get_bytes(blob) == b"the attacker's bytes"  # an unpinned read would take it

    outputs = secured.destination
    destination = session_in(DESTINATION_REGION)
    bootstrap(stack_settings(outputs, destination), clock=secured.coffer.clock, session=destination).vaults.get(
        "Default")  # the destination vault's record, as its first backup would make it
    token = "pinned-copy"
    [arn] = secured.twin.put_event("coffer", "StartCopyJob", {
        "RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": token,
        "DestinationBackupVaultArn": vault_arn(DESTINATION_REGION, secured.twin.account_id)},
        bus=secured.coffer.request_bus)
    result = secured.twin.wait(arn, timeout=180)
    assert result["status"] == "SUCCEEDED", result
    assert not secured.twin.iam.refusals(), secured.twin.iam.refusals()
    job = secured.coffer.deps.catalog.get_job(job_id_for(token))
    assert job.destination is not None
    s3, bucket = destination.client("s3"), outputs["VaultBucketName"]
    copied_blob = s3.get_object(Bucket=bucket, Key=blob)["Body"].read()
    assert hashlib.sha256(copied_blob).hexdigest() == entry.sha256  # the pinned bytes, not the attacker's
    copied = json.loads(s3.get_object(Bucket=bucket, Key=VaultLayout.manifest(
        "Default", job.destination.recovery_point_id))["Body"].read())
    assert copied["objects"] == manifest.objects  # every object of the pinned part, not the forged part's one
    # the copy pins its own versions in the destination, and its chain records the copy's manifest
    copied_part = json.loads(s3.get_object(Bucket=bucket, Key=copied["parts"][0]["key"])["Body"].read())
    assert copied["parts"][0]["version_id"] and all(e["blob_version_id"] for e in copied_part["entries"])
    records = [json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())["record"]
               for o in s3.list_objects_v2(Bucket=bucket, Prefix="audit/").get("Contents", [])]
    assert [(r["action"], r["target"]) for r in records][-1:] == [
        ("copy.complete", job.destination.recovery_point_id)]
    assert records[-1]["details"]["manifest_version_id"]


def test_the_backup_recorded_its_manifest_in_the_audit_chain(secured: Secured) -> None:
    rp = base(secured)
    records = list(secured.coffer.deps.audit_log("test").records())
    [record] = [r for r in records if r.action == "backup.complete" and r.target == rp.recovery_point_id]
    assert record.actor == "coffer:backup"
    assert (record.details["manifest_key"], record.details["manifest_version_id"],
            record.details["manifest_sha256"]) == (rp.manifest_key, rp.manifest_version_id, rp.manifest_sha256)
    assert datetime.fromisoformat(record.details["retain_until"]).astimezone(UTC) == rp.retain_until
