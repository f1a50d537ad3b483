"""The vault bucket's policy, tried by the principals who would get past it (template.yaml VaultBucketPolicy).

Every principal here but the named ones holds ``s3:*`` or ``*`` in its own policy: what stops it is the bucket
policy alone. Each refusal is checked as the service's AccessDenied, as the statement that denied it, and as the
vault read back afterwards (no new version, retention, tag, legal hold, policy or rule).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from coffer.domain.manifest import Manifest

from .conftest import Secured, role_arn

FAR = datetime(2100, 1, 1, tzinfo=UTC)


def versions(secured: Secured, key: str) -> list[str]:
    listed = secured.coffer.client("s3").list_object_versions(Bucket=secured.vault_bucket, Prefix=key)
    return [v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key] + [
        m["VersionId"] for m in listed.get("DeleteMarkers", []) if m["Key"] == key]


def manifest_and_blob(secured: Secured) -> tuple[str, str]:
    rp = secured.coffer.deps.catalog.get_recovery_point(secured.recovery_point_id)
    manifest = Manifest.model_validate_json(secured.coffer.deps.vault.get_bytes(rp.manifest_key or ""))
    entry = secured.coffer.deps.vault.get_json(manifest.parts[0].key)["entries"][0]
    return str(rp.manifest_key), f"vaults/{rp.vault_name}/blobs/sha256/{entry['sha256']}"


def lock_of(secured: Secured, key: str) -> dict[str, Any]:
    s3 = secured.coffer.client("s3")
    head = s3.head_object(Bucket=secured.vault_bucket, Key=key)
    hold = s3.get_object_legal_hold(Bucket=secured.vault_bucket, Key=key)["LegalHold"].get("Status", "OFF")
    tags = s3.get_object_tagging(Bucket=secured.vault_bucket, Key=key)["TagSet"]
    return {"version": head["VersionId"], "mode": head.get("ObjectLockMode"),
            "until": head.get("ObjectLockRetainUntilDate"), "hold": hold, "tags": tags}


# ---- writes: who may put what where ----------------------------------------------------------------------
def test_the_restore_role_cannot_plant_a_recovery_point_in_the_vault(secured: Secured) -> None:
    s3 = secured.as_function("RestoreBatchFunction").client("s3")
    key = "vaults/Default/recovery-points/planted/manifest.json"
    with secured.refused("s3:PutObject", "identity:NeverRestoreIntoTheVault"):
        s3.put_object(Bucket=secured.vault_bucket, Key=key, Body=b"{}")
    assert versions(secured, key) == []


def test_a_function_role_writes_only_the_prefixes_it_must(secured: Secured) -> None:
    # CompleteBackup's own policy may write anywhere in the vault; the bucket policy keeps it to recovery points.
    blob = f"vaults/Default/blobs/sha256/{'0' * 64}"
    with secured.refused("s3:PutObject", "resource:OnlyBackupWritersWriteBlobs"):
        secured.as_function("CompleteBackupFunction").client("s3").put_object(
            Bucket=secured.vault_bucket, Key=blob, Body=b"planted")
    # The audit writer writes audit records and nothing else.
    manifest = "vaults/Default/recovery-points/planted-by-audit/manifest.json"
    with secured.refused("s3:PutObject", "resource:OnlyBackupWritersWriteRecoveryPoints"):
        secured.as_function("RecordAuditFunction").client("s3").put_object(
            Bucket=secured.vault_bucket, Key=manifest, Body=b"{}")
    assert versions(secured, blob) == [] and versions(secured, manifest) == []


def test_neither_an_admin_nor_the_operator_can_plant_or_overwrite_a_recovery_point(secured: Secured) -> None:
    manifest, _ = manifest_and_blob(secured)
    before = versions(secured, manifest)
    for who in ("admin", "operator"):
        s3 = secured.session(who).client("s3")
        with secured.refused("s3:PutObject", "resource:OnlyBackupWritersWriteRecoveryPoints"):
            s3.put_object(Bucket=secured.vault_bucket, Key=manifest, Body=b'{"forged": true}',
                          ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=FAR)
        assert versions(secured, manifest) == before


def test_nothing_is_written_outside_the_vault_layout_even_by_a_backup_writer(secured: Secured) -> None:
    for who in ("CopyBatchFunction", "admin"):
        session = secured.as_function(who) if who.endswith("Function") else secured.session(who)
        with secured.refused("s3:PutObject", "resource:NothingWrittenOutsideTheLayout"):
            session.client("s3").put_object(Bucket=secured.vault_bucket, Key=f"planted/{who}", Body=b"x")
        assert versions(secured, f"planted/{who}") == []


def test_an_account_admin_cannot_change_retention_or_tags_of_vault_objects(secured: Secured) -> None:
    _, blob = manifest_and_blob(secured)
    before = lock_of(secured, blob)
    s3 = secured.session("admin").client("s3")
    with secured.refused("s3:PutObjectRetention", "resource:OnlyBackupWritersWriteBlobs"):
        s3.put_object_retention(Bucket=secured.vault_bucket, Key=blob, VersionId=before["version"],
                                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": FAR})
    # coffer:tier=cold sends a blob to the archive class (the vault's lifecycle rule): tags are the tiering's.
    with secured.refused("s3:PutObjectTagging", "resource:OnlyTieringTagsVaultObjects"):
        s3.put_object_tagging(Bucket=secured.vault_bucket, Key=blob,
                              Tagging={"TagSet": [{"Key": "coffer:tier", "Value": "cold"}]})
    assert lock_of(secured, blob) == before


def test_an_account_admin_cannot_bypass_governance_delete_versions_or_hide_objects(secured: Secured) -> None:
    manifest, blob = manifest_and_blob(secured)
    before = {key: versions(secured, key) for key in (manifest, blob)}
    s3 = secured.session("admin").client("s3")
    with secured.refused("s3:DeleteObjectVersion", "resource:DenyVersionDeletion"):
        s3.delete_object(Bucket=secured.vault_bucket, Key=blob, VersionId=before[blob][0],
                         BypassGovernanceRetention=True)
    # A delete marker would hide the manifest from restores and verification; Object Lock allows it, the policy not.
    with secured.refused("s3:DeleteObject", "resource:DenyDeleteMarkers"):
        s3.delete_object(Bucket=secured.vault_bucket, Key=manifest)
    assert {key: versions(secured, key) for key in (manifest, blob)} == before


# ---- legal holds -----------------------------------------------------------------------------------------
def test_legal_holds_change_only_through_the_operator_or_the_legal_hold_role(secured: Secured) -> None:
    manifest, _ = manifest_and_blob(secured)
    mark = len(secured.twin.iam.decisions)
    status, out = secured.cli("operator", "legalhold", "create", "--title", "case 7",
                              "--recovery-point", secured.recovery_point_id)
    assert status == 0, out
    hold_id = json.loads(out)["legal_hold_id"]
    held = lock_of(secured, manifest)
    assert held["hold"] == "ON"
    for who in ("admin", "app"):  # s3:* in their own policies
        with secured.refused("s3:PutObjectLegalHold", "resource:OnlyLegalHoldRolesChangeLegalHolds"):
            secured.session(who).client("s3").put_object_legal_hold(
                Bucket=secured.vault_bucket, Key=manifest, VersionId=held["version"], LegalHold={"Status": "OFF"})
        assert lock_of(secured, manifest) == held
    status, out = secured.cli("legal", "legalhold", "release", hold_id, "--reason", "case closed")
    assert status == 0, out
    assert lock_of(secured, manifest)["hold"] == "OFF"
    refused = {d.principal for d in secured.decisions_since(mark) if not d.allowed}
    assert refused == {role_arn("admin"), role_arn("app")}  # the operator's and the legal-hold role's acts all passed


# ---- the rules themselves ---------------------------------------------------------------------------------
def test_an_account_admin_cannot_rewrite_the_vaults_rules(secured: Secured) -> None:
    s3, bucket = secured.coffer.client("s3"), secured.vault_bucket
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    admin = secured.session("admin").client("s3")
    with secured.refused("s3:PutBucketPolicy", "resource:OnlyOperatorOrBreakGlassChangesTheRules"):
        admin.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    with secured.refused("s3:DeleteBucketPolicy", "resource:OnlyOperatorOrBreakGlassChangesTheRules"):
        admin.delete_bucket_policy(Bucket=bucket)
    # An expiration rule would put a delete marker on every current version: restores and verify would see none.
    with secured.refused("s3:PutLifecycleConfiguration", "resource:OnlyOperatorOrBreakGlassChangesTheRules"):
        admin.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            {"ID": "hide", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]})
    with secured.refused("s3:PutBucketObjectLockConfiguration", "resource:OnlyOperatorOrBreakGlassChangesTheRules"):
        admin.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == policy
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == lifecycle
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == lock


def test_the_operator_installs_a_new_vaults_statements_and_break_glass_may_rewrite_the_policy(
        secured: Secured) -> None:
    s3, bucket = secured.coffer.client("s3"), secured.vault_bucket
    status, out = secured.cli("operator", "vault", "create", "Gold")
    assert status == 0, out
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert any(str(s.get("Sid", "")).startswith("CofferVaultGold") for s in policy["Statement"])
    mark = len(secured.twin.iam.decisions)
    secured.session("breakglass").client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert [d.result for d in secured.decisions_since(mark) if d.action == "s3:PutBucketPolicy"] == ["Allowed"]



def test_an_operation_the_twin_cannot_authorise_is_refused_not_guessed(secured: Secured) -> None:
    s3 = secured.session("admin").client("s3")
    with secured.refused("s3:PutBucketWebsite") as made:
        s3.put_bucket_website(Bucket=secured.vault_bucket, WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"}})
    assert made[-1].result == "Unmapped"


def test_the_lock_renewer_extends_locks_and_can_do_nothing_else_to_the_vault(secured: Secured) -> None:
    """RenewLocks (the sweep's lock renewal of kept-forever recovery points) may extend a lock - and an attacker
    holding its role gets no more: no object planted or overwritten, no version deleted, no audit record touched."""
    manifest, blob = manifest_and_blob(secured)
    before = lock_of(secured, blob)
    renewer = secured.as_function("RenewLocksFunction").client("s3")
    longer = before["until"] + timedelta(days=1)
    renewer.put_object_retention(Bucket=secured.vault_bucket, Key=blob,
                                 Retention={"Mode": before["mode"], "RetainUntilDate": longer})
    assert lock_of(secured, blob)["until"] == longer  # its job, allowed by its policy and the bucket's
    kept = versions(secured, manifest)
    with secured.refused("s3:PutObject"):  # its policy grants no PutObject: nothing planted or overwritten
        renewer.put_object(Bucket=secured.vault_bucket, Key=manifest, Body=b'{"forged": true}',
                           ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=FAR)
    with secured.refused("s3:DeleteObjectVersion"):
        renewer.delete_object(Bucket=secured.vault_bucket, Key=blob, VersionId=before["version"])
    with secured.refused("s3:PutObjectRetention"):  # nor the audit chain's locks (outside its prefixes)
        renewer.put_object_retention(Bucket=secured.vault_bucket, Key="audit/00000001.json",
                                     Retention={"Mode": "COMPLIANCE", "RetainUntilDate": FAR})
    assert versions(secured, manifest) == kept and lock_of(secured, blob)["version"] == before["version"]
