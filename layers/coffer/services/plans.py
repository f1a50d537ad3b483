"""Plans as code: diff, apply, export, list, delete. Used by `coffer plan ...`.

Apply is all-or-nothing from the user's view. The catalog is written first, on condition that the plan is
still the version that was diffed and shown: that write is the lock, so of two concurrent applies the
second fails before it touches any schedule. Then the schedules change, each change logged with what it
replaced. If a schedule call fails, the changes made so far are undone in reverse order and the catalog
gets the previous plan back, so a plan is either applied with all its schedules or not at all. (A run
that fires meanwhile reads the plan of that moment: harmless during the seconds an apply takes.)

Audited: every applied change - a plan created, updated or deleted, with its rules' and selections' changes and
its schedules' - is a record in the audit chain (services/audit_log.py), appended as the apply's last step and
inside its all-or-nothing: if the record cannot be appended, the change is undone like any failed step, so no
plan change goes unaudited. Its idempotency key is the plan version the change wrote: a retried append adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from coffer.domain.clock import Clock
from coffer.domain.errors import CofferError, NotFound
from coffer.domain.input_rules.gates import PlanRules
from coffer.domain.plan_diff import PlanDiff, diff_plans, managed
from coffer.domain.plans import PlanDocument, schedule_definition, schedule_name
from coffer.domain.schedules import CronSchedule
from coffer.ports.plans import PlanStore, StoredPlan
from coffer.ports.schedules import Schedules
from coffer.stack_outputs import StackRefs

if TYPE_CHECKING:
    from coffer.services.audit_log import AuditLog


@dataclass(frozen=True)
class ScheduleChange:
    action: str  # create | update | delete
    name: str
    definition: dict[str, Any] | None  # what it becomes (create/update)
    previous: dict[str, Any] | None  # what it was (update/delete), to undo

    def line(self) -> str:
        mark = {"create": "+", "update": "~", "delete": "-"}[self.action]
        what = f" {self.definition['ScheduleExpression']}" if self.definition else ""
        return f"  {mark} schedule {self.name}{what}"


@dataclass(frozen=True)
class Changes:
    diff: PlanDiff
    schedules: tuple[ScheduleChange, ...]
    stored: StoredPlan | None

    @property
    def empty(self) -> bool:
        return self.diff.empty and not self.schedules

    def lines(self) -> list[str]:
        lines = self.diff.lines()
        if self.empty:
            return lines
        return lines + [c.line() for c in self.schedules]


@dataclass
class ApplyResult:
    changes: Changes
    applied: bool
    version: int | None = None
    undone: list[str] = field(default_factory=list)


class ApplyFailed(CofferError):
    """A step of an apply failed; what had been done was undone (listed)."""

    def __init__(self, cause: Exception, undone: list[str], undo_failures: list[str]) -> None:
        self.cause = cause
        self.undone = undone
        self.undo_failures = undo_failures
        detail = f"; undone: {', '.join(undone) or 'nothing'}"
        if undo_failures:
            detail += f"; COULD NOT UNDO: {', '.join(undo_failures)}"
        super().__init__(f"apply failed ({type(cause).__name__}: {cause}){detail}")


class PlanService:
    def __init__(self, catalog: PlanStore, schedules: Schedules, refs: StackRefs, clock: Clock,
                 rules: PlanRules, audit: AuditLog | None = None) -> None:
        self.catalog = catalog
        self.schedules = schedules
        self.refs = refs
        self.clock = clock
        self.rules = rules
        #: the audit chain every applied change is recorded in (None only where no vault exists: unit tests)
        self.audit = audit

    def _definitions(self, plan: PlanDocument) -> dict[str, dict[str, Any]]:
        return {schedule_name(plan.name, rule.rule_name): schedule_definition(
            plan, rule, self.refs.schedule_group, self.refs.plan_run_state_machine_arn, self.refs.scheduler_role_arn)
            for rule in plan.backup_plan.rules}

    def changes(self, plan: PlanDocument | None, name: str | None = None) -> Changes:
        """What applying `plan` (None: deleting plan `name`) would change, against the catalog and the live
        schedules (a schedule changed or removed by hand is put back)."""
        plan_name = plan.name if plan is not None else name or ""
        stored = self.catalog.get_plan(plan_name)
        desired = self._definitions(plan) if plan is not None else {}
        known = set(self._definitions(stored.plan)) if stored else set()
        live = {n: self.schedules.get(n) for n in sorted(set(desired) | known)}
        changes: list[ScheduleChange] = []
        for n, definition in desired.items():
            current = live[n]
            if current is None:
                changes.append(ScheduleChange("create", n, definition, None))
            elif managed(current) != definition:
                changes.append(ScheduleChange("update", n, definition, managed(current)))
        for n in sorted(known - set(desired)):
            current = live[n]
            if current is not None:
                changes.append(ScheduleChange("delete", n, None, managed(current)))
        return Changes(diff=diff_plans(stored.plan if stored else None, plan), schedules=tuple(changes),
                       stored=stored)

    def apply(self, plan: PlanDocument, confirm: Callable[[Changes], bool] = lambda _: True) -> ApplyResult:
        self.rules.check(plan, self.clock.now())  # the stack's input rules (vaults exist, ...), before any write
        changes = self.changes(plan)
        if changes.empty or not confirm(changes):
            return ApplyResult(changes=changes, applied=False)
        stored = changes.stored
        applied_at = self.clock.now()
        version = self.catalog.put_plan(plan, stored.version if stored else None, applied_at)

        def restore() -> None:
            if stored is None:
                self.catalog.delete_plan(plan.name, version)
            else:
                self.catalog.put_plan(stored.plan, version, stored.applied_at)

        self._run(changes, restore, lambda: self._audit(plan.name, changes, version, applied_at))
        return ApplyResult(changes=changes, applied=True, version=version)

    def delete(self, name: str, confirm: Callable[[Changes], bool] = lambda _: True) -> ApplyResult:
        changes = self.changes(None, name)
        if changes.stored is None:
            raise NotFound(f"plan {name} is not in the catalog")
        if not confirm(changes):
            return ApplyResult(changes=changes, applied=False)
        stored = changes.stored
        self.catalog.delete_plan(name, stored.version)
        self._run(changes, lambda: self.catalog.put_plan(stored.plan, None, stored.applied_at),
                  lambda: self._audit(name, changes, stored.version, stored.applied_at))
        return ApplyResult(changes=changes, applied=True)

    def _audit(self, name: str, changes: Changes, version: int, applied_at: datetime) -> None:
        """The applied change's audit record: plan.create, plan.update or plan.delete, with what changed.
        `version`/`applied_at`: the plan version the change wrote (or, for a delete, removed)."""
        if self.audit is None:
            return
        diff = changes.diff
        action = "plan.create" if diff.new_plan else "plan.delete" if diff.removed_plan else "plan.update"
        details: dict[str, Any] = {"version": version, "changes": diff.lines(),
                                   "schedules": [f"{c.action} {c.name}" for c in changes.schedules]}
        for kind, named in (("rules", diff.rules), ("selections", diff.selections)):
            details[kind] = {"added": list(named.added), "removed": list(named.removed),
                             "changed": sorted(named.changed)}
        # keyed by the plan version the change wrote and when (a plan deleted and made again restarts at version
        # 1): a repeated append (a retry) returns the first record, a later change never collides with it
        self.audit.append(action, name, details,
                          idempotency_key=f"{action}:{name}:{version}:{applied_at.isoformat()}")

    def _run(self, changes: Changes, restore_catalog: Callable[[], Any],
             record: Callable[[], None] = lambda: None) -> None:
        """Make the schedule changes and record them in the audit chain; on a failure undo the changes and put
        the catalog back as it was."""
        done: list[ScheduleChange] = []
        try:
            for change in changes.schedules:
                self._do(change)
                done.append(change)
            record()
        except Exception as error:
            undone, failures = self._undo(done)
            try:
                restore_catalog()
                undone.append("catalog")
            except Exception as catalog_error:
                failures.append(f"catalog ({type(catalog_error).__name__}: {catalog_error})")
            raise ApplyFailed(error, undone, failures) from error

    def _do(self, change: ScheduleChange) -> None:
        if change.action == "create" and change.definition is not None:
            self.schedules.create(change.definition)
        elif change.action == "update" and change.definition is not None:
            self.schedules.update(change.definition)
        elif change.action == "delete":
            self.schedules.delete(change.name)

    def _undo(self, done: list[ScheduleChange]) -> tuple[list[str], list[str]]:
        undone: list[str] = []
        failures: list[str] = []
        for change in reversed(done):
            try:
                if change.action == "create":
                    self.schedules.delete(change.name)
                elif change.action == "update" and change.previous is not None:
                    self.schedules.update(change.previous)
                elif change.action == "delete" and change.previous is not None:
                    self.schedules.create(change.previous)
                undone.append(f"{change.action} {change.name}")
            except Exception as error:  # keep undoing the rest; report what could not be undone
                failures.append(f"{change.action} {change.name} ({type(error).__name__}: {error})")
        return undone, failures

    def export(self, name: str) -> StoredPlan:
        stored = self.catalog.get_plan(name)
        if stored is None:
            raise NotFound(f"plan {name} is not in the catalog")
        return stored

    def list(self) -> list[StoredPlan]:
        return list(self.catalog.list_plans())

    def next_fires(self, stored: StoredPlan, after: datetime) -> dict[str, datetime | None]:
        """When each rule fires next (cron rules; rate rules fire from their schedule's start)."""
        fires: dict[str, datetime | None] = {}
        for rule in stored.plan.backup_plan.rules:
            schedule = rule.schedule()
            fires[rule.rule_name] = schedule.next_fire(after) if isinstance(schedule, CronSchedule) else None
        return fires
