"""What `coffer local tick` fires: a schedule's times from its expression, state and dates, and its input
with EventBridge Scheduler's context attributes filled in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from coffer.domain.plans import schedule_input
from coffer_cli.local.ticks import fire_times, scheduler_input

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def schedule(**fields: object) -> dict[str, object]:
    return {"ScheduleExpression": "cron(0 * ? * * *)", "State": "ENABLED", **fields}


def test_a_schedule_fires_by_its_expression_in_its_time_zone() -> None:
    assert len(list(fire_times(schedule(), T0, T0 + timedelta(days=1)))) == 24
    daily = schedule(ScheduleExpression="cron(0 9 ? * * *)", ScheduleExpressionTimezone="America/New_York")
    assert list(fire_times(daily, T0, T0 + timedelta(days=2))) == [T0 + timedelta(hours=14),
                                                                    T0 + timedelta(days=1, hours=14)]


def test_disabled_schedules_and_dates_outside_start_and_end_do_not_fire() -> None:
    assert list(fire_times(schedule(State="DISABLED"), T0, T0 + timedelta(days=1))) == []
    bounded = schedule(StartDate=T0 + timedelta(hours=5), EndDate=T0 + timedelta(hours=7, minutes=30))
    assert list(fire_times(bounded, T0, T0 + timedelta(days=1))) == [T0 + timedelta(hours=h) for h in (5, 6, 7)]


def test_a_rate_schedule_fires_one_period_after_it_is_first_seen_or_from_its_start_date() -> None:
    rate = schedule(ScheduleExpression="rate(6 hours)")
    assert list(fire_times(rate, T0, T0 + timedelta(days=1))) == [T0 + timedelta(hours=h) for h in (6, 12, 18, 24)]
    started = schedule(ScheduleExpression="rate(12 hours)", StartDate=T0 + timedelta(hours=1))
    assert list(fire_times(started, T0, T0 + timedelta(days=1))) == [T0 + timedelta(hours=1),
                                                                      T0 + timedelta(hours=13)]


def test_the_input_carries_the_scheduled_time_as_scheduler_sends_it() -> None:
    sent = json.loads(scheduler_input(schedule_input("p", "r"), T0 + timedelta(hours=5), "arn:s"))
    assert sent == {"plan_name": "p", "rule_name": "r", "scheduled_time": "2026-12-01T05:00:00Z"}
