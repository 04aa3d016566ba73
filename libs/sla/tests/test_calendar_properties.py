"""Properties of business-time arithmetic across DST changes, split and overnight shifts."""

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from casegold_sla import Calendar, add_business, business_between, next_open
from casegold_sla.instants import to_us

from .conftest import CALENDARS, DST_CHANGES

HOUR_US = 3_600_000_000

calendars = st.sampled_from(CALENDARS)
# Instants near a DST change (± 10 days, to the microsecond), or anywhere in 2024–2026.
near_changes = st.builds(
    lambda base, shift: base + timedelta(microseconds=shift),
    st.sampled_from(DST_CHANGES),
    st.integers(-10 * 24 * HOUR_US, 10 * 24 * HOUR_US),
)
anywhere = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31)).map(
    lambda naive: naive.replace(tzinfo=DST_CHANGES[0].tzinfo)
)
instants = st.one_of(near_changes, anywhere)
# Up to three hundred business hours, to the microsecond; often whole minutes.
durations = st.one_of(
    st.integers(0, 300 * HOUR_US), st.integers(0, 300 * 60).map(lambda m: m * 60_000_000)
).map(lambda us: timedelta(microseconds=us))

fast = settings(max_examples=500, deadline=None)


@fast
@given(calendars, instants, durations)
def test_adding_then_measuring_gives_the_duration_back(
    calendar: Calendar, start: datetime, duration: timedelta
) -> None:
    end = add_business(calendar, start, duration)
    assert end >= start
    assert business_between(calendar, start, end) == duration


@fast
@given(calendars, instants, durations, durations)
def test_deadlines_are_monotone_in_the_target(
    calendar: Calendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    shorter, longer = sorted((first, second))
    assert add_business(calendar, start, shorter) <= add_business(calendar, start, longer)


@fast
@given(calendars, instants, durations, durations)
def test_adding_in_two_parts_equals_adding_at_once(
    calendar: Calendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    middle = add_business(calendar, start, first)
    assert add_business(calendar, middle, second) == add_business(calendar, start, first + second)


@fast
@given(calendars, instants, durations, durations)
def test_business_time_is_additive_over_intervals(
    calendar: Calendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    middle = start + first
    end = middle + second
    assert business_between(calendar, start, middle) + business_between(
        calendar, middle, end
    ) == business_between(calendar, start, end)
    assert business_between(calendar, start, end) <= end - start


@fast
@given(calendars, instants)
def test_next_open_is_open_and_skips_no_business_time(
    calendar: Calendar, instant: datetime
) -> None:
    opening = next_open(calendar, instant)
    assert opening >= instant
    assert calendar.is_open_us(to_us(opening))
    assert business_between(calendar, instant, opening) == timedelta(0)


@fast
@given(calendars, instants, durations, durations, durations)
def test_a_pause_shifts_the_deadline_by_exactly_the_paused_business_time(
    calendar: Calendar,
    start: datetime,
    target: timedelta,
    before_pause: timedelta,
    pause: timedelta,
) -> None:
    deadline = add_business(calendar, start, target)
    # Pause after some real time (before the deadline), resume after `pause` real time.
    paused_at = min(start + before_pause, deadline)
    resumed_at = paused_at + pause
    consumed = business_between(calendar, start, paused_at)
    moved = add_business(calendar, resumed_at, target - consumed)
    paused_business = business_between(calendar, paused_at, resumed_at)
    assert business_between(calendar, start, moved) == target + paused_business
    if target > consumed:
        assert business_between(calendar, deadline, moved) == paused_business
