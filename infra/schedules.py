"""EventBridge schedule expressions, `rate(...)` and the six-field AWS `cron(...)`, and when they fire (UTC).

AWS cron fields: Minutes Hours Day-of-month Month Day-of-week Year. Exactly one of Day-of-month and
Day-of-week is `?`. Supported: `*`, `?`, values, ranges `a-b`, lists `a,b`, steps `a/n`, `*/n`, `a-b/n`,
month names JAN-DEC, day names SUN-SAT (1 = Sunday, 7 = Saturday), `L` and `nW` in Day-of-month,
`L`, `nL` and `n#k` in Day-of-week. Times are UTC, as EventBridge rules are.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


class ScheduleError(ValueError):
    """A schedule expression EventBridge would refuse; the message says which part and why."""


# ------------------------------------------------------------------------------------------ rate(...)

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Rate:
    expression: str
    interval: timedelta

    def next_fire(self, after: datetime) -> datetime:
        return _utc(after) + self.interval


def parse_rate(expression: str) -> Rate:
    match = _RATE.match(expression.strip())
    if not match:
        raise ScheduleError(f"{expression!r}: expected rate(N minute|minutes|hour|hours|day|days)")
    value, unit = int(match.group(1)), match.group(2)
    if value < 1:
        raise ScheduleError(f"{expression!r}: the rate value must be a positive whole number")
    singular = unit.rstrip("s")
    if value == 1 and unit != singular:
        raise ScheduleError(f"{expression!r}: a value of 1 takes the singular unit, rate(1 {singular})")
    if value > 1 and unit == singular:
        raise ScheduleError(f"{expression!r}: a value above 1 takes the plural unit, rate({value} {singular}s)")
    return Rate(expression.strip(), timedelta(seconds=value * _UNIT_SECONDS[singular]))


# ------------------------------------------------------------------------------------------ cron(...)

_MONTHS = {name: i for i, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
_WEEKDAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 1, 7, _WEEKDAYS),
    _Field("year", 1970, 2199),
)


def _value(field: _Field, text: str, expression: str) -> int:
    token = text.upper()
    if field.names and token in field.names:
        return field.names[token]
    if not token.isdigit():
        raise ScheduleError(f"{expression!r}: {field.name} value {text!r} is not a number"
                            + (f" or one of {', '.join(field.names)}" if field.names else ""))
    value = int(token)
    if not field.low <= value <= field.high:
        raise ScheduleError(f"{expression!r}: {field.name} value {value} is outside {field.low}-{field.high}")
    return value


def _values(field: _Field, item: str, expression: str) -> set[int]:
    """One list item of a plain field: `*`, `a`, `a-b`, each optionally `/step`."""
    base, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) < 1:
            raise ScheduleError(f"{expression!r}: {field.name} step {step_text!r} must be a positive number")
        step = int(step_text)
    if base == "*":
        start, end = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        start, end = _value(field, first, expression), _value(field, last, expression)
        if start > end:
            raise ScheduleError(f"{expression!r}: {field.name} range {base!r} runs backwards")
    else:
        start = _value(field, base, expression)
        end = field.high if step_text else start
    return set(range(start, end + 1, step))


@dataclass(frozen=True)
class _DayOfMonth:
    days: frozenset[int]
    last: bool = False  # L
    nearest_weekday: frozenset[int] = frozenset()  # nW

    def matches(self, day: date) -> bool:
        last_day = calendar.monthrange(day.year, day.month)[1]
        if day.day in self.days or (self.last and day.day == last_day):
            return True
        return any(_nearest_weekday(day.year, day.month, n) == day.day for n in self.nearest_weekday)


@dataclass(frozen=True)
class _DayOfWeek:
    weekdays: frozenset[int]  # 1 = Sunday … 7 = Saturday
    last_of_month: frozenset[int] = frozenset()  # nL: the last such weekday of the month
    nth: frozenset[tuple[int, int]] = frozenset()  # n#k: the k-th such weekday of the month

    def matches(self, day: date) -> bool:
        weekday = aws_weekday(day)
        if weekday in self.weekdays:
            return True
        last_day = calendar.monthrange(day.year, day.month)[1]
        if weekday in self.last_of_month and day.day + 7 > last_day:
            return True
        return (weekday, (day.day - 1) // 7 + 1) in self.nth


def aws_weekday(day: date) -> int:
    """EventBridge's day-of-week number: 1 = Sunday … 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, n: int) -> int | None:
    """Day of the month of the weekday (Mon-Fri) nearest to day n, never leaving the month."""
    last_day = calendar.monthrange(year, month)[1]
    if n > last_day:
        return None
    weekday = date(year, month, n).weekday()  # Monday = 0
    if weekday == 5:  # Saturday: Friday before, or Monday after when n is the 1st
        return n - 1 if n > 1 else n + 2
    if weekday == 6:  # Sunday: Monday after, or Friday before when n is the last day
        return n + 1 if n < last_day else n - 2
    return n


def _day_of_month(text: str, expression: str) -> _DayOfMonth | None:
    if text == "?":
        return None
    field = _FIELDS[2]
    days: set[int] = set()
    last = False
    nearest: set[int] = set()
    for item in text.split(","):
        upper = item.upper()
        if upper == "L":
            last = True
        elif upper.endswith("W") and upper[:-1].isdigit():
            nearest.add(_value(field, upper[:-1], expression))
        else:
            days |= _values(field, item, expression)
    return _DayOfMonth(frozenset(days), last, frozenset(nearest))


def _day_of_week(text: str, expression: str) -> _DayOfWeek | None:
    if text == "?":
        return None
    field = _FIELDS[4]
    weekdays: set[int] = set()
    last_of: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in text.split(","):
        upper = item.upper()
        if upper == "L":
            weekdays.add(7)
        elif "#" in upper:
            weekday_text, _, k_text = upper.partition("#")
            if not k_text.isdigit() or not 1 <= int(k_text) <= 5:
                raise ScheduleError(f"{expression!r}: day-of-week {item!r}: the number after # must be 1-5")
            nth.add((_value(field, weekday_text, expression), int(k_text)))
        elif upper.endswith("L") and len(upper) > 1:
            last_of.add(_value(field, upper[:-1], expression))
        else:
            weekdays |= _values(field, item, expression)
    return _DayOfWeek(frozenset(weekdays), frozenset(last_of), frozenset(nth))


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: _DayOfMonth | None
    months: frozenset[int]
    day_of_week: _DayOfWeek | None
    years: frozenset[int]

    def matches_day(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.day_of_month is not None:
            return self.day_of_month.matches(day)
        assert self.day_of_week is not None
        return self.day_of_week.matches(day)

    def next_fire(self, after: datetime) -> datetime | None:
        after = _utc(after)
        day = after.date()
        last_year = max(self.years)
        while day.year <= last_year:
            if day.year not in self.years:
                day = date(day.year + 1, 1, 1)
                continue
            if day.month not in self.months:
                day = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
                continue
            if self.matches_day(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                        if candidate > after:
                            return candidate
            day += timedelta(days=1)
        return None


def parse_cron(expression: str) -> Cron:
    match = re.match(r"^cron\((.*)\)$", expression.strip())
    if not match:
        raise ScheduleError(f"{expression!r}: expected cron(minutes hours day-of-month month day-of-week year)")
    parts = match.group(1).split()
    if len(parts) != 6:
        raise ScheduleError(
            f"{expression!r}: an EventBridge cron has 6 fields (minutes hours day-of-month month day-of-week "
            f"year), got {len(parts)}"
        )
    minutes_text, hours_text, dom_text, month_text, dow_text, year_text = parts
    if (dom_text == "?") == (dow_text == "?"):
        raise ScheduleError(
            f"{expression!r}: exactly one of day-of-month ({dom_text!r}) and day-of-week ({dow_text!r}) "
            "must be '?'"
        )
    for field, text in ((_FIELDS[0], minutes_text), (_FIELDS[1], hours_text), (_FIELDS[3], month_text),
                        (_FIELDS[5], year_text)):
        if text == "?":
            raise ScheduleError(f"{expression!r}: '?' is only allowed in day-of-month or day-of-week, not {field.name}")

    def plain(field: _Field, text: str) -> set[int]:
        values: set[int] = set()
        for item in text.split(","):
            values |= _values(field, item, expression)
        return values

    return Cron(
        expression=expression.strip(),
        minutes=tuple(sorted(plain(_FIELDS[0], minutes_text))),
        hours=tuple(sorted(plain(_FIELDS[1], hours_text))),
        day_of_month=_day_of_month(dom_text, expression),
        months=frozenset(plain(_FIELDS[3], month_text)),
        day_of_week=_day_of_week(dow_text, expression),
        years=frozenset(plain(_FIELDS[5], year_text)),
    )


def parse_schedule(expression: str) -> Rate | Cron:
    """Parse `rate(...)` or `cron(...)`; ScheduleError names what is wrong."""
    text = expression.strip()
    if text.startswith("rate("):
        return parse_rate(text)
    if text.startswith("cron("):
        return parse_cron(text)
    raise ScheduleError(f"{expression!r}: a schedule is rate(...) or cron(...)")


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("schedule times must be timezone-aware (UTC)")
    return moment.astimezone(UTC)
