"""Schedules on the twin: moto stores EventBridge Scheduler schedules but never fires them, so the twin
fires what is due itself, from the same expressions (coffer.domain.schedules) the plans were checked with.

`TwinScheduler.tick(until)` moves the twin's clock (the handlers' clock) to each due time in order, starts
the schedule's target as Scheduler would - StartExecution with the target's Input, Scheduler's context
attributes (<aws.scheduler.scheduled-time>, ...) substituted - and waits for the execution before the next
one. A schedule fires for times after the clock's time when the twin first saw it: a rate() schedule's
first run is one period after that (AWS: one period after it is created).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coffer.adapters.aws_services.schedules import PlanSchedules
from coffer.domain.clock import FixedClock
from coffer.domain.schedules import fires_between, parse_schedule
from coffer_cli.local.session import LocalCoffer
from coffer_twin.twin import ExecutionResult


@dataclass(frozen=True)
class Fire:
    at: datetime
    name: str  # <group>/<schedule name>
    schedule_arn: str
    target_arn: str
    input: str
    schedule: str = ""  # the schedule's own name


def scheduler_input(template: str, at: datetime, schedule_arn: str) -> str:
    """A target's Input with EventBridge Scheduler's context attributes filled in, as Scheduler does."""
    values = {"<aws.scheduler.scheduled-time>": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "<aws.scheduler.execution-id>": str(uuid.uuid4()),
              "<aws.scheduler.schedule-arn>": schedule_arn,
              "<aws.scheduler.attempt-number>": "1"}
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), tz=UTC)


def fire_times(schedule: dict[str, Any], after: datetime, until: datetime) -> Iterator[datetime]:
    """When a schedule (GetSchedule's shape) fires in (after, until]: its expression, time zone, state and
    start/end dates. The anchor of a rate() schedule is its StartDate, else `after`."""
    if schedule.get("State", "ENABLED") != "ENABLED":
        return
    start, end = _aware(schedule.get("StartDate")), _aware(schedule.get("EndDate"))
    parsed = parse_schedule(schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone"),
                            at_most_hourly=False)
    for when in fires_between(parsed, after, until, anchor=start or after):
        if start is not None and when < start:
            continue
        if end is not None and when > end:
            return
        yield when


@dataclass
class FireResult:
    fire: Fire
    execution: ExecutionResult


class TwinScheduler:
    """Fires the twin's EventBridge Scheduler schedules: those of `groups`, or of every group."""

    def __init__(self, coffer: LocalCoffer, groups: list[str] | None = None) -> None:
        if not isinstance(coffer.clock, FixedClock):
            raise TypeError("the twin's scheduler moves the clock: deploy the twin with a FixedClock")
        self.coffer = coffer
        self.clock: FixedClock = coffer.clock
        self.groups = groups
        self._cursors: dict[str, datetime] = {}
        self._lifecycle_day = self.clock.now().date()  # S3 runs bucket lifecycle rules about once a day

    def _s3_lifecycle(self, at: datetime) -> None:
        """The day's S3 lifecycle run (cold blobs to the archive class), once the clock passes midnight."""
        if at.date() > self._lifecycle_day:
            self.coffer.twin.run_s3_lifecycle(at)
            self._lifecycle_day = at.date()

    def _schedules(self) -> Iterator[dict[str, Any]]:
        scheduler = self.coffer.client("scheduler")
        groups = self.groups or [g["Name"] for page in scheduler.get_paginator("list_schedule_groups").paginate()
                                 for g in page["ScheduleGroups"]]
        for group in groups:
            yield from PlanSchedules(scheduler, group).full()

    def due(self, until: datetime) -> list[Fire]:
        """Every firing due up to `until`, in time order (then schedule name), without firing anything."""
        now = self.clock.now()
        fires: list[Fire] = []
        for schedule in self._schedules():
            name = f"{schedule.get('GroupName', 'default')}/{schedule['Name']}"
            after = self._cursors.setdefault(name, now)
            target = schedule["Target"]
            for when in fire_times(schedule, after, until):
                fires.append(Fire(when, name, schedule["Arn"], target["Arn"],
                                  scheduler_input(target.get("Input", "{}"), when, schedule["Arn"]),
                                  schedule["Name"]))
        return sorted(fires, key=lambda f: (f.at, f.name))

    def tick(self, until: datetime, on_fire: Callable[[FireResult], None] | None = None,
             timeout: float = 600.0) -> list[FireResult]:
        """Fire everything due up to `until`, one execution at a time; the clock ends at `until`."""
        results: list[FireResult] = []
        for fire in self.due(until):
            self.clock.set(fire.at)
            self._s3_lifecycle(fire.at)
            if ":states:" not in fire.target_arn:
                raise NotImplementedError(f"schedule {fire.name}: the twin fires Step Functions targets only")
            arn = self.coffer.client("stepfunctions").start_execution(
                stateMachineArn=fire.target_arn, name=f"{fire.schedule[:40]}-{fire.at:%Y%m%dT%H%M}", input=fire.input,
            )["executionArn"]
            result = FireResult(fire, self.coffer.twin.wait(arn, timeout=timeout))
            self._cursors[fire.name] = fire.at
            results.append(result)
            if on_fire is not None:
                on_fire(result)
        self.clock.set(max(until, self.clock.now()))
        self._s3_lifecycle(self.clock.now())
        for name in self._cursors:
            self._cursors[name] = max(self._cursors[name], until)
        return results


# ---- `coffer local tick` ----------------------------------------------------------------------------
def run_local_tick(project_root: Any, plan_files: list[str], start: datetime, until: datetime) -> int:
    """Deploy a twin at `start`, create the sample resources (tagged coffer-sample=true), apply the plans,
    fire every schedule due up to `until` and print each run's outcome, then the jobs and recovery points."""
    from collections import Counter
    from datetime import timedelta
    from pathlib import Path

    from coffer_cli.commands.plan import read_files
    from coffer_cli.local.sample_plans import plan_service, tag_samples
    from coffer_cli.local.samples import create_sample_bucket, create_sample_table
    from coffer_cli.local.session import local_twin

    clock = FixedClock(start)
    with local_twin(project_root, clock=clock) as coffer:
        create_sample_bucket(coffer.client("s3"))
        create_sample_table(coffer.client("dynamodb"))
        tag_samples(coffer)
        service = plan_service(coffer)
        for path in plan_files:
            result = service.apply(read_files([str(Path(path).resolve())]))
            print("\n".join(result.changes.lines()))
        print(f"tick from {start.isoformat()} to {until.isoformat()}")

        def show(result: FireResult) -> None:
            output = result.execution["output"] or {}
            if "expired" in output and "blobs_deleted" in output:  # the lifecycle sweep (SweepSchedule)
                print(f"  {result.fire.at:%Y-%m-%d %H:%M} {result.fire.schedule}: {result.execution['status']} "
                      f"{output.get('state', '')} moved={output['moved']} expired={output['expired']} "
                      f"skipped={output.get('skipped', 0)} blobs-deleted={output['blobs_deleted']} "
                      f"(coffer sweep show {output.get('run_id', '')})")
                return
            counts = output.get("counts", {})
            print(f"  {result.fire.at:%Y-%m-%d %H:%M} {result.fire.schedule}: {result.execution['status']} "
                  f"{output.get('state', '')} selected={counts.get('selected', 0)} "
                  f"started={counts.get('started', 0)} completed={counts.get('completed', 0)} "
                  f"skipped={counts.get('skipped', 0)} failed={counts.get('failed', 0)}")

        fired = TwinScheduler(coffer).tick(until, on_fire=show)
        jobs: Counter[str] = Counter()
        day = start
        while day.date() <= until.date():
            jobs.update(j.state.value for j in coffer.deps.catalog.list_jobs(day))
            day += timedelta(days=1)
        vaults = {r.target_backup_vault_name for s in service.list() for r in s.plan.backup_plan.rules}
        points = sum(1 for v in sorted(vaults) for _ in coffer.deps.catalog.list_recovery_points(v))
        print(f"{len(fired)} run(s); jobs: {dict(jobs) or 'none'}; recovery points: {points}")
        return 0 if all(r.execution["status"] == "SUCCEEDED" for r in fired) else 1
