"""Fixtures and small builders shared by the SLA core tests."""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from casegold_contracts.builders import DEFAULT_TIME, make_event
from casegold_contracts.envelope import Event
from casegold_sla import Calendar, CaseState, PolicySet, Rejection, evolve, load_policy, parse_hours

POLICY_DIR = Path(__file__).resolve().parents[3] / "deploy" / "policy"
# Monday 2025-03-03 09:00 UTC: outside the 3.15 special period.
T0 = DEFAULT_TIME


def at(hours: float = 0, *, days: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    """An instant relative to T0."""
    return T0 + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def event(event_type: str, when: datetime = T0, **fields: Any) -> Event:
    """A case event of the default case at `when`."""
    return make_event(event_type, at=when, **fields)


def fold(policies: PolicySet, *events: Event, state: CaseState | None = None) -> CaseState:
    """Apply events in order; fail the test on any rejection."""
    for item in events:
        result = evolve(state, item, policies)
        assert not isinstance(result, Rejection), f"{item.type} rejected: {result}"
        state = result
    assert state is not None
    return state


def hours_of(*texts: str) -> list[tuple[int, int]]:
    """Parsed opening hours."""
    return [parse_hours(text) for text in texts]


def weekly(**days: Iterable[str]) -> list[list[tuple[int, int]]]:
    """Seven days of hours from keyword weekdays (mon=…)."""
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return [hours_of(*days.get(name, ())) for name in names]


# Calendars the property tests run across: DST zones, overnight and split shifts, holidays.
BERLIN = Calendar(
    "berlin",
    "Europe/Berlin",
    weekly(
        mon=["08:00-12:00", "13:00-17:00"],
        tue=["08:00-12:00", "13:00-17:00"],
        wed=["08:00-12:00", "13:00-17:00"],
        thu=["08:00-12:00", "13:00-17:00"],
        fri=["08:00-12:00", "13:00-17:00"],
        sat=["18:00-23:00"],
        # Across both DST changes (02:00→03:00 in March, 03:00→02:00 in October), then a
        # night shift into Monday.
        sun=["01:00-03:30", "22:00-06:00"],
    ),
    holidays=[date(2025, 3, 31), date(2025, 10, 3), date(2024, 12, 25)],
)
NEW_YORK = Calendar(
    "new_york",
    "America/New_York",
    weekly(
        mon=["09:00-17:00"],
        tue=["09:00-17:00"],
        wed=["09:00-17:00"],
        thu=["09:00-17:00"],
        fri=["09:00-17:00", "22:00-06:00"],
        sat=["10:00-14:00"],
        sun=["01:00-03:00"],
    ),
    holidays=[date(2025, 3, 10), date(2025, 11, 27), date(2025, 7, 4)],
)
SHANGHAI = Calendar(
    "shanghai",
    "Asia/Shanghai",
    weekly(
        mon=["09:00-12:00", "13:30-18:00"],
        tue=["09:00-12:00", "13:30-18:00"],
        wed=["09:00-12:00", "13:30-18:00"],
        thu=["09:00-12:00", "13:30-18:00"],
        fri=["09:00-12:00", "13:30-18:00"],
        sat=["09:00-12:00"],
    ),
    holidays=[date(2025, 1, 1), date(2025, 10, 1), date(2025, 10, 2), date(2025, 10, 3)],
    working_days={date(2025, 9, 28): 0},
)
ALWAYS = Calendar.always()
CALENDARS = (BERLIN, NEW_YORK, SHANGHAI, ALWAYS)

# DST changes of 2025 the properties start around.
DST_CHANGES = (
    datetime.fromisoformat("2025-03-30T01:00:00+00:00"),  # Berlin spring forward
    datetime.fromisoformat("2025-10-26T01:00:00+00:00"),  # Berlin fall back
    datetime.fromisoformat("2025-03-09T07:00:00+00:00"),  # New York spring forward
    datetime.fromisoformat("2025-11-02T06:00:00+00:00"),  # New York fall back
    datetime.fromisoformat("2025-09-28T01:00:00+00:00"),  # Shanghai make-up working day
)


def uuid_of(number: int) -> UUID:
    """A deterministic UUID (distinct low 64 bits for distinct numbers)."""
    return UUID(int=(0x4000 << 64) | number)


@pytest.fixture(scope="session")
def default_policy() -> PolicySet:
    """The shipped default policy."""
    return load_policy(POLICY_DIR / "default.yaml")


@pytest.fixture(scope="session")
def fast_policy() -> PolicySet:
    """The shipped second-scale policy."""
    return load_policy(POLICY_DIR / "fast.yaml")
