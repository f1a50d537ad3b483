"""What applying a plan would change, field by field: shown before `coffer plan apply` changes anything."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from coffer.domain.plans import PlanDocument

#: the fields of an EventBridge Scheduler schedule Coffer sets (and compares to decide whether it needs an update)
MANAGED_FIELDS = ("Name", "GroupName", "ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow",
                  "State", "Description", "Target")
_TARGET_FIELDS = ("Arn", "RoleArn", "Input", "RetryPolicy")


def managed(definition: dict[str, Any]) -> dict[str, Any]:
    """The part of a schedule (as GetSchedule returns it) that Coffer manages, in CreateSchedule's shape."""
    kept = {k: definition[k] for k in MANAGED_FIELDS if definition.get(k) is not None}
    if "Target" in kept:
        kept["Target"] = {k: kept["Target"][k] for k in _TARGET_FIELDS if kept["Target"].get(k) is not None}
    return kept


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{'Lifecycle': {'DeleteAfterDays': 35}} -> {'Lifecycle.DeleteAfterDays': 35}; lists by index."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for n, inner in enumerate(value):
            out.update(_flatten(inner, f"{prefix}[{n}]"))
        return out
    return {prefix: value}


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before, after = _flatten(old), _flatten(new)
    lines = []
    for path in sorted(set(before) | set(after)):
        if path not in after:
            lines.append(f"{path}: {_show(before[path])} -> (unset)")
        elif path not in before:
            lines.append(f"{path}: (unset) -> {_show(after[path])}")
        elif before[path] != after[path]:
            lines.append(f"{path}: {_show(before[path])} -> {_show(after[path])}")
    return lines


@dataclass(frozen=True)
class NamedChanges:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _named(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> NamedChanges:
    changed = {name: tuple(field_changes(old[name], new[name])) for name in sorted(set(old) & set(new))
               if old[name] != new[name]}
    return NamedChanges(added=tuple(sorted(set(new) - set(old))), removed=tuple(sorted(set(old) - set(new))),
                        changed=changed)


@dataclass(frozen=True)
class PlanDiff:
    plan_name: str
    new_plan: bool
    removed_plan: bool
    rules: NamedChanges
    selections: NamedChanges
    plan_fields: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.new_plan or self.removed_plan or self.plan_fields) and self.rules.empty \
            and self.selections.empty

    def lines(self) -> list[str]:
        if self.empty:
            return [f"plan {self.plan_name}: no changes"]
        verb = "create" if self.new_plan else "delete" if self.removed_plan else "update"
        lines = [f"{verb} plan {self.plan_name}"]
        lines += [f"  ~ {line}" for line in self.plan_fields]
        for kind, changes in (("rule", self.rules), ("selection", self.selections)):
            lines += [f"  + {kind} {name}" for name in changes.added]
            lines += [f"  - {kind} {name}" for name in changes.removed]
            for name, fields in changes.changed.items():
                lines.append(f"  ~ {kind} {name}")
                lines += [f"      {line}" for line in fields]
        return lines


def _rules(plan: PlanDocument | None) -> dict[str, dict[str, Any]]:
    if plan is None:
        return {}
    return {r["RuleName"]: r for r in plan.create_backup_plan_input()["BackupPlan"]["Rules"]}


def _selections(plan: PlanDocument | None) -> dict[str, dict[str, Any]]:
    if plan is None:
        return {}
    return {s["BackupSelection"]["SelectionName"]: s["BackupSelection"] for s in plan.create_backup_selection_inputs()}


def _plan_fields(plan: PlanDocument | None) -> dict[str, Any]:
    if plan is None:
        return {}
    document = plan.create_backup_plan_input()
    body = {k: v for k, v in document["BackupPlan"].items() if k not in ("Rules", "BackupPlanName")}
    return {"BackupPlan": body, "BackupPlanTags": document.get("BackupPlanTags")}


def diff_plans(old: PlanDocument | None, new: PlanDocument | None) -> PlanDiff:
    """From `old` (None: not in the catalog) to `new` (None: deleted)."""
    either = new or old
    name = either.name if either is not None else "?"
    fields = () if old is None or new is None else tuple(field_changes(_plan_fields(old), _plan_fields(new)))
    return PlanDiff(plan_name=name, new_plan=old is None and new is not None, removed_plan=new is None,
                    rules=_named(_rules(old), _rules(new)), selections=_named(_selections(old), _selections(new)),
                    plan_fields=fields)
