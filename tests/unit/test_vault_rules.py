"""Vault lock semantics (AWS Backup's), retention fit, the vault policy statements and the expiry check - pure,
with time injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from coffer.domain.clock import FixedClock
from coffer.domain.errors import InvalidInput, RetentionOutsideVaultLock, VaultLockImmutable
from coffer.domain.expiry import deletion_refusal, due_for_expiry
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.object_lock import LockMode
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.resources import ResourceType
from coffer.domain.validation import parse_model
from coffer.domain.vault_policy import (
    has_template_policy,
    merge_vault_statements,
    template_policy_notes,
    vault_sid,
    vault_statements,
)
from coffer.domain.vaults import KeyOwner, Vault, VaultLock, VaultLockRequest, change_lock

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
KEY = "arn:aws:kms:us-east-1:123456789012:key/gold"


def lock_request(**fields: object) -> VaultLockRequest:
    return parse_model(VaultLockRequest, fields)


def a_vault(lock: VaultLock | None = None, **changes: object) -> Vault:
    return Vault(name="Gold", key_arn=KEY, key_owner=KeyOwner.COFFER, created_at=T0, lock=lock).model_copy(
        update=changes)


# ---- the lock's mode and its cooling-off -----------------------------------------------------------------
def test_a_lock_without_changeable_for_days_is_governance_and_never_becomes_immutable() -> None:
    lock = VaultLock.from_request(lock_request(MinRetentionDays=7), T0)
    assert lock.mode is LockMode.GOVERNANCE and lock.lock_date is None
    assert not lock.immutable(T0 + timedelta(days=10_000))
    assert change_lock("Gold", lock, None, T0 + timedelta(days=10_000)) is None


def test_a_compliance_lock_can_be_changed_and_removed_during_its_cooling_off() -> None:
    clock = FixedClock(T0)
    lock = change_lock("Gold", None, lock_request(MinRetentionDays=7, ChangeableForDays=3), clock.now())
    assert lock is not None and lock.mode is LockMode.COMPLIANCE and lock.lock_date == T0 + timedelta(days=3)
    clock.advance(timedelta(days=2, hours=23))
    changed = change_lock("Gold", lock, lock_request(MinRetentionDays=30, ChangeableForDays=3), clock.now())
    assert changed is not None and changed.min_retention_days == 30
    # A change during the cooling-off starts a new one, as a newly applied lock does.
    assert changed.lock_date == clock.now() + timedelta(days=3)
    assert change_lock("Gold", changed, None, clock.now()) is None


def test_a_compliance_lock_can_be_neither_changed_nor_removed_after_its_cooling_off() -> None:
    clock = FixedClock(T0)
    lock = change_lock("Gold", None, lock_request(MinRetentionDays=7, ChangeableForDays=3), clock.now())
    clock.advance(timedelta(days=3))
    assert lock is not None and lock.immutable(clock.now())
    with pytest.raises(VaultLockImmutable, match="can be neither changed nor removed"):
        change_lock("Gold", lock, lock_request(MinRetentionDays=1, ChangeableForDays=3), clock.now())
    with pytest.raises(VaultLockImmutable):
        change_lock("Gold", lock, None, clock.now())
    with pytest.raises(VaultLockImmutable):  # not even to make it stricter: immutable is immutable
        change_lock("Gold", lock, lock_request(MinRetentionDays=3650, ChangeableForDays=3), clock.now())


@pytest.mark.parametrize(("fields", "message"), [
    ({"ChangeableForDays": 2}, "ChangeableForDays: Input should be greater than or equal to 3"),
    ({"MinRetentionDays": 0}, "MinRetentionDays: Input should be greater than or equal to 1"),
    ({"MaxRetentionDays": 36501}, "MaxRetentionDays: Input should be less than or equal to 36500"),
    ({"MinRetentionDays": 30, "MaxRetentionDays": 7}, "MinRetentionDays (30) must not exceed MaxRetentionDays (7)"),
    ({"MinRetentionDay": 3}, "MinRetentionDay: Extra inputs are not permitted"),
])
def test_a_lock_request_outside_aws_backups_rules_is_refused_naming_the_field(fields: dict[str, int],
                                                                              message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        lock_request(**fields)
    assert message in str(refused.value)


# ---- recovery points entering a locked vault ------------------------------------------------------------
def test_a_vault_without_lock_takes_any_retention() -> None:
    vault = a_vault()
    assert vault.retain_until(Lifecycle(delete_after_days=1), T0, 35) == T0 + timedelta(days=1)
    assert vault.retain_until(Lifecycle(), T0, 35) == T0 + timedelta(days=35)


def test_a_recovery_point_shorter_than_min_retention_is_refused() -> None:
    vault = a_vault(VaultLock.from_request(lock_request(MinRetentionDays=30), T0))
    with pytest.raises(RetentionOutsideVaultLock, match=r"DeleteAfterDays 7 is shorter .* MinRetentionDays \(30\)"):
        vault.retain_until(Lifecycle(delete_after_days=7), T0, 35)
    assert vault.retain_until(Lifecycle(delete_after_days=30), T0, 35) == T0 + timedelta(days=30)


def test_a_recovery_point_longer_than_max_retention_or_kept_forever_is_refused() -> None:
    vault = a_vault(VaultLock.from_request(lock_request(MaxRetentionDays=90), T0))
    with pytest.raises(RetentionOutsideVaultLock, match=r"DeleteAfterDays 91 is longer"):
        vault.retain_until(Lifecycle(delete_after_days=91), T0, 35)
    with pytest.raises(RetentionOutsideVaultLock, match="kept indefinitely"):
        vault.retain_until(Lifecycle(), T0, 35)
    assert vault.retain_until(Lifecycle(delete_after_days=90), T0, 35) == T0 + timedelta(days=90)


def test_a_recovery_point_kept_indefinitely_is_locked_at_least_min_retention() -> None:
    vault = a_vault(VaultLock.from_request(lock_request(MinRetentionDays=400), T0))
    assert vault.retain_until(Lifecycle(), T0, 35) == T0 + timedelta(days=400)


@pytest.mark.parametrize(("stack", "lock", "expected"), [
    (LockMode.GOVERNANCE, None, LockMode.GOVERNANCE),
    (LockMode.GOVERNANCE, {"MinRetentionDays": 1}, LockMode.GOVERNANCE),
    (LockMode.GOVERNANCE, {"MinRetentionDays": 1, "ChangeableForDays": 3}, LockMode.COMPLIANCE),
    (LockMode.COMPLIANCE, None, LockMode.COMPLIANCE),
    (LockMode.COMPLIANCE, {"MinRetentionDays": 1}, LockMode.COMPLIANCE),
])
def test_objects_are_locked_in_the_stricter_of_the_stacks_and_the_vault_locks_mode(
        stack: LockMode, lock: dict[str, int] | None, expected: LockMode) -> None:
    vault = a_vault(VaultLock.from_request(lock_request(**lock), T0) if lock else None)
    assert vault.object_lock_mode(stack) is expected


# ---- the access policy --------------------------------------------------------------------------------
def test_an_access_policy_takes_deny_statements_only() -> None:
    def vault_with(statement: dict[str, str]) -> Vault:
        return Vault(name="Gold", key_arn=KEY, key_owner=KeyOwner.COFFER, created_at=T0, access_policy=(statement,))

    with pytest.raises(InvalidInput, match=r"Statement\[0\].Effect: only Deny"):
        vault_with({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"})
    with pytest.raises(InvalidInput, match="Resource not accepted"):
        vault_with({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"})
    assert vault_with({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject"}).access_policy


def test_vault_statements_pin_its_key_and_scope_its_access_policy_to_its_prefix() -> None:
    deny = {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:role/intern"}, "Action": "s3:GetObject"}
    statements = vault_statements("arn:aws:s3:::vault", a_vault(access_policy=(deny,)))
    key, access = statements
    assert key["Action"] == "s3:PutObject" and key["Resource"] == "arn:aws:s3:::vault/vaults/Gold/*"
    assert key["Condition"] == {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KEY}}
    assert access == {**deny, "Sid": f"{vault_sid('Gold')}Access0", "Resource": "arn:aws:s3:::vault/vaults/Gold/*"}


def test_merging_replaces_only_the_vaults_own_statements() -> None:
    template = {"Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny"}]}
    gold, silver = a_vault(), a_vault(name="Silver")
    policy = merge_vault_statements(template, "Gold", vault_statements("arn:aws:s3:::v", gold))
    policy = merge_vault_statements(policy, "Silver", vault_statements("arn:aws:s3:::v", silver))
    again = merge_vault_statements(policy, "Gold", vault_statements("arn:aws:s3:::v", gold))
    assert again == policy and len(policy["Statement"]) == 3 and has_template_policy(policy)
    removed = merge_vault_statements(policy, "Gold", [])
    assert [s["Sid"] for s in removed["Statement"]] == ["DenyInsecureTransport", f"{vault_sid('Silver')}Key"]
    assert not has_template_policy(None) and not has_template_policy({"Statement": []})


def test_a_bucket_policy_from_before_the_sweeps_delete_right_is_reported() -> None:
    # The stack's policy once denied s3:DeleteObjectVersion to all but the operator, sweep included.
    outdated = {"Statement": [{"Sid": "DenyInsecureTransport"}, {"Sid": "DenyRetentionBypassAndVersionDeletion"}]}
    [note] = template_policy_notes(outdated)
    assert "redeployed" in note and "DenyRetentionBypassAndVersionDeletion" in note
    current = {"Statement": [{"Sid": "DenyInsecureTransport"}, {"Sid": "DenyRetentionBypass"},
                             {"Sid": "DenyVersionDeletion"}]}
    assert template_policy_notes(current) == [] and template_policy_notes(None) == []


# ---- may it be deleted? -----------------------------------------------------------------------------------
def a_point(**changes: object) -> RecoveryPoint:
    return RecoveryPoint(recovery_point_id="rp", vault_name="Gold", resource_arn="arn:aws:s3:::b",
                         resource_type=ResourceType.S3, creation_date=T0, retain_until=T0 + timedelta(days=35),
                         delete_at=T0 + timedelta(days=35), job_id="j").model_copy(update=changes)


def test_expiry_skips_a_recovery_point_under_legal_hold() -> None:
    later = T0 + timedelta(days=400)
    assert due_for_expiry(a_point(), [], LockMode.GOVERNANCE, later)
    assert not due_for_expiry(a_point(), ["hold-1"], LockMode.GOVERNANCE, later)
    assert "under legal hold hold-1" in (deletion_refusal(a_point(), ["hold-1"], LockMode.GOVERNANCE, later) or "")


def test_a_recovery_point_is_not_deleted_before_its_lock_ends_and_compliance_has_no_bypass() -> None:
    soon = T0 + timedelta(days=1)
    assert not due_for_expiry(a_point(), [], LockMode.GOVERNANCE, soon)
    assert "GOVERNANCE mode" in (deletion_refusal(a_point(), [], LockMode.GOVERNANCE, soon) or "")
    assert deletion_refusal(a_point(), [], LockMode.GOVERNANCE, soon, bypass_governance=True) is None
    assert "COMPLIANCE mode" in (deletion_refusal(a_point(), [], LockMode.COMPLIANCE, soon,
                                                  bypass_governance=True) or "")
    assert "legal hold" in (deletion_refusal(a_point(), ["h"], LockMode.GOVERNANCE, soon, bypass_governance=True) or "")


def test_a_recovery_point_kept_indefinitely_never_expires() -> None:
    assert not due_for_expiry(a_point(delete_at=None), [], LockMode.GOVERNANCE, T0 + timedelta(days=10_000))
