"""The self-describing vault on the twin: the catalog rebuilt from the vault alone, and the scrub.

- delete every item of the catalog table, rebuild from the vault's manifests: the same recovery points;
- a version with a flipped byte written over a pinned blob (NEWER_VERSION), a removed object (MISSING), a
  delete marker over one (DELETE_MARKER) and an orphan are each reported by `coffer vault verify` and by the
  scheduled Verify workflow (which then fails); bytes that rot under S3's stored checksum are caught by the deep
  scrub only.

The twin stores the template's bucket policy for these tests (`Twin.bucket_policies_stored`, not evaluated: that
is tests/security's) and the vaults' statements are applied, as after a deploy: verify compares them too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.adapters.catalog.vaults import VaultCatalog
from coffer.domain.manifest import Manifest, ManifestPart, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint
from coffer_cli.cli import main
from coffer_cli.local.samples import SAMPLE_TABLE, create_sample_bucket, create_sample_table
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
STACK = ["--stack", "coffer-twin"]
BUCKET = "scrubbed-source"


@pytest.fixture
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh() as deployed, deployed.twin.bucket_policies_stored():
        create_sample_bucket(deployed.client("s3"), BUCKET)
        assert main(["vault", "apply-policies", *STACK]) == 0  # as after every deploy (docs/operations/deploy.md)
        yield deployed


def backup(coffer: LocalCoffer, arn: str, token: str, vault: str = "Default") -> RecoveryPoint:
    result = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": token, "BackupVaultName": vault,
                                  "Lifecycle": {"DeleteAfterDays": 30}, "RecoveryPointTags": {"t": token}})
    assert result["status"] == "SUCCEEDED", result
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    return coffer.deps.catalog.get_recovery_point(job.recovery_point_id)


def wipe_catalog(coffer: LocalCoffer) -> None:
    """The table's items are lost (test-only Scan: the catalog itself never scans)."""
    db, table = coffer.client("dynamodb"), coffer.settings.catalog_table
    for page in db.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk"):
        for item in page["Items"]:
            db.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def test_a_lost_catalog_is_rebuilt_from_the_vault_with_the_same_recovery_points(
        coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    create_sample_table(coffer.client("dynamodb"))
    table_arn = f"arn:aws:dynamodb:{coffer.twin.region}:123456789012:table/{SAMPLE_TABLE}"
    assert main(["vault", "create", "Gold", *STACK]) == 0
    assert main(["vault", "lock", "Gold", "--min-retention-days", "7", "--max-retention-days", "90", *STACK]) == 0
    backup(coffer, f"arn:aws:s3:::{BUCKET}", "s3-default")
    backup(coffer, table_arn, "ddb-default")
    backup(coffer, f"arn:aws:s3:::{BUCKET}", "s3-gold", vault="Gold")
    catalog = coffer.deps.catalog
    before = {v: sorted(catalog.list_recovery_points(v), key=lambda p: p.recovery_point_id)
              for v in ("Default", "Gold")}
    assert [len(points) for points in before.values()] == [2, 1]
    capsys.readouterr()
    main(["vault", "describe", "Gold", *STACK])
    gold_before = json.loads(capsys.readouterr().out)

    wipe_catalog(coffer)
    assert list(catalog.list_recovery_points("Default")) == []
    with pytest.raises(SystemExit, match="vault Gold does not exist"):
        main(["vault", "describe", "Gold", *STACK])
    capsys.readouterr()

    reports = []
    for vault in ("Gold", "Default"):
        assert main(["catalog", "rebuild", "--vault", vault, *STACK]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    # the chain: the vault's create and lock, then each backup's backup.complete record (5); nothing refused
    assert [(r["vault"], r["vault_restored"], r["restored"], r["audit_head"], r["findings"]) for r in reports] == [
        ("Gold", True, 1, 5, []), ("Default", True, 2, 5, [])]
    after = {v: sorted(catalog.list_recovery_points(v), key=lambda p: p.recovery_point_id)
             for v in ("Default", "Gold")}
    assert after == before
    main(["vault", "describe", "Gold", *STACK])
    gold_after = json.loads(capsys.readouterr().out)
    assert gold_after["lock"] == gold_before["lock"] and gold_after["key_arn"] == gold_before["key_arn"]
    assert main(["audit", "verify", *STACK]) == 0  # the chain head is back too
    capsys.readouterr()
    # A second rebuild changes nothing.
    assert main(["catalog", "rebuild", "--vault", "Default", *STACK]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["restored"], again["already_present"], again["differing"]) == (0, 2, [])


def tamper_targets(coffer: LocalCoffer, rp: RecoveryPoint) -> dict[str, Any]:
    manifest = Manifest.model_validate_json(coffer.deps.vault.get_bytes(rp.manifest_key or ""))
    parts = [ManifestPart.model_validate(coffer.deps.vault.get_json(p.key)) for p in manifest.parts]
    entries = [e for part in parts for e in part.entries]
    blobs = sorted({VaultLayout.blob(rp.vault_name, e.sha256) for e in entries})
    return {"parts": [p.key for p in manifest.parts], "blobs": blobs}


def findings(out: str) -> set[tuple[str, str]]:
    """(kind, object key) of each finding `coffer vault verify` printed."""
    kinds = ("ALTERED", "MISSING", "ORPHANED", "UNFINISHED", "NEWER_VERSION", "DELETE_MARKER", "UNOWNED",
             "UNLOCKED", "HOLD_OFF", "HOLD_UNRECORDED", "KEY_STATE", "KEY_POLICY_DRIFT", "BUCKET_POLICY_DRIFT",
             "OBJECT_LOCK_CONFIG", "VERSIONING")
    return {(line.split()[0], line.split()[1]) for line in out.splitlines() if line.startswith(kinds)}


def run_verify_workflow(coffer: LocalCoffer, deep: bool = False) -> dict[str, Any]:
    arn = coffer.twin.start_execution("VerifyStateMachine", {"vaults": ["Default"], "deep": deep})
    return dict(coffer.twin.wait(arn, timeout=120))


def test_verify_reports_flipped_removed_hidden_and_orphaned_objects_and_never_repairs(
        coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    rp = backup(coffer, f"arn:aws:s3:::{BUCKET}", "scrub")
    assert main(["vault", "verify", "Default", *STACK]) == 0
    assert run_verify_workflow(coffer)["status"] == "SUCCEEDED"
    capsys.readouterr()

    s3, bucket = coffer.client("s3"), coffer.settings.vault_bucket
    targets = tamper_targets(coffer, rp)
    flipped, removed, hidden = targets["blobs"][0], targets["blobs"][1], targets["blobs"][2]
    body = bytearray(s3.get_object(Bucket=bucket, Key=flipped)["Body"].read())
    body[0] ^= 0x01  # one flipped bit, written as a new version on top of the locked one
    s3.put_object(Bucket=bucket, Key=flipped, Body=bytes(body), ChecksumAlgorithm="SHA256")
    version = s3.head_object(Bucket=bucket, Key=removed)["VersionId"]
    s3.delete_object(Bucket=bucket, Key=removed, VersionId=version, BypassGovernanceRetention=True)
    s3.delete_object(Bucket=bucket, Key=hidden)  # a delete marker (the bucket policy denies it in an account)
    orphan = VaultLayout.blob("Default", "0" * 64)
    s3.put_object(Bucket=bucket, Key=orphan, Body=b"nobody's", ChecksumAlgorithm="SHA256")

    assert main(["vault", "verify", "Default", *STACK]) == 1
    out = capsys.readouterr().out
    # the forged version sits on top of the pinned one, which is intact and still what Coffer reads; the delete
    # marker hides a pinned version that is still there
    assert findings(out) == {("NEWER_VERSION", flipped), ("MISSING", removed), ("DELETE_MARKER", hidden),
                             ("ORPHANED", orphan)}
    assert "4 problem(s)" in out
    # never repaired: the forged version is still the current one, the removed blob still gone
    assert s3.get_object(Bucket=bucket, Key=flipped)["Body"].read() == bytes(body)

    failed = run_verify_workflow(coffer)
    assert (failed["status"], failed["error"]) == ("FAILED", "VaultVerifyFailed")
    # the run's findings are kept in the catalog
    summary = VaultCatalog(coffer.client("dynamodb"), coffer.settings.catalog_table).get_verify_run(
        failed["arn"].rsplit(":", 1)[-1])
    assert summary is not None and summary["problems"] == 3  # orphaned blobs are the CLI's to find
    assert {(f["kind"], f["key"]) for f in summary["findings"]} == {
        ("NEWER_VERSION", flipped), ("MISSING", removed), ("DELETE_MARKER", hidden)}


def test_a_removed_manifest_part_is_reported(coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    rp = backup(coffer, f"arn:aws:s3:::{BUCKET}", "part")
    s3, bucket = coffer.client("s3"), coffer.settings.vault_bucket
    part = tamper_targets(coffer, rp)["parts"][0]
    version = s3.head_object(Bucket=bucket, Key=part)["VersionId"]
    s3.delete_object(Bucket=bucket, Key=part, VersionId=version, BypassGovernanceRetention=True)
    assert main(["vault", "verify", *STACK]) == 1
    out = capsys.readouterr().out
    assert ("MISSING", part) in findings(out) and "manifest part is missing" in out
    # the blobs only that part referenced are now referenced by nothing: reported as orphans, not deleted
    assert {kind for kind, _ in findings(out)} == {"MISSING", "ORPHANED"}


def test_bytes_rotting_under_s3s_stored_checksum_are_caught_by_the_deep_scrub_only(
        coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    from moto.s3.models import s3_backends

    rp = backup(coffer, f"arn:aws:s3:::{BUCKET}", "rot")
    blob = tamper_targets(coffer, rp)["blobs"][0]
    stored = s3_backends[coffer.twin.account_id]["aws"].get_object(coffer.settings.vault_bucket, blob)
    rotten = bytearray(stored.value)
    rotten[-1] ^= 0x80
    stored.value = bytes(rotten)  # the bytes change; S3's stored SHA-256 does not
    assert main(["vault", "verify", "Default", *STACK]) == 0  # the checksum scrub reads no bytes: it cannot see it
    capsys.readouterr()
    assert main(["vault", "verify", "Default", "--deep", *STACK]) == 1
    assert findings(capsys.readouterr().out) == {("ALTERED", blob)}
    deep = run_verify_workflow(coffer, deep=True)
    assert (deep["status"], deep["error"]) == ("FAILED", "VaultVerifyFailed")
