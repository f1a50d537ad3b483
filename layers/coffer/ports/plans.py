"""Plans, plan runs and window claims in the catalog (adapters/catalog/plans.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from coffer.domain.plan_runs import PlanRun, WindowClaim
from coffer.domain.plans import PlanDocument


@dataclass(frozen=True)
class StoredPlan:
    plan: PlanDocument
    version: int
    applied_at: datetime


class PlanStore(Protocol):
    def get_plan(self, name: str) -> StoredPlan | None: ...

    def put_plan(self, plan: PlanDocument, expected_version: int | None, applied_at: datetime) -> int:
        """Write the plan's next version, only from `expected_version` (None: it must be new); ConcurrentUpdate
        otherwise (two applies never interleave). Returns the version written."""
        ...

    def delete_plan(self, name: str, expected_version: int) -> None:
        """Delete only the version that was read and shown; ConcurrentUpdate otherwise."""
        ...

    def list_plans(self) -> Iterator[StoredPlan]: ...

    def create_run(self, run: PlanRun) -> PlanRun | None:
        """Write a new run; None if it exists already (a schedule delivered twice)."""
        ...

    def get_run(self, run_id: str) -> PlanRun:
        """NotFound if there is none."""
        ...

    def save_run(self, run: PlanRun) -> PlanRun:
        """The run's next version, only from the version read (ConcurrentUpdate otherwise)."""
        ...

    def list_runs(self, plan_name: str, limit: int = 20) -> list[PlanRun]:
        """The plan's runs, newest first."""
        ...

    def put_run_record(self, run_id: str, kind: str, seq: int, doc: dict[str, Any]) -> None:
        """A step's record (SELECT / PAGE); a retried step overwrites its own."""
        ...

    def get_run_record(self, run_id: str, kind: str, seq: int) -> dict[str, Any] | None: ...

    def list_run_records(self, run_id: str, kind: str) -> Iterator[tuple[int, dict[str, Any]]]: ...

    def claim_window(self, claim: WindowClaim, slot_start: datetime) -> WindowClaim:
        """Claim (resource, window slot) for `claim.job_id`; the claim that holds: ours, or the one made first."""
        ...

    def note_selected(self, plan_name: str, rule_name: str, resource_arn: str, selected_at: datetime,
                      completed_at: datetime | None) -> tuple[datetime, datetime | None]:
        """Record that the rule selected the resource at `selected_at` and, if given, that a backup of it
        COMPLETED at `completed_at`. (when the rule first selected it, its newest completion so far)."""
        ...

    def note_fired(self, plan_name: str, rule_name: str, scheduled: datetime) -> None:
        """Record that the rule fired for `scheduled` (only ever moves forward)."""
        ...

    def last_fired(self, plan_name: str, rule_name: str) -> datetime | None:
        """The newest scheduled time the rule fired for (None: never recorded)."""
        ...
