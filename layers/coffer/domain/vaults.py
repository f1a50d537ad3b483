"""Vaults and vault locks, with AWS Backup's semantics.

A vault is a logical container: a prefix `vaults/<name>/` of the Object Lock bucket, its own KMS key, an
access policy and optionally a vault lock (PutBackupVaultLockConfiguration):

- no ChangeableForDays: a GOVERNANCE lock - it can be changed or removed at any time;
- ChangeableForDays (>= 3): a COMPLIANCE lock - it can be changed or removed during that cooling-off
  period; from its lock date on it is immutable;
- MinRetentionDays / MaxRetentionDays: every recovery point *entering* the vault must fit them (recovery
  points already in the vault are not affected, as in AWS Backup).

Underneath, every object of a recovery point is written with S3 Object Lock retention in the mode that
matches the vault: COMPLIANCE in a vault with a COMPLIANCE lock (already during the cooling-off: S3 cannot
take a COMPLIANCE retention back, so a lock removed during its cooling-off leaves the objects written
under it COMPLIANCE until their own dates - stricter than AWS Backup, never weaker), else GOVERNANCE
(or the stack's VaultLockMode when that is COMPLIANCE).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_pascal

from coffer.domain.errors import InvalidInput, RetentionOutsideVaultLock, VaultLockImmutable
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.object_lock import LockMode, stricter

DEFAULT_VAULT = "Default"
VAULT_NAME_PATTERN = r"^[a-zA-Z0-9\-_]{2,50}$"
#: AWS Backup: ChangeableForDays is at least 3 (72 hours of cooling-off) and Min/Max at most 36500 days.
MIN_CHANGEABLE_FOR_DAYS = 3
MAX_DAYS = 36500

_AWS_STYLE = ConfigDict(frozen=True, alias_generator=to_pascal, populate_by_name=True, extra="forbid")


class KeyOwner(StrEnum):
    #: the stack's VaultKey (the Default vault)
    STACK = "stack"
    #: a key `coffer vault create` made for this vault
    COFFER = "coffer"
    #: a customer managed key the operator named
    CUSTOMER = "customer"


class VaultLockRequest(BaseModel):
    """AWS Backup's PutBackupVaultLockConfiguration input (without the vault name)."""

    model_config = _AWS_STYLE

    min_retention_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    max_retention_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    changeable_for_days: int | None = Field(default=None, ge=MIN_CHANGEABLE_FOR_DAYS, le=MAX_DAYS)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> VaultLockRequest:
        low, high = self.min_retention_days, self.max_retention_days
        if low is not None and high is not None and low > high:
            raise ValueError(f"MinRetentionDays ({low}) must not exceed MaxRetentionDays ({high})")
        return self


class VaultLock(BaseModel):
    """A vault lock as applied: its mode follows from ChangeableForDays, its lock date from when it was set."""

    model_config = ConfigDict(frozen=True)

    mode: LockMode
    min_retention_days: int | None = None
    max_retention_days: int | None = None
    changeable_for_days: int | None = None
    applied_at: datetime
    #: COMPLIANCE only: from this moment the lock can be neither changed nor removed
    lock_date: datetime | None = None

    def immutable(self, now: datetime) -> bool:
        return self.mode is LockMode.COMPLIANCE and self.lock_date is not None and now >= self.lock_date

    @classmethod
    def from_request(cls, request: VaultLockRequest, now: datetime) -> VaultLock:
        days = request.changeable_for_days
        return cls(
            mode=LockMode.COMPLIANCE if days is not None else LockMode.GOVERNANCE,
            min_retention_days=request.min_retention_days, max_retention_days=request.max_retention_days,
            changeable_for_days=days, applied_at=now,
            lock_date=now + timedelta(days=days) if days is not None else None,
        )


def change_lock(vault_name: str, current: VaultLock | None, request: VaultLockRequest | None,
                now: datetime) -> VaultLock | None:
    """The vault's lock after PutBackupVaultLockConfiguration (request) or DeleteBackupVaultLockConfiguration
    (None). A COMPLIANCE lock past its lock date refuses both; a change during the cooling-off starts a new
    cooling-off from now, as a newly applied lock does."""
    if current is not None and current.immutable(now):
        raise VaultLockImmutable(
            f"vault {vault_name}: its COMPLIANCE lock became immutable on {current.lock_date} "
            f"(cooling-off of {current.changeable_for_days} days ended); it can be neither changed nor removed")
    return None if request is None else VaultLock.from_request(request, now)


class Vault(BaseModel):
    """A vault as the catalog and its descriptor in the vault (`vaults/<name>/vault.json`) record it."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=VAULT_NAME_PATTERN)
    key_arn: str
    key_owner: KeyOwner
    created_at: datetime
    lock: VaultLock | None = None
    #: Deny statements the operator added (their Resource is always this vault's prefix)
    access_policy: tuple[dict[str, Any], ...] = ()
    version: int = 0

    @field_validator("access_policy")
    @classmethod
    def _deny_only(cls, statements: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        return tuple(validate_access_statement(s, i) for i, s in enumerate(statements))

    def object_lock_mode(self, stack_mode: LockMode) -> LockMode:
        """The S3 Object Lock mode of this vault's objects: the stricter of the stack's and the vault lock's."""
        return stricter(stack_mode, self.lock.mode if self.lock else LockMode.GOVERNANCE)

    def retain_until(self, lifecycle: Lifecycle, created: datetime, default_days: int) -> datetime:
        """How long S3 keeps a recovery point entering this vault, or RetentionOutsideVaultLock."""
        retain = lifecycle.retain_until(created, default_days)
        lock = self.lock
        if lock is None:
            return retain
        days = lifecycle.delete_after_days
        kept = "kept indefinitely (no DeleteAfterDays)" if days is None else f"DeleteAfterDays {days}"
        if lock.min_retention_days is not None and days is not None and days < lock.min_retention_days:
            raise RetentionOutsideVaultLock(
                f"vault {self.name}: {kept} is shorter than its vault lock's MinRetentionDays "
                f"({lock.min_retention_days})")
        if lock.max_retention_days is not None and (days is None or days > lock.max_retention_days):
            raise RetentionOutsideVaultLock(
                f"vault {self.name}: {kept} is longer than its vault lock's MaxRetentionDays "
                f"({lock.max_retention_days})")
        if lock.min_retention_days is not None:
            retain = max(retain, created + timedelta(days=lock.min_retention_days))
        return retain


@dataclass(frozen=True)
class Seal:
    """How the objects of one recovery point are written into its vault: lock mode, date, and KMS key."""

    vault: str
    mode: LockMode
    retain_until: datetime
    kms_key_arn: str

    def ahead(self, slack_days: int) -> Seal:
        """The seal a shared blob is locked with: `slack_days` past this recovery point's date. Each daily backup
        needs its blobs locked one day longer than the last; locked ahead, an unchanged blob is extended about once
        per `slack_days` days instead of daily (the lock extension was 69 % of an S3 backup's requests). The cost:
        an object deleted at its source stays locked up to `slack_days` longer."""
        return replace(self, retain_until=self.retain_until + timedelta(days=slack_days)) if slack_days else self


def validate_access_statement(statement: dict[str, Any], index: int = 0) -> dict[str, Any]:
    """A vault access policy statement: Deny only (grants belong to IAM), with a Principal and an Action.

    Its Resource is set by Coffer to the vault's prefix, so a statement cannot reach outside its vault.
    """
    where = f"AccessPolicy.Statement[{index}]"
    problems = []
    if statement.get("Effect") != "Deny":
        problems.append(f"{where}.Effect: only Deny statements are accepted (grants belong to IAM)")
    if "Principal" not in statement:
        problems.append(f"{where}.Principal: required")
    if "Action" not in statement:
        problems.append(f"{where}.Action: required")
    unknown = set(statement) - {"Sid", "Effect", "Principal", "Action", "Condition"}
    if unknown:
        problems.append(f"{where}: {', '.join(sorted(unknown))} not accepted (Coffer sets the Resource)")
    if problems:
        raise InvalidInput(problems)
    return statement


def recovery_points_prefix(vault_name: str) -> str:
    """Where a vault's recovery points (manifests and parts) live: vaults/<name>/recovery-points/."""
    return f"vaults/{vault_name}/recovery-points/"


def blobs_prefix(vault_name: str) -> str:
    """Every content-addressed blob of a vault: blobs/sha256/ and blobs/sha256-composite/ (domain/manifest.py)."""
    return f"vaults/{vault_name}/blobs/"
