"""Legal holds, with AWS Backup's fields (CreateLegalHold / ReleaseLegalHold).

A hold names recovery points - by id, or by vault(s) and a creation date range - and puts an S3 legal
hold on every object they consist of: manifest, manifest parts, and each content-addressed blob they
reference. Blobs are shared between recovery points, so one blob may be covered by several holds: it is
released only when the last hold covering it is (the catalog keeps one membership item per object
version and hold, see adapters/catalog_vault.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_pascal

from coffer.domain.errors import IllegalTransition

_AWS_STYLE = ConfigDict(frozen=True, alias_generator=to_pascal, populate_by_name=True, extra="forbid")


class LegalHoldStatus(StrEnum):
    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"


_NEXT = {
    LegalHoldStatus.CREATING: {LegalHoldStatus.ACTIVE, LegalHoldStatus.CANCELING},
    LegalHoldStatus.ACTIVE: {LegalHoldStatus.CANCELING},
    LegalHoldStatus.CANCELING: {LegalHoldStatus.CANCELED},
    LegalHoldStatus.CANCELED: set(),
}


class DateRange(BaseModel):
    model_config = _AWS_STYLE

    from_date: datetime
    to_date: datetime

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.from_date.tzinfo is None or self.to_date.tzinfo is None:
            raise ValueError("FromDate and ToDate need a time zone (UTC)")
        if self.from_date > self.to_date:
            raise ValueError("FromDate must not be after ToDate")
        return self


class RecoveryPointSelection(BaseModel):
    """Which recovery points a hold covers: explicit ids, or the vaults' recovery points created in a range."""

    model_config = _AWS_STYLE

    recovery_point_ids: tuple[str, ...] = ()
    vault_names: tuple[str, ...] = ()
    date_range: DateRange | None = None

    @model_validator(mode="after")
    def _one_way(self) -> RecoveryPointSelection:
        by_ids, by_range = bool(self.recovery_point_ids), self.date_range is not None
        if by_ids == by_range:
            raise ValueError("give RecoveryPointIds, or VaultNames with a DateRange (one of the two)")
        if by_range and not self.vault_names:
            raise ValueError("a DateRange needs VaultNames")
        return self


class CreateLegalHoldRequest(BaseModel):
    model_config = _AWS_STYLE

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    recovery_point_selection: RecoveryPointSelection
    idempotency_token: str | None = None


class LegalHold(BaseModel):
    model_config = ConfigDict(frozen=True)

    legal_hold_id: str
    title: str
    description: str = ""
    status: LegalHoldStatus = LegalHoldStatus.CREATING
    creation_date: datetime
    cancellation_date: datetime | None = None
    cancel_description: str | None = None
    selection: RecoveryPointSelection
    #: the recovery points the selection resolved to when the hold was created
    recovery_point_ids: tuple[str, ...] = ()
    objects_held: int = 0
    version: int = 0

    def to(self, status: LegalHoldStatus, **changes: object) -> LegalHold:
        if status not in _NEXT[self.status]:
            raise IllegalTransition(f"legal hold {self.legal_hold_id}: {self.status} -> {status} is not allowed")
        return self.model_copy(update={"status": status, **changes})

