"""Which due steps must wait for records their partition has not read yet.

A step due at instant D must not fire while a record accepted at or before D (an owner's
acknowledgement, say) is still unread on the case's partition: ticks are decided at the wall
clock, so after an outage or under lag they would otherwise overtake the events that cancel
them. Broker timestamps grow along a partition, so when the last record read was accepted at
T, every unread one was accepted at T or later: a step due before T may fire, one due at or
after T waits until the partition is read up to its end (or past its due instant).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Progress:
    """The last case-events record the agent finished on a partition."""

    offset: int
    timestamp_us: int


def unread_bounds(
    partitions: Iterable[int],
    ends: Mapping[int, int],
    progress: Mapping[int, Progress],
    committed: Mapping[int, int | None],
) -> dict[int, int | None]:
    """For each partition with unread records: the broker timestamp from which due steps wait
    (None: nothing read since it was assigned, so every due step waits)."""
    bounds: dict[int, int | None] = {}
    for partition in partitions:
        end = ends.get(partition)
        if end is None:
            bounds[partition] = None  # the end is unknown: assume the worst
            continue
        done = progress.get(partition)
        next_unread = done.offset + 1 if done else (committed.get(partition) or 0)
        if end > next_unread:
            bounds[partition] = done.timestamp_us if done else None
    return bounds
