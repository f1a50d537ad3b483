"""Schedules that would protect nothing: refused when a plan is read and when it is applied."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from coffer.domain.schedules import RateSchedule, Schedule, ScheduleError


class HasSchedule(Protocol):
    """A plan rule, as far as its schedule goes (domain/plans.py BackupRule)."""

    def schedule(self) -> Schedule: ...


def schedule_problems(rules: Sequence[HasSchedule], now: datetime | None) -> list[str]:
    """A cron that never fires (cron(0 0 30 2 ? *): February has no 30th), or, given `now`, never fires again
    (its Year field has passed), would make a rule that backs up nothing while looking like protection."""
    problems = []
    for n, rule in enumerate(rules):
        try:
            schedule = rule.schedule()
        except ScheduleError:
            continue  # reported by the plan's own rules
        if isinstance(schedule, RateSchedule):
            continue
        path = f"BackupPlan.Rules[{n}].ScheduleExpression"
        if schedule.next_fire(datetime(1970, 1, 1, tzinfo=UTC)) is None:
            problems.append(f"{path}: '{schedule.expression}' never fires (no date matches all its fields: "
                            "check Day-of-month against Month, and Year)")
        elif now is not None and schedule.next_fire(now) is None:
            problems.append(f"{path}: '{schedule.expression}' never fires again after {now:%Y-%m-%d} "
                            "(its Year field has passed: widen it or use *)")
    return problems
