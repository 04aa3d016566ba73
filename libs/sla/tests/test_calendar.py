"""Business calendars: table-driven cases for hours, holidays, overnight shifts and DST."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from casegold_sla import (
    Calendar,
    CalendarError,
    add_business,
    business_between,
    next_open,
    parse_hours,
)

from .conftest import BERLIN, NEW_YORK, SHANGHAI, weekly


def local(zone: str, text: str) -> datetime:
    """A wall-clock time in a zone (first occurrence when repeated)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


OFFICE = Calendar(
    "office",
    "Asia/Shanghai",
    weekly(
        mon=["09:00-18:00"],
        tue=["09:00-18:00"],
        wed=["09:00-18:00"],
        thu=["09:00-18:00"],
        fri=["09:00-18:00"],
        sat=["09:00-12:00"],
    ),
    holidays=[date(2025, 10, 1), date(2025, 10, 2)],
    working_days={date(2025, 9, 28): 0},
)
NIGHTS = Calendar("nights", "Europe/Berlin", weekly(mon=["22:00-06:00"], tue=["22:00-06:00"]))


@pytest.mark.parametrize(
    ("calendar", "start", "duration", "expected"),
    [
        # Inside hours, same day.
        (OFFICE, "2025-09-22T10:00", timedelta(hours=2), "2025-09-22T12:00"),
        # Exactly to closing time: the deadline is the close, not the next opening.
        (OFFICE, "2025-09-22T10:00", timedelta(hours=8), "2025-09-22T18:00"),
        (OFFICE, "2025-09-22T10:00", timedelta(hours=8, seconds=1), "2025-09-23T09:00:01"),
        # Starting before opening counts from the opening.
        (OFFICE, "2025-09-22T06:00", timedelta(hours=1), "2025-09-22T10:00"),
        # Friday evening: Saturday morning's three hours, then Monday.
        (OFFICE, "2025-09-19T17:00", timedelta(hours=5), "2025-09-22T10:00"),
        # Sunday 2025-09-28 is a make-up working day with Monday's hours.
        (OFFICE, "2025-09-27T11:00", timedelta(hours=2), "2025-09-28T10:00"),
        # Holidays 10-01 and 10-02 are skipped.
        (OFFICE, "2025-09-30T17:00", timedelta(hours=2), "2025-10-03T10:00"),
        (OFFICE, "2025-09-22T10:00", timedelta(0), "2025-09-22T10:00"),
        # Outside hours with zero duration: the instant itself.
        (OFFICE, "2025-09-22T20:00", timedelta(0), "2025-09-22T20:00"),
    ],
)
def test_add_business_office(
    calendar: Calendar, start: str, duration: timedelta, expected: str
) -> None:
    result = add_business(calendar, local(calendar.timezone, start), duration)
    assert result == local(calendar.timezone, expected)
    assert business_between(calendar, local(calendar.timezone, start), result) == duration


def test_overnight_shift_belongs_to_the_day_it_starts() -> None:
    # Monday 22:00 → Tuesday 06:00 and Tuesday 22:00 → Wednesday 06:00 only.
    monday = local("Europe/Berlin", "2025-06-02T21:00")
    assert add_business(NIGHTS, monday, timedelta(hours=1)) == local(
        "Europe/Berlin", "2025-06-02T23:00"
    )
    assert add_business(NIGHTS, monday, timedelta(hours=8)) == local(
        "Europe/Berlin", "2025-06-03T06:00"
    )
    assert add_business(NIGHTS, monday, timedelta(hours=9)) == local(
        "Europe/Berlin", "2025-06-03T23:00"
    )
    assert add_business(NIGHTS, monday, timedelta(hours=17)) == local(
        "Europe/Berlin", "2025-06-09T23:00"
    )
    # An instant inside Tuesday 03:00 is in Monday's shift.
    inside = local("Europe/Berlin", "2025-06-03T03:00")
    assert next_open(NIGHTS, inside) == inside


def test_holiday_removes_shifts_starting_that_day_but_not_the_night_before() -> None:
    calendar = Calendar(
        "nights",
        "Europe/Berlin",
        weekly(mon=["22:00-06:00"], tue=["22:00-06:00"]),
        holidays=[date(2025, 6, 3)],
    )
    start = local("Europe/Berlin", "2025-06-02T22:00")
    # Monday night counts (it starts Monday); Tuesday night is the holiday's.
    assert add_business(calendar, start, timedelta(hours=8)) == local(
        "Europe/Berlin", "2025-06-03T06:00"
    )
    assert add_business(calendar, start, timedelta(hours=9)) == local(
        "Europe/Berlin", "2025-06-09T23:00"
    )


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected"),
    [
        # Spring forward in Berlin (Sunday 2025-03-30 02:00→03:00): the shift 01:00-03:30
        # has 1.5 real hours.
        (BERLIN, "2025-03-30T00:00", "2025-03-30T05:00", timedelta(hours=1, minutes=30)),
        # Fall back (2025-10-26 03:00→02:00): 01:00-03:30 has 3.5 real hours.
        (BERLIN, "2025-10-26T00:00", "2025-10-26T05:00", timedelta(hours=3, minutes=30)),
        # New York spring forward (2025-03-09 02:00→03:00): 01:00-03:00 has one hour.
        (NEW_YORK, "2025-03-09T00:00", "2025-03-09T05:00", timedelta(hours=1)),
        # Fall back (2025-11-02 02:00→01:00): 01:00-03:00 has three hours.
        (NEW_YORK, "2025-11-02T00:00", "2025-11-02T05:00", timedelta(hours=3)),
        # A whole ordinary week in Shanghai: 5 × 7.5 h + 3 h.
        (SHANGHAI, "2025-09-15T00:00", "2025-09-22T00:00", timedelta(hours=40, minutes=30)),
        # Split shift: the lunch break does not count.
        (SHANGHAI, "2025-09-15T11:00", "2025-09-15T14:30", timedelta(hours=2)),
        # Reversed arguments give the negative.
        (SHANGHAI, "2025-09-15T14:30", "2025-09-15T11:00", -timedelta(hours=2)),
    ],
)
def test_business_between(calendar: Calendar, start: str, end: str, expected: timedelta) -> None:
    tz = calendar.timezone
    assert business_between(calendar, local(tz, start), local(tz, end)) == expected


def test_wall_time_in_a_spring_forward_gap_maps_to_the_transition() -> None:
    # Shift 02:30-04:00 on the New York spring-forward Sunday starts at 03:00 EDT.
    calendar = Calendar("gap", "America/New_York", weekly(sun=["02:30-04:00"]))
    start = local("America/New_York", "2025-03-09T00:00")
    assert next_open(calendar, start) == datetime.fromisoformat("2025-03-09T07:00:00+00:00")
    assert business_between(
        calendar, start, local("America/New_York", "2025-03-09T05:00")
    ) == timedelta(hours=1)


def test_shift_wholly_inside_the_gap_has_no_time() -> None:
    calendar = Calendar("gap", "America/New_York", weekly(sun=["02:10-02:50"], mon=["09:00-10:00"]))
    start = local("America/New_York", "2025-03-09T00:00")
    assert next_open(calendar, start) == local("America/New_York", "2025-03-10T09:00")


def test_always_open_is_plain_arithmetic() -> None:
    calendar = Calendar.always()
    start = datetime.fromisoformat("2025-03-30T00:30:00+00:00")
    assert add_business(calendar, start, timedelta(days=3)) == start + timedelta(days=3)
    assert business_between(calendar, start, start + timedelta(hours=5)) == timedelta(hours=5)
    assert calendar.is_open_us(0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00-18:00", (32_400, 64_800)),
        ("22:00-06:00", (79_200, 108_000)),
        ("00:00-24:00", (0, 86_400)),
        (" 13:30 - 18:00 ", (48_600, 64_800)),
    ],
)
def test_parse_hours(text: str, expected: tuple[int, int]) -> None:
    assert parse_hours(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("9-18", "expected HH:MM-HH:MM"),
        ("09:00-09:00", "empty interval"),
        ("25:00-26:00", "no such time"),
        ("09:00-24:30", "no such time"),
        ("09:60-10:00", "no such time"),
    ],
)
def test_parse_hours_errors(text: str, problem: str) -> None:
    with pytest.raises(CalendarError, match=problem):
        parse_hours(text)


@pytest.mark.parametrize(
    ("days", "problem"),
    [
        ({"mon": ["09:00-12:00", "11:00-13:00"]}, "overlapping opening hours on mon"),
        ({"mon": ["22:00-06:00"], "tue": ["05:00-09:00"]}, "overnight hours of mon overlap tue"),
        ({"sun": ["22:00-06:00"], "mon": ["05:00-09:00"]}, "overnight hours of sun overlap mon"),
        ({}, "at least one weekday"),
    ],
)
def test_weekly_hours_errors(days: dict[str, list[str]], problem: str) -> None:
    with pytest.raises(CalendarError, match=problem):
        Calendar("bad", "UTC", weekly(**days))


def test_unknown_timezone() -> None:
    with pytest.raises(CalendarError, match="unknown timezone 'Mars/Olympus'"):
        Calendar("bad", "Mars/Olympus", weekly(mon=["09:00-10:00"]))


def test_calendar_with_only_holidays_fails_instead_of_looping() -> None:
    days = [date(2025, 1, 6) + timedelta(weeks=w) for w in range(600)]
    calendar = Calendar("closed", "UTC", weekly(mon=["09:00-10:00"]), holidays=days)
    with pytest.raises(CalendarError, match="no open time"):
        calendar.add_us(1_736_000_000_000_000, 1)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business(OFFICE, datetime(2025, 1, 1), timedelta(hours=1))
