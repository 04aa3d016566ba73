"""Customer contact windows (SPEC §4): move an instant into the window, off holidays."""

from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache

from casegold_sla.calendar import Calendar, CalendarError, next_open, parse_hours

Window = tuple[int, int]


def next_contact_time(
    window: Window | str, tz: str, holidays: Iterable[date], instant: datetime
) -> datetime:
    """The instant if inside the daily window (zone `tz`, not a holiday), else its next opening."""
    # `window` is `09:00-20:00` or local seconds; an overnight window (`20:00-08:00`) belongs
    # to the day it opens on, like any overnight shift.
    bounds = parse_hours(window) if isinstance(window, str) else window
    calendar = _window_calendar(bounds, tz, frozenset(holidays))
    return next_open(calendar, instant)


def usable_timezone(preferred: str | None, fallback: str) -> str:
    """The customer's zone when it is a known IANA zone, else the fallback."""
    if preferred:
        try:
            _window_calendar((0, 86_400), preferred, frozenset())
            return preferred
        except CalendarError:
            pass
    return fallback


@lru_cache(maxsize=1024)
def _window_calendar(window: Window, tz: str, holidays: frozenset[date]) -> Calendar:
    # One calendar per (window, zone, holidays): its per-day cache is then reused.
    return Calendar(f"contact {tz}", tz, [[window]] * 7, holidays)
