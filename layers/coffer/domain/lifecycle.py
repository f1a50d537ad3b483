"""Lifecycle: when a recovery point goes cold and when it is deleted (AWS Backup's rules)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_pascal

from coffer.domain.input_rules.scalars import MAX_DAYS, Flag, WholeNumber

#: AWS Backup keeps cold-storage recovery points at least 90 days.
MIN_DAYS_IN_COLD = 90


class Lifecycle(BaseModel):
    """AWS Backup's Lifecycle object, with its field names (MoveToColdStorageAfterDays, DeleteAfterDays)."""

    model_config = ConfigDict(frozen=True, alias_generator=to_pascal, populate_by_name=True, extra="forbid")

    # Strict: `DeleteAfterDays: true` or `"35"` is refused, never read as a number (input_rules/scalars.py).
    move_to_cold_storage_after_days: WholeNumber | None = Field(default=None, ge=1, le=MAX_DAYS)
    delete_after_days: WholeNumber | None = Field(default=None, ge=1, le=MAX_DAYS)
    opt_in_to_archive_for_supported_resources: Flag | None = None
    #: AWS Backup's DELETE_AFTER_COPY (delete the source once copied): kept and exported, not acted on yet
    delete_after_event: Literal["DELETE_AFTER_COPY"] | None = None

    @model_validator(mode="after")
    def _cold_then_delete(self) -> Lifecycle:
        cold, delete = self.move_to_cold_storage_after_days, self.delete_after_days
        if cold is not None and delete is not None and delete < cold + MIN_DAYS_IN_COLD:
            raise ValueError(
                f"DeleteAfterDays ({delete}) must be at least {MIN_DAYS_IN_COLD} days after "
                f"MoveToColdStorageAfterDays ({cold})"
            )
        return self

    def cold_at(self, created: datetime) -> datetime | None:
        days = self.move_to_cold_storage_after_days
        return None if days is None else created + timedelta(days=days)

    def delete_at(self, created: datetime) -> datetime | None:
        days = self.delete_after_days
        return None if days is None else created + timedelta(days=days)

    def retain_until(self, created: datetime, default_days: int) -> datetime:
        """How long S3 Object Lock keeps the data: to deletion, or the vault's default when kept forever.

        A recovery point without DeleteAfterDays is kept indefinitely by Coffer; its objects are locked for the
        default period and the lock is extended by the sweeper, never left open.
        """
        return self.delete_at(created) or created + timedelta(days=default_days)
