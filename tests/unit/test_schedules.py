"""EventBridge's cron() and rate() grammar, AWS Backup's at-most-hourly rule, and when a schedule fires."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from coffer.domain.schedules import (
    DEFAULT_SCHEDULE,
    CronSchedule,
    RateSchedule,
    ScheduleError,
    fires_between,
    next_fire,
    parse_schedule,
)

T0 = datetime(2026, 11, 25, 10, 17, tzinfo=UTC)  # a Wednesday


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else datetime.fromisoformat(text)


def fires(expression: str, after: datetime, count: int, timezone: str | None = None) -> list[datetime]:
    schedule = parse_schedule(expression, timezone, at_most_hourly=False)
    found: list[datetime] = []
    when: datetime | None = after
    while len(found) < count:
        assert when is not None
        when = next_fire(schedule, when, anchor=after)
        assert when is not None
        found.append(when)
    return found


# ---- grammar -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("expression", "problem"), [
    ("cron(0 5 * * ?)", "has 5 fields; cron needs six"),
    ("cron(0 5 * * ? * *)", "has 7 fields"),
    ("cron(0 5 * * * *)", "exactly one of Day-of-month and Day-of-week must be '?'"),
    ("cron(0 5 ? * ? *)", "exactly one of Day-of-month and Day-of-week must be '?'"),
    ("cron(0 5 1 * MON *)", "exactly one of Day-of-month and Day-of-week must be '?'"),
    ("cron(? 5 ? * * *)", "'?' is allowed only in Day-of-month or Day-of-week"),
    ("cron(60 5 ? * * *)", "Minutes: 60 is outside 0-59"),
    ("cron(0 24 ? * * *)", "Hours: 24 is outside 0-23"),
    ("cron(0 5 32 * ? *)", "Day-of-month: 32 is outside 1-31"),
    ("cron(0 5 ? 13 * *)", "Month: 13 is outside 1-12"),
    ("cron(0 5 ? * 8 *)", "Day-of-week: 8 is outside 1-7"),
    ("cron(0 5 ? * * 1969)", "Year: 1969 is outside 1970-2199"),
    ("cron(0 5 ? FOO * *)", "Month: 'FOO' is not a number or a name"),
    ("cron(0 20-10 ? * * *)", "Hours: range '20-10' runs backwards"),
    ("cron(0 5/0 ? * * *)", "increment '0' is not a positive number"),
    ("cron(0 5 ? * 2#6 *)", "the number after # must be 1-5"),
    ("cron(0 5 L,3 * ? *)", "is not a valid use of L or W"),
    ("cron(0 5 ? * L,3 *)", "is not a valid use of L"),
    ("rate(5 minute)", "write '5 minutes'"),
    ("rate(1 hours)", "write '1 hour'"),
    ("rate(2 weeks)", "is not rate(<value> <unit>)"),
    ("rate(0 hours)", "must be a positive whole number"),
    ("at(2026-12-01T00:00:00)", "one-time at(...) schedules are not backup plan schedules"),
    ("every day at 5", "is neither cron(...) nor rate(...)"),
])
def test_a_malformed_expression_is_refused_saying_why(expression: str, problem: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(problem)):
        parse_schedule(expression, at_most_hourly=False)


@pytest.mark.parametrize("expression", [
    "cron(0/15 * ? * * *)", "cron(0,30 * ? * * *)", "cron(* 5 ? * * *)", "cron(10-20 5 ? * * *)",
    "rate(30 minutes)", "rate(59 minutes)",
])
def test_more_often_than_hourly_is_refused_for_a_backup_rule(expression: str) -> None:
    with pytest.raises(ScheduleError, match="a backup rule runs at most once an hour"):
        parse_schedule(expression)
    parse_schedule(expression, at_most_hourly=False)  # fine for the grammar itself


@pytest.mark.parametrize("expression", [
    "cron(0 * ? * * *)", "cron(59 */2 ? * MON-FRI *)", "cron(0 5 L * ? *)", "cron(0 5 LW * ? *)",
    "cron(0 5 15W * ? *)", "cron(0 5 ? * 6#3 *)", "cron(0 5 ? * 5L *)", "cron(0 5 ? JAN,JUL * 2027-2030)",
    "rate(60 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)", "rate(7 days)", DEFAULT_SCHEDULE,
])
def test_valid_backup_schedules_parse(expression: str) -> None:
    parsed = parse_schedule(expression)
    assert parsed.at_most_hourly
    assert isinstance(parsed, CronSchedule if expression.startswith("cron") else RateSchedule)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ScheduleError, match="'Mars/Olympus' is not an IANA time zone"):
        parse_schedule("cron(0 5 ? * * *)", "Mars/Olympus")


# ---- when it fires ---------------------------------------------------------------------------------
def test_daily_at_five_fires_every_day_at_five_utc() -> None:
    assert fires("cron(0 5 ? * * *)", T0, 3) == [at("2026-11-26T05:00"), at("2026-11-27T05:00"),
                                                   at("2026-11-28T05:00")]


def test_a_fire_time_is_strictly_after_the_given_time() -> None:
    schedule = parse_schedule("cron(0 5 ? * * *)")
    assert next_fire(schedule, at("2026-11-26T05:00")) == at("2026-11-27T05:00")
    assert next_fire(schedule, at("2026-11-26T04:59")) == at("2026-11-26T05:00")


def test_a_week_has_168_hourly_and_7_daily_fires() -> None:
    start, end = at("2026-11-30T00:00") - timedelta(seconds=1), at("2026-12-06T23:59")
    assert len(list(fires_between(parse_schedule("cron(0 * ? * * *)"), start, end))) == 168
    assert len(list(fires_between(parse_schedule("cron(0 5 ? * * *)"), start, end))) == 7


def test_day_of_week_names_ranges_and_numbers() -> None:
    weekdays = fires("cron(30 22 ? * MON-FRI *)", T0, 5)
    assert [d.strftime("%a %d %H:%M") for d in weekdays] == [
        "Wed 25 22:30", "Thu 26 22:30", "Fri 27 22:30", "Mon 30 22:30", "Tue 01 22:30"]
    assert fires("cron(0 8 ? * 1 *)", T0, 1) == [at("2026-11-29T08:00")]  # 1 = Sunday


def test_special_days_l_w_and_hash() -> None:
    assert fires("cron(0 5 L * ? *)", T0, 2) == [at("2026-11-30T05:00"), at("2026-12-31T05:00")]
    assert fires("cron(0 5 LW * ? *)", at("2027-01-01T00:00"), 1) == [at("2027-01-29T05:00")]  # 31 Jan is a Sunday
    assert fires("cron(0 5 1W * ? *)", at("2027-05-01T00:00"), 1) == [at("2027-05-03T05:00")]  # 1 May: Saturday
    assert fires("cron(0 5 ? * 6#3 *)", T0, 2) == [at("2026-12-18T05:00"), at("2027-01-15T05:00")]
    assert fires("cron(0 5 ? * 5L *)", T0, 1) == [at("2026-11-26T05:00")]  # last Thursday of November
    assert fires("cron(0 5 ? * L *)", T0, 1) == [at("2026-11-28T05:00")]  # L alone: Saturday


def test_increments_months_and_years() -> None:
    assert fires("cron(0 0/6 ? * * *)", T0, 3) == [at("2026-11-25T12:00"), at("2026-11-25T18:00"),
                                                     at("2026-11-26T00:00")]
    assert fires("cron(0 3 1 JAN,JUL ? *)", T0, 2) == [at("2027-01-01T03:00"), at("2027-07-01T03:00")]
    assert fires("cron(0 0 1 1 ? 2030)", T0, 1) == [at("2030-01-01T00:00")]
    assert next_fire(parse_schedule("cron(0 0 1 1 ? 2020)"), T0) is None


def test_a_time_zone_moves_fires_with_daylight_saving() -> None:
    paris = fires("cron(0 2 ? * * *)", at("2027-03-26T12:00"), 4, "Europe/Paris")
    # 02:00 Paris: 01:00 UTC in winter; on 28 March 02:00 does not exist (fires at 03:00 CEST); then 00:00 UTC.
    assert paris == [at("2027-03-27T01:00"), at("2027-03-28T01:00"), at("2027-03-29T00:00"), at("2027-03-30T00:00")]


def test_rate_fires_from_its_anchor_every_period() -> None:
    schedule = parse_schedule("rate(6 hours)")
    anchor = at("2026-11-25T10:17")
    assert next_fire(schedule, at("2026-11-25T09:00"), anchor) == anchor
    assert list(fires_between(schedule, anchor, anchor + timedelta(days=1), anchor)) == [
        anchor + timedelta(hours=h) for h in (6, 12, 18, 24)]
    with pytest.raises(ValueError, match="needs its anchor"):
        next_fire(schedule, anchor)
