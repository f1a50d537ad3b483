"""Schedule expressions in EventBridge's grammar: ``cron(...)`` and ``rate(...)``, parsed and evaluated here.

The same code validates a plan's rules, computes when a rule fires next, and lets the twin fire what is due
(``coffer local tick``), so a simulated week and the cloud read an expression the same way.

cron(Minutes Hours Day-of-month Month Day-of-week Year), as EventBridge defines it:

| field        | values                    | wildcards        |
|--------------|---------------------------|------------------|
| Minutes      | 0-59                      | , - * /          |
| Hours        | 0-23                      | , - * /          |
| Day-of-month | 1-31                      | , - * ? / L W    |
| Month        | 1-12 or JAN-DEC           | , - * /          |
| Day-of-week  | 1-7 or SUN-SAT (1 = SUN)  | , - * ? L #      |
| Year         | 1970-2199                 | , - * /          |

Exactly one of Day-of-month and Day-of-week is ``?``. ``L`` is the last day (of the month, or ``5L`` the last
Thursday of it), ``15W`` the weekday nearest the 15th (``LW`` the last weekday), ``6#3`` the third Friday.

rate(value unit): unit ``minute(s)``, ``hour(s)`` or ``day(s)``, singular exactly when value is 1. A rate
schedule fires at its anchor (the schedule's start) and every period after it.

AWS Backup runs a rule at most once an hour: :func:`parse_schedule` with ``at_most_hourly=True`` refuses a
cron whose Minutes field names more than one minute, and a rate shorter than 60 minutes.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: AWS Backup's schedule when a rule names none: daily at 05:00 UTC.
DEFAULT_SCHEDULE = "cron(0 5 ? * * *)"

_MONTHS = {name: n for n, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
_DAYS = {name: n for n, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
_FIELDS = ("Minutes", "Hours", "Day-of-month", "Month", "Day-of-week", "Year")
_BOUNDS = {"Minutes": (0, 59), "Hours": (0, 23), "Day-of-month": (1, 31), "Month": (1, 12),
           "Day-of-week": (1, 7), "Year": (1970, 2199)}
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
#: how far ahead a cron is searched for its next fire (a valid cron with a Year field may never fire again)
_HORIZON_YEARS = 240


class ScheduleError(ValueError):
    """The expression breaks a rule of the grammar; the message says which, in EventBridge's words."""


def _timezone(name: str | None) -> ZoneInfo:
    if not name or name == "UTC":
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"'{name}' is not an IANA time zone (e.g. UTC, Europe/Paris)") from None


def _number(token: str, field: str) -> int:
    names = _MONTHS if field == "Month" else _DAYS if field == "Day-of-week" else {}
    if token.upper() in names:
        return names[token.upper()]
    if not token.isdigit():
        raise ScheduleError(f"{field}: '{token}' is not a number{' or a name' if names else ''}")
    value = int(token)
    low, high = _BOUNDS[field]
    if not low <= value <= high:
        raise ScheduleError(f"{field}: {value} is outside {low}-{high}")
    return value


def _values(text: str, field: str) -> frozenset[int]:
    """The set a plain field denotes: lists of values, ranges, '*' and increments ('a/n', 'a-b/n', '*/n')."""
    low, high = _BOUNDS[field]
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ScheduleError(f"{field}: empty list element in '{text}'")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(f"{field}: increment '{step_text}' is not a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, field), _number(last, field)
            if start > end:
                raise ScheduleError(f"{field}: range '{base}' runs backwards")
        else:
            start = _number(base, field)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class _DaySpec:
    """Day-of-month or Day-of-week, with its special forms."""

    any: bool = False          # '?' or '*'
    values: frozenset[int] = frozenset()
    last: bool = False         # DOM 'L' / DOW 'L' (Saturday)
    last_weekday: bool = False  # DOM 'LW'
    nearest_weekday: int = 0   # DOM 'nW'
    last_of: int = 0           # DOW 'nL': last <n>-day of the month
    nth: tuple[int, int] = (0, 0)  # DOW 'n#k': k-th <n>-day of the month


def _day_of_month(text: str) -> _DaySpec:
    field = "Day-of-month"
    if text in ("?", "*"):
        return _DaySpec(any=True)
    if text == "L":
        return _DaySpec(last=True)
    if text == "LW":
        return _DaySpec(last_weekday=True)
    if text.endswith("W"):
        return _DaySpec(nearest_weekday=_number(text[:-1], field))
    if "L" in text or "W" in text or "#" in text:
        raise ScheduleError(f"{field}: '{text}' is not a valid use of L or W (use L, LW or <day>W alone)")
    return _DaySpec(values=_values(text, field))


def _day_of_week(text: str) -> _DaySpec:
    field = "Day-of-week"
    if text in ("?", "*"):
        return _DaySpec(any=True)
    if text == "L":
        return _DaySpec(values=frozenset({7}))
    if "#" in text:
        day, _, nth = text.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise ScheduleError(f"{field}: '{text}': the number after # must be 1-5")
        return _DaySpec(nth=(_number(day, field), int(nth)))
    if text.endswith("L"):
        return _DaySpec(last_of=_number(text[:-1], field))
    if "L" in text.upper() or "W" in text.upper().replace("WED", ""):
        raise ScheduleError(f"{field}: '{text}' is not a valid use of L (use L or <day>L alone)")
    return _DaySpec(values=_values(text, field))


def _weekday(day: date) -> int:
    """EventBridge's day-of-week number: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, target: int) -> int:
    last = calendar.monthrange(year, month)[1]
    target = min(target, last)
    weekday = date(year, month, target).weekday()  # Monday = 0
    if weekday == 5:  # Saturday: the Friday before, unless that leaves the month
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday: the Monday after, unless that leaves the month
        return target + 1 if target < last else target - 2
    return target


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: _DaySpec
    months: frozenset[int]
    day_of_week: _DaySpec
    years: frozenset[int]
    timezone: str = "UTC"

    @property
    def at_most_hourly(self) -> bool:
        return len(self.minutes) == 1

    def _day_matches(self, day: date) -> bool:
        dom, dow = self.day_of_month, self.day_of_week
        last = calendar.monthrange(day.year, day.month)[1]
        if not dom.any:
            if dom.last:
                return day.day == last
            if dom.last_weekday:
                return day.day == _nearest_weekday(day.year, day.month, last) and day.weekday() < 5
            if dom.nearest_weekday:
                return day.day == _nearest_weekday(day.year, day.month, dom.nearest_weekday)
            return day.day in dom.values
        if not dow.any:
            weekday = _weekday(day)
            if dow.last_of:
                return weekday == dow.last_of and day.day + 7 > last
            if dow.nth != (0, 0):
                wanted, nth = dow.nth
                return weekday == wanted and (day.day - 1) // 7 + 1 == nth
            return weekday in dow.values
        return True

    def next_fire(self, after: datetime) -> datetime | None:
        """The first time strictly after `after` (aware) at which the schedule fires, in UTC; None if never."""
        zone = _timezone(self.timezone)
        local = after.astimezone(zone)
        day = local.date()
        end = date(min(local.year + _HORIZON_YEARS, 2199), 12, 31)
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        while day <= end:
            if day.year not in self.years:
                later = [y for y in self.years if y > day.year]
                if not later:
                    return None
                day = date(min(later), 1, 1)
                continue
            if day.month not in self.months:
                day = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
                continue
            if self._day_matches(day):
                for hour in hours:
                    for minute in minutes:
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
                        if candidate > after:
                            return candidate
            day += timedelta(days=1)
        return None


@dataclass(frozen=True)
class RateSchedule:
    expression: str
    period: timedelta

    @property
    def at_most_hourly(self) -> bool:
        return self.period >= timedelta(hours=1)

    def next_fire(self, after: datetime, anchor: datetime) -> datetime:
        """Fires at `anchor` and every period after it: the first such time strictly after `after`."""
        if after < anchor:
            return anchor.astimezone(UTC)
        periods = (after - anchor) // self.period + 1
        return (anchor + periods * self.period).astimezone(UTC)


Schedule = CronSchedule | RateSchedule


def parse_cron(expression: str, timezone: str | None = None) -> CronSchedule:
    inner = expression.strip()
    if not (inner.startswith("cron(") and inner.endswith(")")):
        raise ScheduleError(f"'{expression}' is not cron(...)")
    fields = inner[5:-1].split()
    if len(fields) != 6:
        raise ScheduleError(f"'{expression}' has {len(fields)} fields; cron needs six: {' '.join(_FIELDS)}")
    minute, hour, dom, month, dow, year = fields
    if "?" in (minute, hour, month, year):
        raise ScheduleError(f"'{expression}': '?' is allowed only in Day-of-month or Day-of-week")
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(f"'{expression}': exactly one of Day-of-month and Day-of-week must be '?' "
                            f"(got '{dom}' and '{dow}')")
    _timezone(timezone)
    try:
        return CronSchedule(
            expression=inner, minutes=_values(minute, "Minutes"), hours=_values(hour, "Hours"),
            day_of_month=_day_of_month(dom), months=_values(month, "Month"), day_of_week=_day_of_week(dow),
            years=_values(year, "Year"), timezone=timezone or "UTC")
    except ScheduleError as error:
        raise ScheduleError(f"'{expression}': {error}") from None


def parse_rate(expression: str) -> RateSchedule:
    match = _RATE.match(expression.strip())
    if not match:
        raise ScheduleError(f"'{expression}' is not rate(<value> <unit>) with unit minute(s), hour(s) or day(s)")
    value, unit = int(match.group(1)), match.group(2)
    if value < 1:
        raise ScheduleError(f"'{expression}': the value must be a positive whole number")
    if (value == 1) != (not unit.endswith("s")):
        right = unit.rstrip("s") if value == 1 else unit if unit.endswith("s") else unit + "s"
        raise ScheduleError(f"'{expression}': write '{value} {right}' (singular unit only for 1)")
    minutes = value * _UNIT_MINUTES[unit.rstrip("s")]
    return RateSchedule(expression=expression.strip(), period=timedelta(minutes=minutes))


def parse_schedule(expression: str, timezone: str | None = None, *, at_most_hourly: bool = True) -> Schedule:
    """A cron or rate schedule, or ScheduleError saying what is wrong with the expression."""
    text = expression.strip()
    schedule: Schedule
    if text.startswith("cron("):
        schedule = parse_cron(text, timezone)
    elif text.startswith("rate("):
        schedule = parse_rate(text)
    elif text.startswith("at("):
        raise ScheduleError(f"'{expression}': one-time at(...) schedules are not backup plan schedules; "
                            "use cron(...) or rate(...)")
    else:
        raise ScheduleError(f"'{expression}' is neither cron(...) nor rate(...)")
    if at_most_hourly and not schedule.at_most_hourly:
        what = "names more than one minute" if isinstance(schedule, CronSchedule) else "is shorter than 60 minutes"
        raise ScheduleError(f"'{expression}' {what}: a backup rule runs at most once an hour")
    return schedule


def next_fire(schedule: Schedule, after: datetime, anchor: datetime | None = None) -> datetime | None:
    if isinstance(schedule, RateSchedule):
        if anchor is None:
            raise ValueError("a rate schedule needs its anchor (the schedule's start) to compute fire times")
        return schedule.next_fire(after, anchor)
    return schedule.next_fire(after)


def fires_between(schedule: Schedule, after: datetime, until: datetime,
                  anchor: datetime | None = None) -> Iterator[datetime]:
    """Every fire time t with after < t <= until, in order."""
    when = next_fire(schedule, after, anchor)
    while when is not None and when <= until:
        yield when
        when = next_fire(schedule, when, anchor)
