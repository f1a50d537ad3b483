"""Verify's findings, each earned by the principal who would do the harm (template.yaml's guards, IAM enforced).

Each test is an attack that some principal *can* still carry out - because it holds a right the guards leave to it
(the operator role, the break-glass role, the legal-hold role) or because the guard was changed first - and the
finding the scheduled Verify workflow (run as its own function roles, IAM enforced) reports for it. A finding is
reported, never repaired: the attack's result is read back afterwards, still there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from coffer.adapters.catalog.vaults import VaultCatalog
from coffer.domain.manifest import Manifest, ManifestPart, VaultLayout
from coffer.domain.vault_policy import vault_sid

from .conftest import Secured, role_arn


def run_verify(secured: Secured) -> tuple[str, set[tuple[str, str]], dict[str, Any]]:
    """The Verify workflow on every vault: (its status, its findings as (kind, key), its summary)."""
    arn = secured.twin.start_execution("VerifyStateMachine", {"vaults": [], "deep": False})
    done = dict(secured.twin.wait(arn, timeout=600))
    summary = VaultCatalog(secured.coffer.client("dynamodb"), secured.coffer.settings.catalog_table).get_verify_run(
        arn.rsplit(":", 1)[-1]) or {}
    if "findings" not in summary:  # the run did not complete: say why in any assertion that follows
        summary = {**summary, "error": done.get("error"), "cause": done.get("cause"),
                   "refusals": [str(r) for r in secured.twin.iam.refusals()][-3:]}
    return str(done["status"]), {(f["kind"], f["key"]) for f in summary.get("findings", [])}, summary


Run = tuple[str, set[tuple[str, str]], dict[str, Any]]


@pytest.fixture(scope="module")
def deployed(secured: Secured) -> tuple[Run, Run]:
    """Verify right after the deploy (before `coffer vault apply-policies`), and again after it, before any test
    attacks the stack."""
    before = run_verify(secured)
    status, _ = secured.cli("operator", "vault", "apply-policies")
    assert status == 0
    return before, run_verify(secured)


def test_a_deploy_not_followed_by_apply_policies_is_bucket_policy_drift(deployed: tuple[Run, Run],
                                                                         secured: Secured) -> None:
    (status, findings, _), _ = deployed
    sid = vault_sid("Default") + "Key"
    assert findings == {("BUCKET_POLICY_DRIFT", f"s3://{secured.vault_bucket} Sid {sid}")}
    assert status == "FAILED"


def test_a_deployed_stack_with_its_vault_statements_verifies_clean(deployed: tuple[Run, Run],
                                                                  secured: Secured) -> None:
    _, (status, findings, summary) = deployed
    assert findings == set(), [(f["kind"], f["expected"], f["found"]) for f in summary["findings"]]
    assert status == "SUCCEEDED"
    assert not secured.twin.iam.refusals(), secured.twin.iam.refusals()


# ---- the attacks ------------------------------------------------------------------------------------------
@pytest.fixture
def attack(deployed: tuple[Run, Run], secured: Secured) -> Secured:
    """The stack after its clean verify (on this test process's twin): every attack runs after the baseline."""
    return secured


def pinned_objects(secured: Secured) -> dict[str, tuple[str, str]]:
    """{"manifest" | "part" | "blob": (key, pinned VersionId)} of the base recovery point."""
    vault = secured.coffer.deps.vault
    rp = secured.coffer.deps.catalog.get_recovery_point(secured.recovery_point_id)
    manifest = Manifest.model_validate_json(vault.get_bytes_version(str(rp.manifest_key), str(rp.manifest_version_id)))
    ref = manifest.parts[0]
    part = ManifestPart.model_validate_json(vault.get_bytes_version(ref.key, str(ref.version_id)))
    entry = part.entries[0]
    return {"manifest": (str(rp.manifest_key), str(rp.manifest_version_id)), "part": (ref.key, str(ref.version_id)),
            "blob": (VaultLayout.blob_of(rp.vault_name, entry), str(entry.blob_version_id))}


def vault_key_put(secured: Secured, key: str) -> dict[str, Any]:
    """What the vault policy asks of any write under a vault's prefix: SSE-KMS naming the vault's key, a checksum."""
    return {"Bucket": secured.vault_bucket, "Key": key, "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": secured.coffer.settings.vault_key_arn, "ChecksumAlgorithm": "SHA256"}


def test_a_backup_writer_writing_other_bytes_over_a_pinned_blob_is_a_newer_version(attack: Secured) -> None:
    """CopyBatch's role may write blobs (the policy names it): a bug or an intruder in it writes over one."""
    blob, pinned = pinned_objects(attack)["blob"]
    attack.as_function("CopyBatchFunction").client("s3").put_object(Body=b"forged", **vault_key_put(attack, blob))
    status, findings, summary = run_verify(attack)
    assert ("NEWER_VERSION", blob) in findings and status == "FAILED"
    [finding] = [f for f in summary["findings"] if (f["kind"], f["key"]) == ("NEWER_VERSION", blob)]
    assert finding["expected"] == pinned  # the pinned version, still there and still what restores read
    s3 = attack.coffer.client("s3")
    assert s3.head_object(Bucket=attack.vault_bucket, Key=blob)["VersionId"] != pinned  # never repaired


def test_the_operator_hiding_a_manifest_under_a_delete_marker_is_reported(attack: Secured) -> None:
    """Only the operator role may add a delete marker (DenyDeleteMarkers); verify still says it did."""
    manifest, pinned = pinned_objects(attack)["manifest"]
    marker = attack.session("operator").client("s3").delete_object(Bucket=attack.vault_bucket, Key=manifest)
    try:
        _, findings, summary = run_verify(attack)
        assert ("DELETE_MARKER", manifest) in findings
        [finding] = [f for f in summary["findings"] if (f["kind"], f["key"]) == ("DELETE_MARKER", manifest)]
        assert (finding["expected"], finding["found"]) == (pinned, marker["VersionId"])
    finally:  # the operator takes its marker away again (DeleteObjectVersion: the operator role's, too)
        attack.session("operator").client("s3").delete_object(Bucket=attack.vault_bucket, Key=manifest,
                                                              VersionId=marker["VersionId"])


def test_a_recovery_point_planted_by_the_backup_writer_is_unowned(attack: Secured) -> None:
    """CompleteBackup's role may write recovery points (the policy names it): it plants one no job made."""
    prefix = VaultLayout.recovery_point_prefix("Default", "planted-by-a-writer")
    s3 = attack.as_function("CompleteBackupFunction").client("s3")
    s3.put_object(Body=b'{"format": "coffer.manifest/1"}', **vault_key_put(attack, prefix + "manifest.json"))
    _, findings, _ = run_verify(attack)
    assert ("UNOWNED", prefix) in findings


def test_a_retention_shortened_after_break_glass_loosened_the_policy_is_unlocked(attack: Secured) -> None:
    """No principal may shorten a pinned version's GOVERNANCE retention while the template's policy stands (bypass:
    the operator only; retention of blobs: the backup writers only). Break-glass rewrites the policy without both
    guards, then the account admin shortens a blob's retention with a governance bypass: both are reported."""
    blob, pinned = pinned_objects(attack)["blob"]
    s3 = attack.coffer.client("s3")
    original = s3.get_bucket_policy(Bucket=attack.vault_bucket)["Policy"]
    loosened = json.loads(original)
    loosened["Statement"] = [s for s in loosened["Statement"]
                             if s.get("Sid") not in ("DenyRetentionBypass", "OnlyBackupWritersWriteBlobs")]
    attack.session("breakglass").client("s3").put_bucket_policy(Bucket=attack.vault_bucket,
                                                                Policy=json.dumps(loosened))
    try:
        soon = datetime.now(UTC) + timedelta(days=1)
        attack.session("admin").client("s3").put_object_retention(
            Bucket=attack.vault_bucket, Key=blob, VersionId=pinned, BypassGovernanceRetention=True,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": soon})
        _, findings, _ = run_verify(attack)
        sid = f"s3://{attack.vault_bucket} Sid"
        assert {("UNLOCKED", blob), ("BUCKET_POLICY_DRIFT", f"{sid} DenyRetentionBypass"),
                ("BUCKET_POLICY_DRIFT", f"{sid} OnlyBackupWritersWriteBlobs")} <= findings
    finally:
        attack.session("breakglass").client("s3").put_bucket_policy(Bucket=attack.vault_bucket, Policy=original)


def test_a_legal_hold_switched_off_in_s3_and_one_switched_on_outside_coffer_are_reported(attack: Secured) -> None:
    """The legal-hold role may change S3's legal holds directly (the policy names it): it switches off the hold a
    catalogued legal hold put on the manifest, and puts one on a blob no legal hold in the catalog covers."""
    objects = pinned_objects(attack)
    status, out = attack.cli("operator", "legalhold", "create", "--title", "case 9",
                             "--recovery-point", attack.recovery_point_id)
    assert status == 0, out
    _, findings, _ = run_verify(attack)
    assert not {kind for kind, _ in findings} & {"HOLD_OFF", "HOLD_UNRECORDED"}  # S3 and the catalog agree
    manifest, blob = objects["manifest"], objects["blob"]
    legal = attack.session("legal").client("s3")
    legal.put_object_legal_hold(Bucket=attack.vault_bucket, Key=manifest[0], VersionId=manifest[1],
                                LegalHold={"Status": "OFF"})
    _, findings, _ = run_verify(attack)
    assert ("HOLD_OFF", manifest[0]) in findings
    hold_id = json.loads(out)["legal_hold_id"]
    status, out = attack.cli("legal", "legalhold", "release", hold_id, "--reason", "case closed")
    assert status == 0, out
    legal.put_object_legal_hold(Bucket=attack.vault_bucket, Key=blob[0], VersionId=blob[1],
                                LegalHold={"Status": "ON"})
    try:
        _, findings, _ = run_verify(attack)
        assert ("HOLD_UNRECORDED", blob[0]) in findings and ("HOLD_OFF", manifest[0]) not in findings
    finally:
        legal.put_object_legal_hold(Bucket=attack.vault_bucket, Key=blob[0], VersionId=blob[1],
                                    LegalHold={"Status": "OFF"})


def test_a_key_disabled_by_an_admin_break_glass_let_in_is_key_state_and_key_policy_drift(attack: Secured) -> None:
    """Only break-glass may disable the vault key or rewrite its policy: it rewrites it to let the account admin
    disable the key too, and the admin does."""
    kms, key = attack.session("breakglass").client("kms"), attack.coffer.settings.vault_key_arn
    original = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    policy = json.loads(original)
    for statement in policy["Statement"]:
        if statement.get("Sid") == "OnlyBreakGlassDisablesDeletesOrRewritesTheKey":
            statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] = [role_arn("breakglass"), role_arn("admin")]
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    try:
        attack.session("admin").client("kms").disable_key(KeyId=key.rsplit("/", 1)[-1])  # moto: by id
        _, findings, summary = run_verify(attack)
        assert {("KEY_STATE", key),
                ("KEY_POLICY_DRIFT", f"{key} Sid OnlyBreakGlassDisablesDeletesOrRewritesTheKey")} <= findings
        [state] = [f for f in summary["findings"] if f["kind"] == "KEY_STATE"]
        assert state["found"] == "Disabled"
    finally:
        kms.enable_key(KeyId=key.rsplit("/", 1)[-1])
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=original)


def test_the_operator_exempting_a_role_from_a_bucket_guard_is_bucket_policy_drift(attack: Secured) -> None:
    """The operator may put the bucket policy (OnlyOperatorOrBreakGlassChangesTheRules): it exempts an application
    role from the delete-marker guard. The admin's own attempt is refused."""
    s3 = attack.coffer.client("s3")
    original = s3.get_bucket_policy(Bucket=attack.vault_bucket)["Policy"]
    policy = json.loads(original)
    for statement in policy["Statement"]:
        if statement.get("Sid") == "DenyDeleteMarkers":
            statement["Condition"] = {"ArnNotEquals": {"aws:PrincipalArn": [role_arn("operator"), role_arn("app")]}}
    with attack.refused("s3:PutBucketPolicy", "resource:OnlyOperatorOrBreakGlassChangesTheRules"):
        attack.session("admin").client("s3").put_bucket_policy(Bucket=attack.vault_bucket, Policy=json.dumps(policy))
    attack.session("operator").client("s3").put_bucket_policy(Bucket=attack.vault_bucket, Policy=json.dumps(policy))
    try:
        _, findings, summary = run_verify(attack)
        key = f"s3://{attack.vault_bucket} Sid DenyDeleteMarkers"
        assert ("BUCKET_POLICY_DRIFT", key) in findings
        [drift] = [f for f in summary["findings"] if f["key"] == key]
        assert "changed: Condition" in drift["detail"] and role_arn("app") in drift["found"]
    finally:
        attack.session("operator").client("s3").put_bucket_policy(Bucket=attack.vault_bucket, Policy=original)


def test_the_operator_changing_the_object_lock_default_is_object_lock_config(attack: Secured) -> None:
    """Only the operator (or break-glass) may change the Object Lock default (the admin is refused); it lengthens it.
    S3 takes that on a bucket holding objects; moto refuses it (BucketNeedsToBeNew), so once the twin has allowed
    the operator's request the change is made in moto's backend."""
    from moto.s3.models import s3_backends

    changed = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}}}
    with attack.refused("s3:PutBucketObjectLockConfiguration", "resource:OnlyOperatorOrBreakGlassChangesTheRules"):
        attack.session("admin").client("s3").put_object_lock_configuration(Bucket=attack.vault_bucket,
                                                                           ObjectLockConfiguration=changed)
    mark = len(attack.twin.iam.decisions)
    with pytest.raises(ClientError, match="InvalidBucket"):  # moto's refusal, not the policy's
        attack.session("operator").client("s3").put_object_lock_configuration(Bucket=attack.vault_bucket,
                                                                              ObjectLockConfiguration=changed)
    assert [d.allowed for d in attack.decisions_since(mark)] == [True]
    bucket = s3_backends[attack.twin.account_id]["aws"].get_bucket(attack.vault_bucket)
    bucket.default_lock_days = 2
    try:
        _, findings, summary = run_verify(attack)
        assert ("OBJECT_LOCK_CONFIG", f"s3://{attack.vault_bucket}") in findings
        [config] = [f for f in summary["findings"] if f["kind"] == "OBJECT_LOCK_CONFIG"]
        assert (config["expected"], config["found"]) == ("Object Lock on, default GOVERNANCE for 1 days",
                                                         "Object Lock on, default GOVERNANCE for 2 days")
    finally:
        bucket.default_lock_days = 1


def test_versioning_suspended_is_reported(attack: Secured) -> None:
    """S3 refuses to suspend versioning on an Object Lock bucket; moto does not, and nothing in the vault policy
    denies s3:PutBucketVersioning: an admin's suspension stands for a bucket deployed without Object Lock. The finding
    is the run's bucket-wide result, recorded before any object is checked: moto then answers a HeadObject naming a
    VersionId on a suspended bucket with a bare 400 (S3 does not), so where a pinned version lies under a newer one
    (an earlier test's) the per-object part of this run cannot complete on the twin."""
    s3 = attack.session("admin").client("s3")
    s3.put_bucket_versioning(Bucket=attack.vault_bucket, VersioningConfiguration={"Status": "Suspended"})
    try:
        arn = attack.twin.start_execution("VerifyStateMachine", {"vaults": [], "deep": False})
        done = dict(attack.twin.wait(arn, timeout=600))
        records = VaultCatalog(attack.coffer.client("dynamodb"), attack.coffer.settings.catalog_table)
        results = list(records.verify_results(arn.rsplit(":", 1)[-1]))
        bucket_wide = {(f["kind"], f["key"]) for r in results for f in r["findings"]}
        assert ("VERSIONING", f"s3://{attack.vault_bucket}") in bucket_wide, done
        assert done["status"] == "FAILED"
    finally:
        attack.session("operator").client("s3").put_bucket_versioning(
            Bucket=attack.vault_bucket, VersioningConfiguration={"Status": "Enabled"})
