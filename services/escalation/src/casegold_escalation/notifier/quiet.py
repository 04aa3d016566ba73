"""Quiet hours: whether a notice waits, and until when (pure: `now` is an argument)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from casegold_sla.recipients import QuietHours, Recipient

DAY = 86_400


def quiet_until(quiet: QuietHours, now: datetime) -> datetime | None:
    """The end (UTC) of the quiet period `now` falls in, or None outside every quiet period."""
    zone = ZoneInfo(quiet.timezone)
    local = now.astimezone(zone)
    into_day = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    # Today's period, or yesterday's when it runs overnight into this morning.
    for shift in (0, DAY):
        if quiet.start - shift <= into_day < quiet.end - shift:
            midnight = datetime.combine(local.date(), time(0))
            # Wall-clock arithmetic, then the zone: "08:00" stays 08:00 across a DST change.
            end = (midnight + timedelta(seconds=quiet.end - shift)).replace(tzinfo=zone)
            end_utc = end.astimezone(UTC)
            return end_utc if end_utc > now else None
    return None


def held_until(recipient: Recipient, step: str, now: datetime) -> datetime | None:
    """When a notice of `step` may go to the recipient, if it must wait for quiet hours to end."""
    quiet = recipient.quiet_hours
    if quiet is None or step not in quiet.hold:
        return None
    return quiet_until(quiet, now)
