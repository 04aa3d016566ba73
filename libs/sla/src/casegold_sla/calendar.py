"""Business calendars and business-time arithmetic on integer-microsecond instants.

Opening hours are local wall-clock intervals; each day's intervals are converted once to UTC
instants (cached per local date), so additions walk open intervals day by day, never minutes.
A wall-clock time maps to the first instant at which the local clock shows that time or later:
a time inside a spring-forward gap maps to the transition, a repeated time to its first
occurrence. A shift belongs to the local date it starts on; a holiday removes those shifts.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from casegold_sla.instants import DAY_US, EPOCH_ORDINAL, from_us, span, span_us, to_us

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SECONDS: Final = 86_400
# A calendar without one open minute in ten years is a configuration error, not a long wait.
_MAX_IDLE_DAYS: Final = 3_660
_MAX_CACHED_DAYS: Final = 50_000
_HOURS = re.compile(r"(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})")

Interval = tuple[int, int]
_DayEntry = tuple[int, tuple[int, ...]]


class CalendarError(ValueError):
    """A calendar definition that cannot work (bad hours, unknown zone, no open time)."""


def parse_hours(text: str) -> Interval:
    """Parse `09:00-18:00` into local seconds; an end at or before the start runs overnight."""
    match = _HOURS.fullmatch(text.strip())
    if match is None:
        raise CalendarError(f"bad opening hours {text!r}: expected HH:MM-HH:MM, e.g. 09:00-18:00")
    start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
    if start_h > 23 or start_m > 59 or end_m > 59 or end_h > 24 or (end_h == 24 and end_m):
        raise CalendarError(f"bad opening hours {text!r}: no such time of day")
    start = start_h * 3600 + start_m * 60
    end = end_h * 3600 + end_m * 60
    if end == start:
        raise CalendarError(f"bad opening hours {text!r}: empty interval (use 00:00-24:00)")
    # 22:00-06:00 is an overnight shift ending the next morning.
    return (start, end + DAY_SECONDS) if end < start else (start, end)


def zone(name: str) -> ZoneInfo:
    """Return the IANA zone, or raise CalendarError naming the unknown zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise CalendarError(f"unknown timezone {name!r}") from error


def check_weekly(weekly: Sequence[Sequence[Interval]]) -> None:
    """Raise CalendarError if a day's intervals overlap, also across midnight into the next."""
    if len(weekly) != 7:
        raise CalendarError("weekly hours need exactly 7 days, Monday first")
    for index, intervals in enumerate(weekly):
        ordered = sorted(intervals)
        for (_, end), (start, _) in pairwise(ordered):
            if start < end:
                raise CalendarError(f"overlapping opening hours on {WEEKDAYS[index]}")
        spill = max((end - DAY_SECONDS for _, end in ordered), default=0)
        following = weekly[(index + 1) % 7]
        if spill > 0 and any(start < spill for start, _ in following):
            raise CalendarError(
                f"overnight hours of {WEEKDAYS[index]} overlap {WEEKDAYS[(index + 1) % 7]}"
            )


class Calendar:
    """A named business calendar: a timezone, weekly hours, holidays and extra working days."""

    __slots__ = ("_days", "_holidays", "_weekly", "_working_days", "_zone", "always_open", "name")

    def __init__(
        self,
        name: str,
        timezone: str,
        weekly: Sequence[Sequence[Interval]],
        holidays: Iterable[date] = (),
        working_days: Mapping[date, int] | None = None,
    ) -> None:
        check_weekly(weekly)
        if not any(weekly):
            raise CalendarError("a calendar needs opening hours on at least one weekday")
        self.name = name
        self.always_open = False
        self._zone = zone(timezone)
        self._weekly = tuple(tuple(sorted(day)) for day in weekly)
        self._holidays = frozenset(day.toordinal() for day in holidays)
        self._working_days = {day.toordinal(): wd for day, wd in (working_days or {}).items()}
        self._days: dict[int, _DayEntry] = {}

    @classmethod
    def always(cls, name: str = "24x7") -> "Calendar":
        """A calendar that is always open: business time equals elapsed time."""
        calendar = cls.__new__(cls)
        calendar.name = name
        calendar.always_open = True
        calendar._zone = ZoneInfo("UTC")
        calendar._weekly = ((),) * 7
        calendar._holidays = frozenset()
        calendar._working_days = {}
        calendar._days = {}
        return calendar

    @property
    def timezone(self) -> str:
        """The IANA name of the calendar's zone (`UTC` for always-open calendars)."""
        return self._zone.key

    def __repr__(self) -> str:
        return f"Calendar({self.name!r}, {self.timezone!r})"

    def add_us(self, start: int, amount: int) -> int:
        """Return the instant at which `amount` of business time has elapsed since `start`."""
        if amount < 0:
            raise ValueError("business durations to add must not be negative")
        if amount == 0 or self.always_open:
            return start + amount
        remaining, cursor = amount, start
        # Two days back covers any UTC offset plus a shift spilling over from the day before.
        day, idle = start // DAY_US + EPOCH_ORDINAL - 2, 0
        while True:
            total, spans = self._days.get(day) or self._build(day)
            if spans and spans[-1] > cursor:
                idle = 0
                if spans[0] >= cursor and total < remaining:
                    remaining -= total
                    cursor = spans[-1]
                else:
                    for index in range(0, len(spans), 2):
                        end = spans[index + 1]
                        if end <= cursor:
                            continue
                        begin = max(spans[index], cursor)
                        if remaining <= end - begin:
                            return begin + remaining
                        remaining -= end - begin
                        cursor = end
            else:
                idle = self._idle(idle)
            day += 1

    def between_us(self, start: int, end: int) -> int:
        """Return the business time between two instants (negative when `end` is earlier)."""
        if end < start:
            return -self.between_us(end, start)
        if self.always_open:
            return end - start
        total, cursor = 0, start
        last = end // DAY_US + EPOCH_ORDINAL + 1
        for day in range(start // DAY_US + EPOCH_ORDINAL - 2, last + 1):
            day_total, spans = self._days.get(day) or self._build(day)
            if not spans or spans[-1] <= cursor:
                continue
            if spans[0] >= cursor and spans[-1] <= end:
                total += day_total
                cursor = spans[-1]
                continue
            for index in range(0, len(spans), 2):
                begin, finish = max(spans[index], cursor), min(spans[index + 1], end)
                if begin >= end:
                    return total
                if finish > begin:
                    total += finish - begin
                    cursor = finish
        return total

    def next_open_us(self, instant: int) -> int:
        """Return `instant` if the calendar is open then, else the next opening instant."""
        if self.always_open:
            return instant
        day, idle = instant // DAY_US + EPOCH_ORDINAL - 2, 0
        while True:
            _, spans = self._days.get(day) or self._build(day)
            for index in range(0, len(spans), 2):
                if spans[index + 1] > instant:
                    return max(spans[index], instant)
            idle = 0 if spans else self._idle(idle)
            day += 1

    def open_until_us(self, instant: int) -> int | None:
        """Return the end of the open interval the instant falls in, or None if closed then."""
        if self.always_open:
            raise ValueError(f"calendar {self.name!r} is always open: its hours never end")
        # An interval holding the instant starts on a local date within these four days.
        first = instant // DAY_US + EPOCH_ORDINAL - 2
        for day in range(first, first + 4):
            _, spans = self._days.get(day) or self._build(day)
            for index in range(0, len(spans), 2):
                if spans[index] > instant:
                    return None
                if spans[index + 1] > instant:
                    return spans[index + 1]
        return None

    def is_open_us(self, instant: int) -> bool:
        """Whether the calendar is open at the instant."""
        return self.next_open_us(instant) == instant

    def _idle(self, idle: int) -> int:
        if idle >= _MAX_IDLE_DAYS:
            raise CalendarError(f"calendar {self.name!r} has no open time for ten years")
        return idle + 1

    def _build(self, day: int) -> _DayEntry:
        spans: list[int] = []
        if day not in self._holidays:
            weekday = self._working_days.get(day, (day + 6) % 7)
            midnight = datetime.fromordinal(day)
            for start, end in self._weekly[weekday]:
                begin = self._first_instant(midnight + timedelta(seconds=start))
                finish = self._first_instant(midnight + timedelta(seconds=end))
                # A shift wholly inside a spring-forward gap has no real time at all.
                if finish > begin:
                    spans += (begin, finish)
        entry = (sum(spans[1::2]) - sum(spans[0::2]), tuple(spans))
        if len(self._days) >= _MAX_CACHED_DAYS:
            self._days.clear()
        self._days[day] = entry
        return entry

    def _first_instant(self, wall: datetime) -> int:
        """Return the first instant whose local wall-clock time is `wall` or later."""
        earlier = to_us(wall.replace(tzinfo=self._zone, fold=0))
        later = to_us(wall.replace(tzinfo=self._zone, fold=1))
        if earlier <= later:
            # Unambiguous (equal) or repeated by a fall-back (fold 0 is the first occurrence).
            return earlier
        # In a spring-forward gap: search the transition, in whole seconds, between the two.
        low, high = later // 1_000_000, -(-earlier // 1_000_000)
        while low < high:
            middle = (low + high) // 2
            local = from_us(middle * 1_000_000).astimezone(self._zone).replace(tzinfo=None)
            if local >= wall:
                high = middle
            else:
                low = middle + 1
        return low * 1_000_000


def add_business(calendar: Calendar, start: datetime, duration: timedelta) -> datetime:
    """Return the instant at which `duration` of the calendar's business time has elapsed."""
    return from_us(calendar.add_us(to_us(start), span_us(duration)))


def business_between(calendar: Calendar, start: datetime, end: datetime) -> timedelta:
    """Return the business time between two instants (negative when `end` is earlier)."""
    return span(calendar.between_us(to_us(start), to_us(end)))


def next_open(calendar: Calendar, instant: datetime) -> datetime:
    """Return `instant` if the calendar is open then, else its next opening instant."""
    return from_us(calendar.next_open_us(to_us(instant)))
