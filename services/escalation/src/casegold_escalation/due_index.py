"""The in-memory index of next-due instants of the cases this worker owns.

A min-heap of (due, partition, case key) with lazy invalidation: `schedule` records the one
current due instant of a case in a dict and pushes a heap entry; entries that no longer match
the dict are dropped when they reach the top. The index is derived state: it is rebuilt from
the table whenever partitions are assigned, so it never needs to be durable.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


class DueIndex:
    """Next-due instants (epoch microseconds) of cases, by partition."""

    __slots__ = ("_current", "_heap", "_ticked")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, bytes]] = []
        self._current: dict[bytes, tuple[int, int]] = {}
        # Cases taken by pop_due whose tick the agent has not applied yet.
        self._ticked: set[bytes] = set()

    @property
    def ticked(self) -> int:
        """How many cases were due and ticked, and are not yet applied."""
        return len(self._ticked)

    def __len__(self) -> int:
        return len(self._current)

    def due_of(self, key: bytes) -> int | None:
        """The instant the case is next due, if it is scheduled."""
        entry = self._current.get(key)
        return entry[0] if entry else None

    def schedule(self, partition: int, key: bytes, due: int | None) -> None:
        """Set (or clear, with None) the next instant the case must be looked at."""
        self._ticked.discard(key)
        if due is None:
            self._current.pop(key, None)
            return
        if self._current.get(key) == (due, partition):
            return
        self._current[key] = (due, partition)
        heapq.heappush(self._heap, (due, partition, key))
        if len(self._heap) > 2 * len(self._current) + 1024:
            self._compact()

    def next_due(self) -> int | None:
        """The earliest due instant, or None when nothing is scheduled."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: int, limit: int, retry_after: int) -> list[tuple[int, bytes, int]]:
        """Take up to limit cases due at now as (partition, key, due).

        Each taken case stays scheduled at now + retry_after, so a tick that is lost on its way
        through Kafka is sent again; the agent replaces that instant once it applies the tick.
        """
        taken: list[tuple[int, bytes, int]] = []
        while self._heap and len(taken) < limit:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                break
            due, partition, key = heapq.heappop(self._heap)
            taken.append((partition, key, due))
            self._ticked.add(key)
            self._current[key] = (now + retry_after, partition)
            heapq.heappush(self._heap, (now + retry_after, partition, key))
        return taken

    def drop_partitions(self, partitions: Iterable[int]) -> int:
        """Forget every case of the given partitions (revoked from this worker)."""
        gone = set(partitions)
        before = len(self._current)
        self._current = {k: v for k, v in self._current.items() if v[1] not in gone}
        self._ticked &= self._current.keys()
        self._compact()
        return before - len(self._current)

    def _drop_stale(self) -> None:
        heap, current = self._heap, self._current
        while heap:
            due, partition, key = heap[0]
            if current.get(key) == (due, partition):
                return
            heapq.heappop(heap)

    def _compact(self) -> None:
        self._heap = [(due, partition, key) for key, (due, partition) in self._current.items()]
        heapq.heapify(self._heap)
