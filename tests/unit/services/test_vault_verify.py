"""Verify on the ports' in-memory fakes (tests/fakes): each finding of a pinned object and of the bucket's own guards,
written as what the attacker did; and what an unchanged object costs (one HeadObject). No AWS, milliseconds each."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fakes.catalog import MemoryContinuousStore, MemoryVaultRecords
from fakes.inspection import FixedStack, MemoryKeys, MemoryVaultInspection
from fakes.world import START, FakeWorld, unused

from coffer.domain.cfn_template import DeployedStack
from coffer.domain.legal_holds import LegalHold, LegalHoldStatus, RecoveryPointSelection
from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry, PartRef, VaultLayout
from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.resources import ResourceType
from coffer.domain.vault_policy import vault_statements
from coffer.domain.verify import Finding, FindingKind
from coffer.services.bucket_checks import BucketChecks
from coffer.services.vault_verify import VaultVerifier

ACCOUNT, REGION = "111122223333", "eu-west-1"
STACK_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/stack"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/break-glass"
RETAIN = START + timedelta(days=30)
#: the parts of template.yaml the bucket-wide checks read, in the processed template's JSON form
TEMPLATE: dict[str, Any] = {
    "Parameters": {"VaultLockMode": {"Type": "String", "Default": "GOVERNANCE"},
                   "VaultDefaultRetentionDays": {"Type": "Number", "Default": 1},
                   "BreakGlassRoleArn": {"Type": "String", "Default": ""}},
    "Conditions": {"HasBreakGlassRole": {"Fn::Not": [{"Fn::Equals": [{"Ref": "BreakGlassRoleArn"}, ""]}]}},
    "Resources": {
        "VaultBucket": {"Type": "AWS::S3::Bucket", "Properties": {"ObjectLockConfiguration": {
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {
                "Mode": {"Ref": "VaultLockMode"}, "Days": {"Ref": "VaultDefaultRetentionDays"}}}}}},
        "VaultBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"PolicyDocument": {"Statement": [
            {"Sid": "DenyDeleteMarkers", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
             "Resource": {"Fn::Sub": "${VaultBucket.Arn}/*"}}]}}},
        "VaultKey": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [
            {"Sid": "AccountAdministersKeyIamGrantsUse", "Effect": "Allow",
             "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "OnlyBreakGlassDisablesDeletesOrRewritesTheKey", "Effect": "Deny", "Principal": "*",
             "Action": ["kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"], "Resource": "*",
             "Condition": {"Fn::If": ["HasBreakGlassRole",
                                      {"ArnNotEquals": {"aws:PrincipalArn": {"Ref": "BreakGlassRoleArn"}}},
                                      {"Ref": "AWS::NoValue"}]}}]}}},
    },
}


@dataclass
class Scrub:
    world: FakeWorld
    inspection: MemoryVaultInspection
    keys: MemoryKeys
    verifier: VaultVerifier
    stack: DeployedStack

    def run(self, deep: bool = False) -> list[Finding]:
        _, findings = self.verifier.run(["Default"], deep=deep)
        return findings

    def problems(self) -> set[tuple[FindingKind, str]]:
        return {(f.kind, f.key) for f in self.run() if f.problem}


@pytest.fixture
def scrub() -> Scrub:
    return make_scrub(FakeWorld())


def make_scrub(world: FakeWorld) -> Scrub:
    inspection = MemoryVaultInspection(world.buckets, world.settings.vault_bucket)
    stack = DeployedStack(template=TEMPLATE, parameters={"BreakGlassRoleArn": BREAK_GLASS},
                          physical_ids={"VaultBucket": world.settings.vault_bucket, "VaultKey": "stack"},
                          account=ACCOUNT, region=REGION, stack_name="coffer")
    keys = MemoryKeys(states={STACK_KEY: "Enabled"},
                      policies={STACK_KEY: stack.resolved_property("VaultKey", "KeyPolicy")})
    rules = BucketChecks(inspection, keys, FixedStack(stack), world.vaults, world.vault)
    verifier = VaultVerifier(world.catalog, world.vault, world.work, unused("multipart copies"),
                             MemoryContinuousStore(world.table), world.vaults, world.settings, world.clock,
                             inspection, rules)
    default = world.vaults.get("Default")
    inspection.bucket_policy = {"Statement": [
        *stack.resolved_property("VaultBucketPolicy", "PolicyDocument")["Statement"],
        *vault_statements(stack.arn_of("VaultBucket"), default)]}
    return Scrub(world, inspection, keys, verifier, stack)


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def stored_recovery_point(scrub: Scrub, rp_id: str = "rp-1", bodies: tuple[bytes, ...] = (b"alpha", b"beta"),
                          pinned: bool = True) -> tuple[RecoveryPoint, dict[str, str]]:
    """A completed S3 recovery point written as the backup workflow writes one: blobs, a part, the manifest, each
    Object-Locked until its retain-until, each version pinned by what references it (`pinned` False: as before
    versions were pinned); the catalog's record last. (recovery point, {"manifest", "part", "blob"})."""
    vault = scrub.world.vault
    entries = []
    for index, body in enumerate(bodies):
        written = vault.put_locked(VaultLayout.blob("Default", sha(body)), body, RETAIN)
        entries.append(ObjectEntry(key=f"object-{index}", size=len(body), etag="e", last_modified=START.isoformat(),
                                   sha256=sha(body), blob_version_id=written.version_id if pinned else None))
    part = ManifestPart(recovery_point_id=rp_id, seq=0, entries=tuple(entries))
    part_key, part_body = VaultLayout.part("Default", rp_id, 0), part.model_dump_json().encode()
    part_version = vault.put_locked(part_key, part_body, RETAIN).version_id
    manifest_key = VaultLayout.manifest("Default", rp_id)
    rp = RecoveryPoint(recovery_point_id=rp_id, vault_name="Default", resource_arn="arn:aws:s3:::orders",
                       resource_type=ResourceType.S3, status=RecoveryPointStatus.COMPLETED, creation_date=START,
                       retain_until=RETAIN, job_id=f"job-{rp_id}", manifest_key=manifest_key)
    manifest = Manifest(recovery_point=rp, completed_at=START, objects=len(entries), parts=(
        PartRef(seq=0, key=part_key, sha256=sha(part_body), objects=len(entries), bytes=sum(map(len, bodies)),
                version_id=part_version if pinned else None),))
    body = manifest.model_dump_json().encode()
    written = vault.put_locked(manifest_key, body, RETAIN)
    rp = rp.model_copy(update={"manifest_sha256": sha(body),
                               "manifest_version_id": written.version_id if pinned else None})
    scrub.world.catalog.put_recovery_point(rp)
    return rp, {"manifest": manifest_key, "part": part_key, "blob": VaultLayout.blob("Default", sha(bodies[0]))}


def version_ids(scrub: Scrub, key: str) -> list[str]:
    return [v.id for v in scrub.world.buckets.buckets["vault"][key]]


# ---- a clean vault, and what checking it costs ------------------------------------------------------------
def test_a_vault_as_the_backup_wrote_it_has_no_findings_and_costs_one_head_per_object(
        scrub: Scrub, monkeypatch: pytest.MonkeyPatch) -> None:
    stored_recovery_point(scrub)
    monkeypatch.setattr(scrub.world.vault, "history", lambda *a, **k: pytest.fail("no version listing when clean"))
    assert scrub.run() == []
    # the recovery point's item: its manifest and part; the part's item: the manifest and the part (each then read
    # at its pinned version) and its two blobs (checksum, lock and hold from the same HeadObject)
    assert scrub.inspection.calls["HeadObject"] == 2 + 2 + 2


# ---- NEWER_VERSION / DELETE_MARKER: written over or hidden, the pinned version still read -------------------
@pytest.mark.parametrize("which", ["manifest", "part", "blob"])
def test_a_version_with_other_bytes_written_over_a_pinned_object_is_a_newer_version(scrub: Scrub, which: str) -> None:
    _, keys = stored_recovery_point(scrub)
    key = keys[which]
    pinned = version_ids(scrub, key)[0]
    # someone with s3:PutObject on the vault writes other bytes over it (the bucket's default lock keeps both)
    scrub.world.buckets.put("vault", key, b'{"forged": true}', mode=LockMode.GOVERNANCE, retain_until=START)
    findings = [f for f in scrub.run() if f.problem]
    assert {(f.kind, f.key) for f in findings} == {(FindingKind.NEWER_VERSION, key)}
    assert findings[0].expected == pinned and findings[0].found == version_ids(scrub, key)[-1]


def test_a_newer_version_with_the_same_bytes_is_no_finding(scrub: Scrub) -> None:
    """A re-seal (VaultStore.secure: a GOVERNANCE blob re-written as a COMPLIANCE version for a stricter vault)."""
    _, keys = stored_recovery_point(scrub)
    body = scrub.world.buckets.get("vault", keys["blob"]).body
    scrub.world.buckets.put("vault", keys["blob"], body, mode=LockMode.COMPLIANCE, retain_until=RETAIN)
    assert scrub.problems() == set()


@pytest.mark.parametrize("which", ["manifest", "part", "blob"])
def test_a_delete_marker_over_a_pinned_object_is_reported_and_the_pinned_version_still_checked(
        scrub: Scrub, which: str) -> None:
    _, keys = stored_recovery_point(scrub)
    marker = scrub.world.buckets.mark_deleted("vault", keys[which])  # DeleteObject without a version id
    findings = [f for f in scrub.run() if f.problem]
    assert {(f.kind, f.key) for f in findings} == {(FindingKind.DELETE_MARKER, keys[which])}
    assert findings[0].found == marker.id


def test_a_removed_pinned_blob_under_a_delete_marker_is_missing_too(scrub: Scrub) -> None:
    _, keys = stored_recovery_point(scrub)
    del scrub.world.buckets.buckets["vault"][keys["blob"]]
    scrub.world.buckets.mark_deleted("vault", keys["blob"])
    assert scrub.problems() == {(FindingKind.MISSING, keys["blob"]), (FindingKind.DELETE_MARKER, keys["blob"])}


def test_the_blobs_of_a_part_hidden_by_a_delete_marker_are_still_checked(scrub: Scrub) -> None:
    """The marker keeps the part out of the vault's listing (no part item): the recovery point's item checks them."""
    _, keys = stored_recovery_point(scrub)
    scrub.world.buckets.mark_deleted("vault", keys["part"])
    del scrub.world.buckets.buckets["vault"][keys["blob"]]  # and a blob it references is gone
    assert scrub.problems() == {(FindingKind.DELETE_MARKER, keys["part"]), (FindingKind.MISSING, keys["blob"])}


def test_a_recovery_point_written_before_pinning_is_checked_at_the_newest_version_with_its_bytes(
        scrub: Scrub) -> None:
    _, keys = stored_recovery_point(scrub, pinned=False)
    scrub.world.buckets.put("vault", keys["blob"], b"forged", mode=LockMode.GOVERNANCE, retain_until=RETAIN)
    findings = scrub.run()
    assert {(f.kind, f.key) for f in findings if f.problem} == {(FindingKind.NEWER_VERSION, keys["blob"])}
    assert [(f.kind, f.key) for f in findings if not f.problem] == [(FindingKind.UNPINNED, keys["manifest"])]


def test_other_bytes_and_no_version_with_the_recorded_ones_is_altered(scrub: Scrub) -> None:
    _, keys = stored_recovery_point(scrub, pinned=False)
    scrub.world.buckets.buckets["vault"][keys["blob"]][0].body = b"rot"  # the only version's bytes changed
    assert scrub.problems() == {(FindingKind.ALTERED, keys["blob"])}


# ---- UNOWNED: a planted recovery point -------------------------------------------------------------------
def test_a_recovery_point_prefix_no_catalogued_recovery_point_owns_is_unowned(scrub: Scrub) -> None:
    stored_recovery_point(scrub)
    planted = VaultLayout.manifest("Default", "planted")
    scrub.world.vault.put_locked(planted, b"{}", RETAIN)
    scrub.world.vault.put_locked(VaultLayout.part("Default", "planted", 0), b"{}", RETAIN)
    unowned = [f for f in scrub.run() if f.kind is FindingKind.UNOWNED]
    assert [f.key for f in unowned] == [VaultLayout.recovery_point_prefix("Default", "planted")]  # once, not per key


def test_a_recovery_point_of_another_vault_planted_under_this_one_is_unowned(scrub: Scrub) -> None:
    rp, _ = stored_recovery_point(scrub)
    scrub.world.catalog.put_recovery_point(rp.model_copy(update={"recovery_point_id": "elsewhere",
                                                                 "vault_name": "Archive"}))
    scrub.world.vault.put_locked(VaultLayout.manifest("Default", "elsewhere"), b"{}", RETAIN)
    assert (FindingKind.UNOWNED, VaultLayout.recovery_point_prefix("Default", "elsewhere")) in scrub.problems()


def test_a_vault_prefix_no_catalogued_vault_owns_and_a_key_outside_the_layout_are_unowned(scrub: Scrub) -> None:
    stored_recovery_point(scrub)
    scrub.world.vault.put_locked("vaults/Shadow/recovery-points/x/manifest.json", b"{}", RETAIN)
    scrub.world.vault.put_locked("vaults/Default/stash/loot.bin", b"x", RETAIN)
    assert scrub.problems() == {(FindingKind.UNOWNED, "vaults/Shadow/"), (FindingKind.UNOWNED, "vaults/Default/stash/")}


# ---- UNLOCKED ---------------------------------------------------------------------------------------------
def test_a_pinned_version_locked_shorter_than_its_recovery_point_is_unlocked(scrub: Scrub) -> None:
    _, keys = stored_recovery_point(scrub)
    scrub.world.buckets.current("vault", keys["blob"]).retain_until = START + timedelta(days=1)  # type: ignore[union-attr]
    findings = [f for f in scrub.run() if f.problem]
    assert [(f.kind, f.key) for f in findings] == [(FindingKind.UNLOCKED, keys["blob"])]
    assert (findings[0].expected, findings[0].found) == (f"GOVERNANCE or stricter until {RETAIN.isoformat()}",
                                                         f"GOVERNANCE until {(START + timedelta(days=1)).isoformat()}")


def test_a_pinned_version_without_retention_is_unlocked(scrub: Scrub) -> None:
    _, keys = stored_recovery_point(scrub)
    version = scrub.world.buckets.current("vault", keys["part"])
    assert version is not None
    version.mode, version.retain_until = None, None
    assert scrub.problems() == {(FindingKind.UNLOCKED, keys["part"])}


def test_a_governance_version_in_a_compliance_stack_is_unlocked() -> None:
    from dataclasses import replace

    from fakes.world import SETTINGS

    scrub = make_scrub(FakeWorld(settings=replace(SETTINGS, vault_lock_mode="COMPLIANCE")))
    _, keys = stored_recovery_point(scrub)  # written COMPLIANCE, as the stack says; but one version is not
    version = scrub.world.buckets.current("vault", keys["part"])
    assert version is not None and version.mode is LockMode.COMPLIANCE
    version.mode = LockMode.GOVERNANCE  # what a writer without the stack's mode would have left
    assert scrub.problems() == {(FindingKind.UNLOCKED, keys["part"])}


def test_a_recovery_point_past_its_retain_until_is_not_unlocked(scrub: Scrub) -> None:
    stored_recovery_point(scrub)
    scrub.world.clock.advance(timedelta(days=31))
    for versions in scrub.world.buckets.buckets["vault"].values():
        versions[-1].retain_until = START + timedelta(days=1)
    assert scrub.problems() == set()


# ---- HOLD_OFF / HOLD_UNRECORDED ----------------------------------------------------------------------------
def hold(scrub: Scrub, rp: RecoveryPoint, objects: list[tuple[str, str]]) -> None:
    records: MemoryVaultRecords = scrub.world.vaults.catalog  # type: ignore[assignment]
    records.put_hold(LegalHold(legal_hold_id="hold-1", title="litigation", creation_date=START,
                               status=LegalHoldStatus.ACTIVE,
                               selection=RecoveryPointSelection(recovery_point_ids=(rp.recovery_point_id,))))
    records.add_hold_members("hold-1", rp.recovery_point_id, objects)


def test_a_legal_hold_switched_off_in_s3_is_hold_off(scrub: Scrub) -> None:
    rp, keys = stored_recovery_point(scrub)
    objects = [(k, version_ids(scrub, k)[-1]) for k in keys.values()]
    for key, version in objects:
        scrub.world.vault.set_legal_hold(key, version, True)
    hold(scrub, rp, objects)
    assert scrub.problems() == set()
    # someone with s3:PutObjectLegalHold switches the blob's off
    scrub.world.vault.set_legal_hold(keys["blob"], objects[2][1], False)
    findings = [f for f in scrub.run() if f.problem]
    assert [(f.kind, f.key, f.expected, f.found) for f in findings] == [
        (FindingKind.HOLD_OFF, keys["blob"], "ON", "OFF")]
    assert findings[0].command == "coffer legalhold get hold-1"


def test_a_legal_hold_in_s3_that_no_catalogued_hold_covers_is_hold_unrecorded(scrub: Scrub) -> None:
    _, keys = stored_recovery_point(scrub)
    scrub.world.vault.set_legal_hold(keys["manifest"], version_ids(scrub, keys["manifest"])[-1], True)
    assert scrub.problems() == {(FindingKind.HOLD_UNRECORDED, keys["manifest"])}


# ---- the bucket-wide checks --------------------------------------------------------------------------------
def test_versioning_suspended_and_object_lock_default_changed_are_reported(scrub: Scrub) -> None:
    from coffer.ports.vault_inspection import BucketRules

    scrub.inspection.bucket_rules = BucketRules(versioning="Suspended", object_lock=True, default_mode="GOVERNANCE",
                                                default_days=1)
    assert scrub.problems() == {(FindingKind.VERSIONING, "s3://vault")}
    scrub.inspection.bucket_rules = BucketRules(versioning="Enabled", object_lock=True, default_mode="GOVERNANCE",
                                                default_days=3650)
    [finding] = [f for f in scrub.run() if f.problem]
    assert (finding.kind, finding.expected, finding.found) == (
        FindingKind.OBJECT_LOCK_CONFIG, "Object Lock on, default GOVERNANCE for 1 days",
        "Object Lock on, default GOVERNANCE for 3650 days")
    scrub.inspection.bucket_rules = BucketRules(versioning="Enabled", object_lock=False)
    assert scrub.problems() == {(FindingKind.OBJECT_LOCK_CONFIG, "s3://vault")}


@pytest.mark.parametrize("state", ["Disabled", "PendingDeletion", "NotFound"])
def test_a_vault_key_not_enabled_is_key_state(scrub: Scrub, state: str) -> None:
    scrub.keys.states[STACK_KEY] = state
    findings = [f for f in scrub.run() if f.problem]
    assert [(f.kind, f.key, f.found) for f in findings] == [(FindingKind.KEY_STATE, STACK_KEY, state)]


def test_a_key_policy_whose_deny_exempts_another_principal_is_key_policy_drift(scrub: Scrub) -> None:
    policy = json.loads(json.dumps(scrub.keys.policies[STACK_KEY]))
    policy["Statement"][1]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] = [
        BREAK_GLASS, f"arn:aws:iam::{ACCOUNT}:role/intruder"]
    policy["Statement"].append({"Sid": "Stranger", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999:root"},
                                "Action": "kms:Decrypt", "Resource": "*"})
    scrub.keys.policies[STACK_KEY] = policy
    findings = [f for f in scrub.run() if f.problem]
    assert {(f.kind, f.key) for f in findings} == {
        (FindingKind.KEY_POLICY_DRIFT, f"{STACK_KEY} Sid OnlyBreakGlassDisablesDeletesOrRewritesTheKey"),
        (FindingKind.KEY_POLICY_DRIFT, f"{STACK_KEY} Sid Stranger")}
    assert any("changed: Condition" in f.detail for f in findings)


def test_a_key_policy_reserialised_by_kms_is_no_drift(scrub: Scrub) -> None:
    policy = json.loads(json.dumps(scrub.keys.policies[STACK_KEY]))
    policy["Statement"][1]["Action"] = list(reversed(policy["Statement"][1]["Action"]))
    policy["Statement"][0]["Principal"]["AWS"] = [policy["Statement"][0]["Principal"]["AWS"]]
    scrub.keys.policies[STACK_KEY] = policy
    assert scrub.problems() == set()


def test_a_bucket_policy_missing_changed_or_added_statement_is_bucket_policy_drift(scrub: Scrub) -> None:
    assert scrub.inspection.bucket_policy is not None
    statements = scrub.inspection.bucket_policy["Statement"]
    key_statement = statements[1]
    scrub.inspection.bucket_policy = {"Statement": [
        {**statements[0], "Action": "s3:PutObject"},  # the delete-marker guard now guards something else
        {"Sid": "Backdoor", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}
    findings = {(f.kind, f.key, f.detail.split(": ", 1)[1]) for f in scrub.run() if f.problem}
    assert findings == {
        (FindingKind.BUCKET_POLICY_DRIFT, "s3://vault Sid DenyDeleteMarkers", "changed: Action"),
        (FindingKind.BUCKET_POLICY_DRIFT, f"s3://vault Sid {key_statement['Sid']}", "missing"),
        (FindingKind.BUCKET_POLICY_DRIFT, "s3://vault Sid Backdoor", "not installed by the template or a vault")}
    scrub.inspection.bucket_policy = None
    assert scrub.problems() == {(FindingKind.BUCKET_POLICY_DRIFT, "s3://vault")}


def test_the_workflow_runs_the_bucket_checks_once_per_run_not_per_batch(scrub: Scrub) -> None:
    from coffer.domain.verify import ListVerifyItemsStep

    for n in range(3):
        stored_recovery_point(scrub, f"rp-{n}")
    scrub.keys.states[STACK_KEY] = "Disabled"
    first = scrub.verifier.list_items(ListVerifyItemsStep(run_id="run-1"))
    while first.more:
        first = scrub.verifier.list_items(ListVerifyItemsStep(run_id="run-1", token=first.token,
                                                              next_seq=first.next_seq))
    assert scrub.inspection.calls["GetBucketPolicy"] == 1
    for seq in range(first.next_seq):
        scrub.verifier.verify_batch("run-1", f"verify/run-1/items/{seq:08d}.json")
    assert scrub.inspection.calls["GetBucketPolicy"] == 1 and scrub.inspection.calls["GetBucketRules"] == 1
    from coffer.domain.errors import VaultVerifyFailed

    with pytest.raises(VaultVerifyFailed, match="KEY_STATE"):
        scrub.verifier.complete("run-1")
