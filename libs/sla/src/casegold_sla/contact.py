"""Daily local-time windows: customer contact windows (SPEC §4) and recipients' quiet hours."""

from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache

from casegold_sla.calendar import Calendar, CalendarError, next_open, parse_hours
from casegold_sla.instants import from_us, to_us

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


def window_end(window: Window, tz: str, instant: datetime) -> datetime | None:
    """The end of the daily window (zone `tz`) the instant falls in, or None outside it."""
    # The end is local wall time ("08:00" stays 08:00 across a DST change), like any shift's.
    end = _window_calendar(window, tz, frozenset()).open_until_us(to_us(instant))
    return None if end is None else from_us(end)


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
