"""Which due steps must wait for records their partition has not read yet.

A step due at instant D must not fire while a record accepted at or before D (an owner's
acknowledgement, say) is still unread on the case's partition: ticks are decided at the wall
clock, so after an outage or under lag they would otherwise overtake the events that cancel
them. Broker timestamps grow along a partition, so when the last record read was accepted at
T, every unread one was accepted at T or later: a step due before T may fire, one due at or
after T waits until the partition is read up to its end (or past its due instant).

"Read up to its end" is judged on the end offset of the partition's last fetch response, and
that end may be old: under load the consumer fetches a partition again only once the records
it buffered were taken. Every record accepted before the broker built that response is below
it, so a partition read to that end holds the steps due at or after the instant the response
was built (decision 0143). The consumer notes when it took each response in, which is later
than when it was built; but it sends a broker its next fetch only once the previous response
is taken in, so the response before the current one was taken in before the current one was
built. `EndTimes` keeps that earlier instant per partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Progress:
    """The last case-events record the agent finished on a partition."""

    offset: int
    timestamp_us: int


class EndTimes:
    """Per partition, an instant its latest fetched end offset was built at or after."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        # partition -> (the latest response's take-in time, the one before it), epoch ms
        self._seen: dict[int, tuple[int, int | None]] = {}

    def built_after(self, partition: int, taken_in_ms: int | None) -> int | None:
        """Note when the partition's latest response was taken in (epoch ms); return an instant
        (epoch µs) its end offset was built at or after, or None if not known yet.

        A response seen only once bounds nothing: one taken in between two looks is missed,
        which leaves an older instant, still a lower bound.
        """
        if taken_in_ms is None:
            return None
        seen = self._seen.get(partition)
        if seen is None or taken_in_ms < seen[0]:  # first look, or the clock went back
            self._seen[partition] = (taken_in_ms, None)
            return None
        latest, before = seen
        if taken_in_ms != latest:
            self._seen[partition] = (taken_in_ms, latest)
            before = latest
        return None if before is None else before * 1000

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._seen.pop(partition, None)


def unread_bounds(
    partitions: Iterable[int],
    ends: Mapping[int, int],
    progress: Mapping[int, Progress],
    committed: Mapping[int, int | None],
    built: Mapping[int, int],
) -> dict[int, int | None]:
    """For each partition: the instant (epoch µs) from which due steps wait; None when every
    due step waits (the end is unknown, or nothing was read since the assignment and it is not
    known when the end was built).

    `built` gives, per partition, an instant its end offset was built at or after (EndTimes).
    """
    bounds: dict[int, int | None] = {}
    for partition in partitions:
        end = ends.get(partition)
        if end is None:
            bounds[partition] = None  # the end is unknown: assume the worst
            continue
        done = progress.get(partition)
        last_read = done.timestamp_us if done else None
        next_unread = done.offset + 1 if done else (committed.get(partition) or 0)
        after = built.get(partition)
        if end > next_unread or after is None:
            # Unread records below the end (or an end of unknown age): none was accepted before
            # the last one read, and that is all that is known.
            bounds[partition] = last_read
        else:
            # Read to an end built at or after `after`: what was accepted before it is read.
            bounds[partition] = after if last_read is None else max(after, last_read)
    return bounds
