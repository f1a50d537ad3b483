"""Vaults, vault locks and S3's refusals, on the twin (real template, ASL and handlers; moto underneath).

- a backup into an unknown vault, or with a retention outside the vault lock, is refused;
- a vault's objects are encrypted with its own key and locked in its mode;
- every attempt to delete, overwrite or shorten a locked recovery point's objects is refused by S3 -
  except the ones moto does not emulate, which Coffer never attempts: a guard checks every Object Lock call
  the workflows make against S3's rules (coffer.domain.object_lock, the strict stand-in of tests/contract);
- a COMPLIANCE vault lock can be changed during its cooling-off and not after (time injected).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from twins import Twins

from coffer.domain.clock import FixedClock
from coffer.domain.errors import NotFound, VaultLockImmutable
from coffer.domain.job_ids import job_id_for
from coffer.domain.manifest import Manifest, ManifestPart, VaultLayout
from coffer.domain.object_lock import LockMode, VersionLock, deletion_refusal, retention_change_refusal
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.vaults import VaultLockRequest
from coffer_cli.cli import main
from coffer_cli.commands.vault_context import VaultContext, vault_context
from coffer_cli.local.samples import create_sample_bucket
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
STACK = ["--stack", "coffer-twin"]
BUCKET = "vault-source"


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    """One twin for the module: each test uses its own vaults, tokens and (when it changes one) source bucket."""
    # LockSlackDays 0: these tests watch every lock extension a backup makes (locking ahead makes fewer:
    # tests/integration/test_lock_slack.py)
    with twins.fresh({"LockSlackDays": "0"}) as deployed:
        create_sample_bucket(deployed.client("s3"), BUCKET)
        yield deployed


def context(clock: FixedClock | None = None) -> VaultContext:
    made = vault_context(argparse.Namespace(stack="coffer-twin", region=None))
    return replace(made, deps=replace(made.deps, clock=clock)) if clock else made


def backup(coffer: LocalCoffer, token: str, vault: str = "Default", days: int | None = 10,
           bucket: str = BUCKET) -> RecoveryPoint | dict[str, Any]:
    detail: dict[str, Any] = {"ResourceArn": f"arn:aws:s3:::{bucket}", "IdempotencyToken": token,
                              "BackupVaultName": vault}
    if days is not None:
        detail["Lifecycle"] = {"DeleteAfterDays": days}
    result = coffer.start_backup(detail)
    if result["status"] != "SUCCEEDED":
        return result
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    return coffer.deps.catalog.get_recovery_point(job.recovery_point_id)


def objects_of(coffer: LocalCoffer, rp: RecoveryPoint) -> dict[str, list[str]]:
    """The recovery point's manifest, parts and blobs (keys)."""
    vault = coffer.deps.vault
    manifest = Manifest.model_validate_json(vault.get_bytes(rp.manifest_key or ""))
    parts = [ref.key for ref in manifest.parts]
    blobs = sorted({VaultLayout.blob(rp.vault_name, e.sha256) for key in parts
                    for e in ManifestPart.model_validate(vault.get_json(key)).entries})
    return {"manifest": [rp.manifest_key or ""], "parts": parts, "blobs": blobs}


def refusal_cause(coffer: LocalCoffer, result: dict[str, Any]) -> str:
    # a refused request's cause is the execution's (ExecutionFailed); a failed step's, its TaskFailed
    events = [e for e in coffer.twin.history(result["arn"]) if e["type"] in ("TaskFailed", "ExecutionFailed")]
    return json.dumps(events, default=str)


# ---- vaults as first-class objects ------------------------------------------------------------------------
def test_a_backup_into_an_unknown_vault_is_refused_naming_the_vault(coffer: LocalCoffer) -> None:
    refused = backup(coffer, "nope", vault="Nope")
    assert isinstance(refused, dict) and refused["error"] == "RequestRefused"
    assert "BackupVaultName: vault 'Nope' does not exist" in refusal_cause(coffer, refused)
    with pytest.raises(NotFound):  # nothing was written
        coffer.deps.catalog.get_job(job_id_for("nope"))


def test_the_default_vault_exists_after_deploy_with_the_stacks_key(coffer: LocalCoffer,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vault", "describe", "Default", *STACK]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["key_arn"] == coffer.settings.vault_key_arn and described["key_owner"] == "stack"


def test_a_vault_is_created_with_its_own_key_encrypts_with_it_and_is_deleted_only_when_empty(
        coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vault", "create", "Gold", *STACK]) == 0
    gold = json.loads(capsys.readouterr().out.split("\nnote:")[0])
    key = coffer.client("kms").describe_key(KeyId=gold["key_arn"])["KeyMetadata"]
    assert gold["key_owner"] == "coffer" and key["KeyState"] == "Enabled"
    tags = {t["TagKey"]: t["TagValue"] for t in coffer.client("kms").list_resource_tags(KeyId=key["KeyId"])["Tags"]}
    assert tags == {"coffer:stack": "coffer-twin", "coffer:vault": "Gold"}
    with pytest.raises(SystemExit, match="already exists"):
        main(["vault", "create", "Gold", *STACK])

    rp = backup(coffer, "gold-1", vault="Gold")
    assert isinstance(rp, RecoveryPoint) and rp.encryption_key_arn == gold["key_arn"]
    s3 = coffer.client("s3")
    for keys in objects_of(coffer, rp).values():
        for key in keys:
            head = s3.head_object(Bucket=coffer.settings.vault_bucket, Key=key)
            assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", gold["key_arn"]), key

    with pytest.raises(SystemExit, match="VaultNotEmpty: vault Gold holds recovery point"):
        main(["vault", "delete", "Gold", *STACK])
    assert main(["vault", "create", "Empty", *STACK]) == 0
    assert main(["vault", "delete", "Empty", *STACK]) == 0
    assert coffer.deps.catalog  # the table is still there; the vault is gone:
    with pytest.raises(SystemExit, match="vault Empty does not exist"):
        main(["vault", "describe", "Empty", *STACK])


def test_a_vault_can_use_a_given_customer_managed_key(coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    key = coffer.client("kms").create_key(Description="the customer's own")["KeyMetadata"]
    assert main(["vault", "create", "Own", "--kms-key", key["Arn"], *STACK]) == 0
    assert json.loads(capsys.readouterr().out.split("\nnote:")[0])["key_owner"] == "customer"
    with pytest.raises(SystemExit, match="not found"):
        main(["vault", "create", "Bad", "--kms-key", "arn:aws:kms:us-east-1:123456789012:key/none", *STACK])


def test_a_vaults_bucket_policy_statements_are_installed_with_it_and_removed_with_it(
        coffer: LocalCoffer, tmp_path: Path) -> None:
    """In an account the template's policy is on the bucket and `coffer vault ...` adds the vault's statements
    to it. The twin installs no template policy, so this test puts a stand-in for it - one harmless statement
    with the template's Sid - and takes it away afterwards. (moto ignores the statements' conditions: while a
    vault's statements are on, moto refuses every write under its prefix, which S3 would allow with its key.)"""
    s3, bucket = coffer.client("s3"), coffer.settings.vault_bucket
    stand_in = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/nothing-here/*"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [stand_in]}))

    def installed() -> list[dict[str, Any]]:
        return list(json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"])

    try:
        deny = {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:role/intern"},
                "Action": "s3:GetObject"}
        (tmp_path / "policy.json").write_text(json.dumps({"Statement": [deny]}))
        assert main(["vault", "create", "Fenced", "--policy", str(tmp_path / "policy.json"), *STACK]) == 0
        key_arn = context().vaults.get("Fenced").key_arn
        statements = installed()
        fenced = f"arn:aws:s3:::{bucket}/vaults/Fenced/*"
        assert statements[0] == stand_in and [s["Resource"] for s in statements[1:]] == [fenced, fenced]
        key_id = "s3:x-amz-server-side-encryption-aws-kms-key-id"
        assert statements[1]["Condition"] == {"StringNotEquals": {key_id: key_arn}}
        assert {k: v for k, v in statements[2].items() if k not in ("Sid", "Resource")} == deny
        assert main(["vault", "apply-policies", *STACK]) == 0  # re-applying leaves Fenced's in place...
        after = installed()
        assert after[:3] == statements  # ...and adds every other vault's, Default's among them
        assert {s["Resource"] for s in after[3:]} >= {f"arn:aws:s3:::{bucket}/vaults/Default/*"}
        assert main(["vault", "delete", "Fenced", *STACK]) == 0
        assert not [s for s in installed() if s["Resource"] == fenced]
    finally:
        s3.delete_bucket_policy(Bucket=bucket)


def test_a_recovery_point_outside_the_vault_locks_retention_is_refused(coffer: LocalCoffer) -> None:
    assert main(["vault", "create", "Kept", *STACK]) == 0
    assert main(["vault", "lock", "Kept", "--min-retention-days", "30", "--max-retention-days", "90", *STACK]) == 0
    short = backup(coffer, "short", vault="Kept", days=7)
    assert isinstance(short, dict)
    assert "shorter than its vault lock's MinRetentionDays (30)" in refusal_cause(coffer, short)
    forever = backup(coffer, "forever", vault="Kept", days=None)
    assert isinstance(forever, dict) and "MaxRetentionDays (90)" in refusal_cause(coffer, forever)
    fits = backup(coffer, "fits", vault="Kept", days=30)
    assert isinstance(fits, RecoveryPoint) and fits.retain_until == fits.creation_date + timedelta(days=30)


# ---- cooling-off, with time injected ----------------------------------------------------------------------
def test_a_compliance_lock_can_be_changed_during_its_cooling_off_and_not_after(coffer: LocalCoffer) -> None:
    clock = FixedClock(datetime.now(UTC))
    admin = context(clock).admin()
    admin.create("Vault7")
    admin.put_lock("Vault7", VaultLockRequest(min_retention_days=7, changeable_for_days=3))
    clock.advance(timedelta(days=2, hours=23))
    changed = admin.put_lock("Vault7", VaultLockRequest(min_retention_days=30, changeable_for_days=3)).vault
    assert changed is not None and changed.lock is not None and changed.lock.min_retention_days == 30
    clock.advance(timedelta(days=3))  # the change started a new cooling-off; now it is over
    with pytest.raises(VaultLockImmutable):
        admin.put_lock("Vault7", VaultLockRequest(min_retention_days=1, changeable_for_days=3))
    with pytest.raises(VaultLockImmutable):
        admin.delete_lock("Vault7")
    assert admin.describe("Vault7")["lock_state"] == "immutable"
    actions = [r.action for r in context().audit.records() if r.target == "Vault7"]
    assert actions == ["vault.create", "vault.lock.put", "vault.lock.put"]  # refused changes leave no record


def test_a_lock_removed_during_its_cooling_off_is_gone(coffer: LocalCoffer) -> None:
    clock = FixedClock(datetime.now(UTC))
    admin = context(clock).admin()
    admin.create("Trial")
    admin.put_lock("Trial", VaultLockRequest(min_retention_days=7, changeable_for_days=3))
    clock.advance(timedelta(days=1))
    assert admin.delete_lock("Trial").vault.lock is None  # type: ignore[union-attr]
    # each lock change is a record in the audit chain, saying what the lock was and became, and the chain verifies
    records = [r for r in context().audit.records() if r.target == "Trial" and r.action.startswith("vault.lock")]
    assert [r.action for r in records] == ["vault.lock.put", "vault.lock.delete"]
    put, removed = records
    assert put.details["previous"] is None and put.details["lock"]["min_retention_days"] == 7
    assert removed.details["previous"]["min_retention_days"] == 7 and removed.details["vault"]["lock"] is None
    assert put.seq < removed.seq and put.actor.startswith("arn:aws:")
    report = context().audit.verify()
    assert report.ok, report.problems


# ---- S3's refusals ------------------------------------------------------------------------------------------
def attempt(log: list[tuple[str, str]], what: str, call: Any) -> str:
    try:
        call()
    except ClientError as error:
        code = f"{error.response['Error']['Code']}"
        log.append((what, f"refused: {code}"))
        return code
    log.append((what, "accepted"))
    return "accepted"


def test_every_attempt_to_delete_overwrite_or_unlock_a_locked_recovery_point_is_refused(
        coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vault", "create", "Locked", *STACK]) == 0
    assert main(["vault", "lock", "Locked", "--min-retention-days", "7", "--changeable-for-days", "3", *STACK]) == 0
    rp = backup(coffer, "locked", vault="Locked")
    plain = backup(coffer, "plain", vault="Default")
    assert isinstance(rp, RecoveryPoint) and isinstance(plain, RecoveryPoint)
    s3, bucket, log = coffer.client("s3"), coffer.settings.vault_bucket, []
    compliance = objects_of(coffer, rp)
    governance = objects_of(coffer, plain)
    for kind, keys in compliance.items():
        key = keys[0]
        head = s3.head_object(Bucket=bucket, Key=key)
        version = head["VersionId"]
        assert head["ObjectLockMode"] == "COMPLIANCE", key
        assert attempt(log, f"COMPLIANCE {kind}: DeleteObject(VersionId)",
                       lambda k=key, v=version: s3.delete_object(Bucket=bucket, Key=k, VersionId=v)) == "AccessDenied"
        assert attempt(log, f"COMPLIANCE {kind}: DeleteObject(VersionId, BypassGovernanceRetention)",
                       lambda k=key, v=version: s3.delete_object(Bucket=bucket, Key=k, VersionId=v,
                                                                 BypassGovernanceRetention=True)) == "AccessDenied"
        batch = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": version}]})
        log.append((f"COMPLIANCE {kind}: DeleteObjects([version])",
                    f"refused per object: {[e['Code'] for e in batch.get('Errors', [])]}"))
        assert [e["Code"] for e in batch.get("Errors", [])] == ["AccessDenied"]
    for kind, keys in governance.items():
        key = keys[0]
        version = s3.head_object(Bucket=bucket, Key=key)["VersionId"]
        assert attempt(log, f"GOVERNANCE {kind}: DeleteObject(VersionId) without bypass",
                       lambda k=key, v=version: s3.delete_object(Bucket=bucket, Key=k, VersionId=v)) == "AccessDenied"
    # A legal hold refuses even the governance bypass.
    blob = governance["blobs"][0]
    held = s3.head_object(Bucket=bucket, Key=blob)["VersionId"]
    s3.put_object_legal_hold(Bucket=bucket, Key=blob, VersionId=held, LegalHold={"Status": "ON"})
    assert attempt(log, "GOVERNANCE blob under legal hold: DeleteObject(VersionId, BypassGovernanceRetention)",
                   lambda: s3.delete_object(Bucket=bucket, Key=blob, VersionId=held,
                                            BypassGovernanceRetention=True)) == "AccessDenied"
    s3.put_object_legal_hold(Bucket=bucket, Key=blob, VersionId=held, LegalHold={"Status": "OFF"})
    # Overwriting is not refused - S3 adds a version on top and the locked one stays, byte for byte; a restore reads
    # the version the recovery point pins, so the forgery is never read (before pins it was refused by the
    # manifest's checksum), and verify reports it.
    manifest = compliance["manifest"][0]
    original = s3.head_object(Bucket=bucket, Key=manifest)["VersionId"]
    attempt(log, "COMPLIANCE manifest: PutObject (overwrite)",
            lambda: s3.put_object(Bucket=bucket, Key=manifest, Body=b"{}", ChecksumAlgorithm="SHA256"))
    assert s3.get_object(Bucket=bucket, Key=manifest, VersionId=original)["ObjectLockMode"] == "COMPLIANCE"
    restore = coffer.start_restore({"RecoveryPointArn": rp.recovery_point_id, "IdempotencyToken": "forged",
                                    "Metadata": {"DestinationBucketName": "never-forged", "NewBucket": "true"}})
    assert restore["status"] == "SUCCEEDED", restore
    log.append(("restore of the overwritten manifest", "reads the pinned version: the forgery is never read"))
    # What moto does NOT refuse (S3 does): tests/contract runs these against a strict stand-in, and
    # test_coffer_never_attempts_what_s3_refuses shows Coffer's code never tries them.
    part = compliance["parts"][0]
    part_version = s3.head_object(Bucket=bucket, Key=part)["VersionId"]
    emulated = attempt(log, "COMPLIANCE part: PutObjectRetention shorter (plain moto accepts; S3 and the twin refuse)",
                       lambda: s3.put_object_retention(
                           Bucket=bucket, Key=part, VersionId=part_version,
                           Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(days=1)}))
    assert emulated == "AccessDenied"  # the twin rules retention changes as S3 does (coffer_twin/s3_retention.py)
    with capsys.disabled():
        print("\n" + "\n".join(f"  {what:<95} {outcome}" for what, outcome in log))


# ---- Coffer never attempts what S3 refuses ---------------------------------------------------------------
@contextmanager
def object_lock_guard() -> Iterator[dict[str, list[str]]]:
    """Check every Object Lock call any S3 client in the process makes against S3's rules, before moto sees it."""
    original = BaseClient._make_api_call
    seen: dict[str, list[str]] = {"checked": [], "violations": []}

    def current(client: Any, params: dict[str, Any], key: str, version: str | None = None) -> VersionLock:
        head = original(client, "HeadObject", {"Bucket": params["Bucket"], "Key": key,
                                              **({"VersionId": version} if version else {})})
        mode = head.get("ObjectLockMode")
        return VersionLock(LockMode(mode) if mode else None, head.get("ObjectLockRetainUntilDate"),
                           head.get("ObjectLockLegalHoldStatus") == "ON")

    def guarded(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "s3":
            now, bypass = datetime.now(UTC), bool(params.get("BypassGovernanceRetention"))
            if bypass:
                seen["violations"].append(f"{operation} {params.get('Key')}: governance bypass requested")
            if operation == "PutObjectRetention":
                retention = params.get("Retention", {})
                mode = retention.get("Mode")
                refusal = retention_change_refusal(current(client, params, params["Key"], params.get("VersionId")),
                                                   LockMode(mode) if mode else None,
                                                   retention.get("RetainUntilDate"), now, bypass)
                seen["checked"].append(f"{operation} {params['Key']}")
                if refusal:
                    seen["violations"].append(f"{operation} {params['Key']}: {refusal}")
            elif operation == "DeleteObject" and params.get("VersionId"):
                refusal = deletion_refusal(current(client, params, params["Key"], params["VersionId"]), now, bypass)
                seen["checked"].append(f"{operation} {params['Key']}")
                if refusal and params["Bucket"].startswith("coffer-twin-vault"):
                    seen["violations"].append(f"{operation} {params['Key']}: {refusal}")
        return original(client, operation, params)

    BaseClient._make_api_call = guarded  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def test_coffer_never_attempts_what_s3_refuses(coffer: LocalCoffer) -> None:
    """Backups into a vault whose lock goes GOVERNANCE -> COMPLIANCE -> removed (cooling-off), re-using shared
    blobs each time: blobs are re-sealed as COMPLIANCE rather than converted, and a COMPLIANCE blob reused by
    a GOVERNANCE recovery point is extended in COMPLIANCE - never shortened, never downgraded."""
    s3, bucket = coffer.client("s3"), coffer.settings.vault_bucket
    create_sample_bucket(s3, "shifting-source")
    admin = context().admin()
    admin.create("Shifting")
    with object_lock_guard() as seen:
        first = backup(coffer, "shift-1", vault="Shifting", days=10, bucket="shifting-source")
        admin.put_lock("Shifting", VaultLockRequest(min_retention_days=1, changeable_for_days=3))
        s3.put_object(Bucket="shifting-source", Key="logs/day-03.log", Body=b"changed\n")
        second = backup(coffer, "shift-2", vault="Shifting", days=10, bucket="shifting-source")
        admin.delete_lock("Shifting")
        third = backup(coffer, "shift-3", vault="Shifting", days=20, bucket="shifting-source")
    assert all(isinstance(rp, RecoveryPoint) and rp.status.value == "COMPLETED" for rp in (first, second, third))
    assert seen["violations"] == [], seen["violations"]
    assert any(c.startswith("PutObjectRetention") for c in seen["checked"])  # extensions were made, and checked
    assert isinstance(second, RecoveryPoint) and isinstance(third, RecoveryPoint)
    for key in [k for keys in objects_of(coffer, second).values() for k in keys]:
        head = s3.head_object(Bucket=bucket, Key=key)
        # every object of the COMPLIANCE recovery point is COMPLIANCE - the reused blobs re-sealed...
        assert head["ObjectLockMode"] == "COMPLIANCE", key
        if key in objects_of(coffer, third)["blobs"]:
            # ...and still COMPLIANCE once a GOVERNANCE recovery point reused and extended them
            assert head["ObjectLockRetainUntilDate"] >= third.retain_until, key
    assert s3.head_object(Bucket=bucket, Key=third.manifest_key)["ObjectLockMode"] == "GOVERNANCE"
