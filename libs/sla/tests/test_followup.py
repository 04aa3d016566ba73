"""Follow-up rules: revisit and promise slots, retry spacing, and what each outcome does."""

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casegold_sla import PolicySet
from casegold_sla.followup import (
    decide_outcome,
    priority_rank,
    promise_slot,
    retry_slot,
    revisit_slot,
    revisit_wanted,
)
from casegold_sla.instants import to_us
from casegold_sla.policy import FollowUpSettings


def utc(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+00:00")


@pytest.fixture
def settings(default_policy: PolicySet) -> FollowUpSettings:
    return default_policy.follow_up


def test_revisit_two_days_later_inside_the_window(settings: FollowUpSettings) -> None:
    # Resolved Tuesday 10:00 Shanghai: Thursday 10:00 is inside 09:00-20:00.
    slot = revisit_slot(settings, datetime.fromisoformat("2025-06-10T10:00+08:00"), None)
    assert slot.due_at == datetime.fromisoformat("2025-06-12T10:00+08:00")
    assert slot.visible_at == slot.due_at


def test_revisit_resolved_late_moves_to_the_next_morning(settings: FollowUpSettings) -> None:
    slot = revisit_slot(settings, datetime.fromisoformat("2025-06-10T21:30+08:00"), None)
    assert slot.due_at == datetime.fromisoformat("2025-06-13T09:00+08:00")


def test_revisit_skips_the_national_holiday(settings: FollowUpSettings) -> None:
    # 48 h after 2025-09-29 12:00 is 10-01, a holiday to 10-08 in the default calendar.
    slot = revisit_slot(settings, datetime.fromisoformat("2025-09-29T12:00+08:00"), None)
    assert slot.due_at == datetime.fromisoformat("2025-10-09T09:00+08:00")


@pytest.mark.parametrize(
    ("timezone", "resolved", "expected"),
    [
        # New York springs forward on 2025-03-09: 09:00 EDT is 13:00 UTC, not 14:00.
        ("America/New_York", "2025-03-07T08:00", "2025-03-09T13:00"),
        # ...and falls back on 2025-11-02: 09:00 EST is 14:00 UTC.
        ("America/New_York", "2025-10-31T08:00", "2025-11-02T14:00"),
        # London: 20:00 BST is the window's end, so 19:30 UTC is past it.
        ("Europe/London", "2025-06-08T19:30", "2025-06-11T08:00"),
        # An unknown zone falls back to the policy's home zone (Shanghai, UTC+8).
        ("Mars/Olympus_Mons", "2025-06-08T00:00", "2025-06-10T01:00"),
    ],
)
def test_revisit_in_the_customers_zone(
    settings: FollowUpSettings, timezone: str, resolved: str, expected: str
) -> None:
    assert revisit_slot(settings, utc(resolved), timezone).due_at == utc(expected)


def test_promise_is_due_when_promised_and_shown_lead_time_before(
    settings: FollowUpSettings,
) -> None:
    # A promise is not moved into the window: the customer was told this instant.
    due = datetime.fromisoformat("2025-06-10T22:00+08:00")
    slot = promise_slot(settings, due)
    assert slot.due_at == due
    assert slot.visible_at == due - timedelta(minutes=15)


def test_retry_is_four_hours_later_inside_the_window(settings: FollowUpSettings) -> None:
    assert retry_slot(settings, datetime.fromisoformat("2025-06-10T10:00+08:00"), None).due_at == (
        datetime.fromisoformat("2025-06-10T14:00+08:00")
    )
    # 17:00 + 4 h = 21:00, past the window: the next morning.
    assert retry_slot(settings, datetime.fromisoformat("2025-06-10T17:00+08:00"), None).due_at == (
        datetime.fromisoformat("2025-06-11T09:00+08:00")
    )


def test_retry_never_lands_on_a_holiday(settings: FollowUpSettings) -> None:
    custom = replace(settings, holidays=frozenset({date(2025, 6, 11)}))
    slot = retry_slot(custom, datetime.fromisoformat("2025-06-10T18:00+08:00"), None)
    assert slot.due_at == datetime.fromisoformat("2025-06-12T09:00+08:00")


@given(
    minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
    zone=st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/Berlin", "Asia/Kolkata"]),
)
def test_retry_is_at_least_the_interval_later_and_in_the_window(minutes: int, zone: str) -> None:
    settings = FollowUpSettings(
        revisit_delay=48 * 3600 * 10**6,
        contact_window=(9 * 3600, 20 * 3600),
        holidays=frozenset({date(2025, 10, 1)}),
        default_timezone="Asia/Shanghai",
        callback_lead_time=15 * 60 * 10**6,
        callback_lease=10 * 60 * 10**6,
        unreachable_attempts=3,
        unreachable_retry_interval=4 * 3600 * 10**6,
    )
    attempted = utc("2025-01-01T00:00") + timedelta(minutes=minutes)
    due = retry_slot(settings, attempted, zone).due_at
    assert to_us(due) - to_us(attempted) >= settings.unreachable_retry_interval
    local = due.astimezone(ZoneInfo(zone))
    assert 9 <= local.hour < 20
    assert local.date() != date(2025, 10, 1)


def test_satisfied_revisit_closes_the_case(settings: FollowUpSettings) -> None:
    decision = decide_outcome(
        settings,
        kind="revisit",
        outcome="satisfied",
        attempt=1,
        at=utc("2025-06-10T02:00"),
        timezone=None,
    )
    assert decision.effects == ("record_outcome", "close_case")
    assert (decision.settled, decision.close_outcome, decision.retry) == ("done", "satisfied", None)


def test_unsatisfied_revisit_reopens_the_case(settings: FollowUpSettings) -> None:
    decision = decide_outcome(
        settings,
        kind="revisit",
        outcome="unsatisfied",
        attempt=2,
        at=utc("2025-06-10T02:00"),
        timezone=None,
    )
    assert decision.effects == ("record_outcome", "reopen_case")
    assert decision.settled == "done"


def test_unreachable_is_retried_then_closes_on_the_last_attempt(
    settings: FollowUpSettings,
) -> None:
    at = utc("2025-06-10T02:00")  # 10:00 Shanghai
    for attempt in (1, 2):
        decision = decide_outcome(
            settings, kind="revisit", outcome="unreachable", attempt=attempt, at=at, timezone=None
        )
        assert decision.effects == ("record_outcome",)
        assert decision.settled == "retry"
        assert decision.retry is not None
        assert decision.retry.due_at == at + timedelta(hours=4)
    last = decide_outcome(
        settings, kind="revisit", outcome="unreachable", attempt=3, at=at, timezone=None
    )
    assert last.effects == ("record_outcome", "close_case")
    assert (last.settled, last.close_outcome, last.retry) == ("done", "unreachable", None)


def test_wrong_number_is_flagged_and_leaves_the_case_alone(settings: FollowUpSettings) -> None:
    for kind in ("revisit", "promise"):
        decision = decide_outcome(
            settings,
            kind=kind,
            outcome="wrong_number",
            attempt=1,
            at=utc("2025-06-10T02:00"),
            timezone=None,
        )
        assert decision.settled == "flagged"
        assert "close_case" not in decision.effects and "reopen_case" not in decision.effects


def test_promise_outcomes(settings: FollowUpSettings) -> None:
    at = utc("2025-06-10T02:00")
    reached = decide_outcome(
        settings, kind="promise", outcome="satisfied", attempt=1, at=at, timezone=None
    )
    assert reached.effects == ("add_note", "keep_promise")
    retried = decide_outcome(
        settings, kind="promise", outcome="unreachable", attempt=1, at=at, timezone=None
    )
    assert (retried.effects, retried.settled) == (("add_note",), "retry")
    given_up = decide_outcome(
        settings, kind="promise", outcome="unreachable", attempt=3, at=at, timezone=None
    )
    assert (given_up.effects, given_up.settled) == (("add_note",), "done")


def test_attempts_count_from_one(settings: FollowUpSettings) -> None:
    with pytest.raises(ValueError, match="from 1"):
        decide_outcome(
            settings,
            kind="revisit",
            outcome="satisfied",
            attempt=0,
            at=utc("2025-06-10T02:00"),
            timezone=None,
        )


def test_revisit_wanted_compares_instants_not_arrival() -> None:
    resolved = utc("2025-06-10T02:00")
    assert revisit_wanted(resolved, None)
    assert not revisit_wanted(resolved, resolved + timedelta(seconds=1))  # closed after it
    assert revisit_wanted(resolved, resolved - timedelta(hours=1))  # a new resolution


def test_priority_rank() -> None:
    assert [priority_rank(p) for p in ("P1", "P2", "P3", "P4", None, "P9")] == [1, 2, 3, 4, 5, 5]
