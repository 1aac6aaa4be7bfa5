"""EventBridge rate(...) / cron(...) parsing and next-fire times (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.schedules import Cron, Rate, ScheduleError, aws_weekday, parse_schedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------------ rate


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(12 hours)", 43200),
     ("rate(1 day)", 86400), ("rate(7 days)", 604800)],
)
def test_rate_intervals(expression: str, seconds: int) -> None:
    schedule = parse_schedule(expression)
    assert isinstance(schedule, Rate)
    assert schedule.interval == timedelta(seconds=seconds)
    assert schedule.next_fire(at("2024-01-01T00:00:30")) == at("2024-01-01T00:00:30") + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("expression", "says"),
    [("rate(1 minutes)", "singular"), ("rate(2 hour)", "plural"), ("rate(0 minutes)", "positive"),
     ("rate(5 weeks)", "expected rate"), ("rate(-1 minutes)", "expected rate"), ("rate(five minutes)", "expected")],
)
def test_rate_errors_name_the_rule(expression: str, says: str) -> None:
    with pytest.raises(ScheduleError, match=says):
        parse_schedule(expression)


# ------------------------------------------------------------------------------------------ cron


def test_template_default_nightly_backfill() -> None:
    cron = parse_schedule("cron(0 3 * * ? *)")
    assert isinstance(cron, Cron)
    assert cron.next_fire(at("2024-01-01T02:59:59")) == at("2024-01-01T03:00:00")
    # strictly after: an exact fire time moves on to the next day
    assert cron.next_fire(at("2024-01-01T03:00:00")) == at("2024-01-02T03:00:00")
    assert cron.next_fire(at("2024-12-31T03:00:00")) == at("2025-01-01T03:00:00")


def test_steps_in_minutes() -> None:
    cron = parse_schedule("cron(0/15 * * * ? *)")
    assert cron.next_fire(at("2024-05-05T10:07:00")) == at("2024-05-05T10:15:00")
    assert cron.next_fire(at("2024-05-05T10:45:00")) == at("2024-05-05T11:00:00")
    assert parse_schedule("cron(*/20 * * * ? *)").next_fire(at("2024-05-05T10:41:00")) == at("2024-05-05T11:00:00")
    assert parse_schedule("cron(10-30/10 * * * ? *)").next_fire(at("2024-05-05T10:31:00")) == at(
        "2024-05-05T11:10:00")


def test_ranges_lists_and_weekday_names() -> None:
    cron = parse_schedule("cron(30 8-10,14 ? * MON-FRI *)")
    # 2024-06-01 is a Saturday: next is Monday 08:30
    assert cron.next_fire(at("2024-06-01T12:00:00")) == at("2024-06-03T08:30:00")
    assert cron.next_fire(at("2024-06-03T10:30:00")) == at("2024-06-03T14:30:00")
    assert cron.next_fire(at("2024-06-07T14:30:00")) == at("2024-06-10T08:30:00")  # Friday -> Monday


def test_day_of_week_numbers_start_on_sunday() -> None:
    assert aws_weekday(at("2024-06-02T00:00:00").date()) == 1  # Sunday
    assert aws_weekday(at("2024-06-08T00:00:00").date()) == 7  # Saturday
    assert parse_schedule("cron(0 12 ? * 1 *)").next_fire(at("2024-06-03T00:00:00")) == at("2024-06-09T12:00:00")
    assert parse_schedule("cron(0 12 ? * sat *)").next_fire(at("2024-06-03T00:00:00")) == at("2024-06-08T12:00:00")


def test_months_by_name_and_number() -> None:
    cron = parse_schedule("cron(0 0 1 JAN,JUL ? *)")
    assert cron.next_fire(at("2024-02-01T00:00:00")) == at("2024-07-01T00:00:00")
    assert cron.next_fire(at("2024-07-01T00:00:00")) == at("2025-01-01T00:00:00")
    assert parse_schedule("cron(0 0 1 9-11 ? *)").next_fire(at("2024-01-15T00:00:00")) == at("2024-09-01T00:00:00")


def test_last_day_of_month_and_nearest_weekday() -> None:
    assert parse_schedule("cron(0 0 L * ? *)").next_fire(at("2024-02-10T00:00:00")) == at("2024-02-29T00:00:00")
    assert parse_schedule("cron(0 0 L * ? *)").next_fire(at("2023-02-10T00:00:00")) == at("2023-02-28T00:00:00")
    # 2024-06-01 is a Saturday and cannot move back out of June: Monday the 3rd
    assert parse_schedule("cron(0 9 1W * ? *)").next_fire(at("2024-05-31T12:00:00")) == at("2024-06-03T09:00:00")
    # 2024-06-15 is a Saturday: Friday the 14th
    assert parse_schedule("cron(0 9 15W * ? *)").next_fire(at("2024-06-10T00:00:00")) == at("2024-06-14T09:00:00")


def test_nth_and_last_weekday_of_month() -> None:
    # third Friday of November 2024 is the 15th
    assert parse_schedule("cron(0 10 ? * 6#3 *)").next_fire(at("2024-11-01T00:00:00")) == at("2024-11-15T10:00:00")
    # last Monday of May 2024 is the 27th
    assert parse_schedule("cron(0 10 ? * 2L *)").next_fire(at("2024-05-01T00:00:00")) == at("2024-05-27T10:00:00")


def test_years() -> None:
    assert parse_schedule("cron(0 0 1 1 ? 2030)").next_fire(at("2024-03-01T00:00:00")) == at("2030-01-01T00:00:00")
    assert parse_schedule("cron(0 0 1 1 ? 2020)").next_fire(at("2024-03-01T00:00:00")) is None
    assert parse_schedule("cron(0 0 1 1 ? 2024-2026/2)").next_fire(at("2024-03-01T00:00:00")) == at(
        "2026-01-01T00:00:00")


def test_a_date_that_never_comes_gives_none() -> None:
    assert parse_schedule("cron(0 0 30 2 ? *)").next_fire(at("2024-01-01T00:00:00")) is None


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("cron(0 3 * * *)", "6 fields"),
        ("cron(0 3 * * * *)", "exactly one of day-of-month"),
        ("cron(0 3 ? * ? *)", "exactly one of day-of-month"),
        ("cron(60 3 * * ? *)", "minutes value 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours value 24"),
        ("cron(0 3 32 * ? *)", "day-of-month value 32"),
        ("cron(0 3 ? * 8 *)", "day-of-week value 8"),
        ("cron(0 3 * FOO ? *)", "JAN"),
        ("cron(0 3 ? * 5-2 *)", "backwards"),
        ("cron(0/0 3 * * ? *)", "step"),
        ("cron(? 3 * * ? *)", "only allowed in day-of-month or day-of-week"),
        ("cron(0 3 ? * 2#6 *)", "1-5"),
        ("cron(0 3 * * ? 1900)", "year value 1900"),
        ("every day", "rate\\(...\\) or cron\\(...\\)"),
    ],
)
def test_cron_errors_name_the_field(expression: str, says: str) -> None:
    with pytest.raises(ScheduleError, match=says):
        parse_schedule(expression)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_schedule("cron(0 3 * * ? *)").next_fire(datetime(2024, 1, 1))


def test_next_fire_accepts_other_timezones() -> None:
    from datetime import timezone

    eastern = timezone(timedelta(hours=-5))
    # 22:30 at UTC-5 is 03:30 UTC the next day: the next 03:00 UTC is the day after
    assert parse_schedule("cron(0 3 * * ? *)").next_fire(datetime(2024, 1, 1, 22, 30, tzinfo=eastern)) == at(
        "2024-01-03T03:00:00")
