"""Contact windows (SPEC §4): revisit times land inside the customer's window, off holidays."""

from datetime import date, datetime, timedelta

import pytest

from casegold_sla import PolicySet, next_contact_time


def shanghai(text: str) -> datetime:
    """A Shanghai wall-clock time."""
    return datetime.fromisoformat(f"{text}+08:00")


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ("2025-06-10T10:00", "2025-06-10T10:00"),  # inside the window
        ("2025-06-10T08:59", "2025-06-10T09:00"),  # before it opens
        ("2025-06-10T20:00", "2025-06-11T09:00"),  # the window's end is excluded
        ("2025-06-10T23:30", "2025-06-11T09:00"),
        ("2025-09-30T21:00", "2025-10-03T09:00"),  # 10-01 and 10-02 are holidays
    ],
)
def test_next_contact_time(instant: str, expected: str) -> None:
    holidays = [date(2025, 10, 1), date(2025, 10, 2)]
    result = next_contact_time("09:00-20:00", "Asia/Shanghai", holidays, shanghai(instant))
    assert result == shanghai(expected)


def test_window_in_the_customers_zone_across_dst() -> None:
    # 2025-03-09 is New York's spring-forward day; 07:00 local is 11:00 UTC that morning.
    instant = datetime.fromisoformat("2025-03-09T06:00:00+00:00")
    result = next_contact_time((9 * 3600, 20 * 3600), "America/New_York", [], instant)
    assert result == datetime.fromisoformat("2025-03-09T13:00:00+00:00")


def test_overnight_window() -> None:
    result = next_contact_time("20:00-08:00", "Asia/Shanghai", [], shanghai("2025-06-10T12:00"))
    assert result == shanghai("2025-06-10T20:00")
    assert next_contact_time("20:00-08:00", "Asia/Shanghai", [], shanghai("2025-06-11T07:00")) == (
        shanghai("2025-06-11T07:00")
    )


def test_revisit_time_uses_delay_window_holidays_and_customer_zone(
    default_policy: PolicySet,
) -> None:
    follow_up = default_policy.follow_up
    # Resolved 2025-09-28 22:00 Shanghai: +48 h is 09-30 22:00, outside the window; 10-01 to
    # 10-08 are public holidays in the office calendar.
    resolved = shanghai("2025-09-28T22:00")
    assert follow_up.revisit_at(resolved, "Asia/Shanghai") == shanghai("2025-10-09T09:00")
    # An unknown zone falls back to the centre's home zone.
    assert follow_up.revisit_at(resolved, "Nowhere/Else") == shanghai("2025-10-09T09:00")
    berlin = follow_up.revisit_at(shanghai("2025-06-10T10:00"), "Europe/Berlin")
    assert berlin == datetime.fromisoformat("2025-06-12T09:00:00+02:00")
    assert follow_up.contact_time(shanghai("2025-06-10T03:00"), None) - shanghai(
        "2025-06-10T03:00"
    ) == timedelta(hours=6)
