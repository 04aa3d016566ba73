"""Partitions whose unread records never reach the agent, and the seek that fetches them again.

Right after an assignment the consumer can start fetching before Faust seeks the stream
partitions to their committed offsets (the fetcher starts with the changelog recovery). A fetch
answered in between is dropped for a partition that is not active yet, while the consumer's
position has already moved past it: the records between the committed offset and that position
are never delivered until the next rebalance. Seen after a kill -9: a tick at the committed
offset stayed unread, its partition held every due step behind it (timers.ticks_queued) and its
cases fired nothing again; an unread case event would be lost the same way.

The worker cannot see the consumer's fetch position, but it can see the symptom: the broker
holds records past the first offset the agent has not finished, the agent has finished nothing
on that partition for a while, and Faust has delivered no record past that offset to the stream
(so nothing of that partition waits in the stream's buffer; under a backlog the delivered
offset runs ahead of the finished one). Such a partition is sought back to its first unfinished
offset: what was fetched and dropped is fetched again. Seeking a partition whose one record was
only slow costs that record read twice, which the agent already tolerates (an event is applied
once by offset, a tick twice fires nothing twice). Nothing is judged while the agent's feed
holds fetched records (fetch.py): the agent is then the bottleneck, and a partition the fetch
has not reached yet only waits its turn; seeking it would throw the prefetched records away.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from faust.types import TP


@dataclass(slots=True)
class StallWatch:
    """Since when each partition has been behind without the agent finishing anything on it."""

    stall_after: float
    # tp -> (first unfinished offset, monotonic time it was first seen behind at that offset)
    behind: dict[TP, tuple[int, float]] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget every partition's time behind: judged afresh from the next call."""
        self.behind.clear()

    def stalled(
        self,
        now: float,
        next_unread: Mapping[TP, int | None],
        delivered: Mapping[TP, int | None],
        ends: Mapping[TP, int | None],
    ) -> list[tuple[TP, int]]:
        """The partitions to seek back, each with the offset to seek to.

        `next_unread`: the first offset the agent has not finished (None: not known, e.g.
        nothing read since the assignment and no committed offset); `delivered`: the last
        offset Faust handed to the stream (or sought to); `ends`: the broker's end offsets.
        """
        due: list[tuple[TP, int]] = []
        seen: set[TP] = set()
        for tp, first in next_unread.items():
            end = ends.get(tp)
            if first is None or end is None or end <= first:
                continue
            handed = delivered.get(tp)
            if handed is not None and handed > first:
                continue  # records past it wait in the stream: slow, not lost
            seen.add(tp)
            since = self.behind.get(tp)
            if since is None or since[0] != first:
                self.behind[tp] = (first, now)
                continue
            behind_for = now - since[1]
            if behind_for >= self.stall_after:
                due.append((tp, first))
                self.behind[tp] = (first, now)  # give the seek its own stall_after to work
        for tp in set(self.behind) - seen:
            del self.behind[tp]
        return due
