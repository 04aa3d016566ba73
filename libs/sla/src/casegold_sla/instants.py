"""Instants as integer microseconds since the Unix epoch (UTC), and their datetime edges.

The core computes on ints: they are exact (datetime resolution is one microsecond), cheap to
compare and compact in memory. Aware datetimes appear only at the public edges.
"""

from datetime import UTC, datetime, timedelta
from typing import Final

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
DAY_US: Final = 86_400_000_000
# Proleptic Gregorian ordinal of 1970-01-01, so `us // DAY_US + EPOCH_ORDINAL` is a UTC date.
EPOCH_ORDINAL: Final = EPOCH.toordinal()


def to_us(instant: datetime) -> int:
    """Convert an aware datetime to microseconds since the epoch; naive datetimes are refused."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: instants must be timezone-aware")
    delta = instant - EPOCH
    return delta.days * DAY_US + delta.seconds * 1_000_000 + delta.microseconds


def from_us(microseconds: int) -> datetime:
    """Convert microseconds since the epoch to an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=microseconds)


def span_us(duration: timedelta) -> int:
    """Convert a timedelta to whole microseconds."""
    return (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds


def span(microseconds: int) -> timedelta:
    """Convert microseconds to a timedelta."""
    return timedelta(microseconds=microseconds)
