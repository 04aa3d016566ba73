"""Quiet hours are decided from the recipient's zone and the instant given (no wall clock)."""

from datetime import UTC, datetime

import pytest

from casegold_sla import Calendar, to_us
from casegold_sla.recipients import EmailTarget, QuietHours, Recipient

H = 3600
# 22:00-08:00 in Shanghai (UTC+8): 14:00-00:00 UTC.
NIGHT = QuietHours("Asia/Shanghai", 22 * H, 32 * H)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        ("2025-03-03T13:59:59", None),  # 21:59:59 local
        ("2025-03-03T14:00:00", "2025-03-04T00:00:00"),  # 22:00 local: until 08:00 tomorrow
        ("2025-03-03T19:30:00", "2025-03-04T00:00:00"),  # 03:30 local, after midnight
        ("2025-03-03T23:59:59", "2025-03-04T00:00:00"),
        ("2025-03-04T00:00:00", None),  # 08:00 local: the period has ended
        ("2025-03-04T05:00:00", None),  # 13:00 local
    ],
)
def test_an_overnight_period(now: str, until: str | None) -> None:
    assert NIGHT.until(utc(now)) == (utc(until) if until else None)


def test_a_daytime_period_and_the_whole_day() -> None:
    lunch = QuietHours("UTC", 12 * H, 13 * H)
    assert lunch.until(utc("2025-03-03T12:30:00")) == utc("2025-03-03T13:00:00")
    assert lunch.until(utc("2025-03-03T13:00:00")) is None
    always = QuietHours("UTC", 0, 24 * H)
    assert always.until(utc("2025-03-03T18:00:00")) == utc("2025-03-04T00:00:00")


def test_the_end_is_local_wall_time_across_a_dst_change() -> None:
    # Berlin moves from UTC+1 to UTC+2 at 02:00 on 2025-03-30: 08:00 local is 06:00 UTC.
    night = QuietHours("Europe/Berlin", 22 * H, 32 * H)
    assert night.until(utc("2025-03-29T22:00:00")) == utc("2025-03-30T06:00:00")
    assert night.until(utc("2025-03-28T22:00:00")) == utc("2025-03-29T07:00:00")


def test_only_the_held_steps_wait() -> None:
    recipient = Recipient("lead", EmailTarget(("lead@example.test",)), quiet_hours=NIGHT)
    night = utc("2025-03-03T16:00:00")
    assert recipient.held_until("warning", night) == utc("2025-03-04T00:00:00")
    assert recipient.held_until("tier_1", night) is None  # tier 1 goes at once by default
    holds_tier_1 = QuietHours("Asia/Shanghai", 22 * H, 32 * H, frozenset({"warning", "tier_1"}))
    strict = Recipient("lead", EmailTarget(("lead@example.test",)), quiet_hours=holds_tier_1)
    assert strict.held_until("tier_1", night) == utc("2025-03-04T00:00:00")
    assert strict.held_until("tier_2", night) is None
    awake = Recipient("desk", EmailTarget(("desk@example.test",)))
    assert awake.held_until("warning", night) is None


def test_tier_2_never_waits_even_if_listed() -> None:
    # The recipients schema refuses it; the rule does not rely on that.
    loud = QuietHours("Asia/Shanghai", 22 * H, 32 * H, frozenset({"warning", "tier_2"}))
    recipient = Recipient("lead", EmailTarget(("lead@example.test",)), quiet_hours=loud)
    night = utc("2025-03-03T16:00:00")
    assert recipient.held_until("warning", night) == utc("2025-03-04T00:00:00")
    assert recipient.held_until("tier_2", night) is None


def test_a_calendar_says_when_the_open_interval_around_an_instant_ends() -> None:
    holiday = datetime(2025, 3, 4).date()
    office = Calendar("office", "UTC", [[(9 * H, 17 * H)]] * 7, holidays=[holiday])
    monday = utc("2025-03-03T10:00:00")
    assert office.open_until_us(to_us(monday)) == to_us(utc("2025-03-03T17:00:00"))
    assert office.open_until_us(to_us(utc("2025-03-03T17:00:00"))) is None
    assert office.open_until_us(to_us(utc("2025-03-04T10:00:00"))) is None  # a holiday
    with pytest.raises(ValueError, match="always open"):
        Calendar.always().open_until_us(0)
