"""The in-memory index of next-due instants of the cases this worker owns.

One min-heap of (due, case key) per partition, with lazy invalidation: `schedule` records the
one current due instant of a case in a dict and pushes a heap entry; entries that no longer
match the dict are dropped when they reach the top. A partition whose steps must wait for
unread records (lag.py) is simply not popped past its bound: held steps stay where they are
instead of being taken and put back on every pass, so a pass costs what it sends, not what
waits. The index is derived state, rebuilt from the table whenever partitions are assigned.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

# Bounds per partition (lag.py): absent, every due step may go; an int, steps due before it
# may go; None, every step waits.
Bounds = Mapping[int, int | None]


class DueIndex:
    """Next-due instants (epoch microseconds) of cases, by partition."""

    __slots__ = ("_current", "_entries", "_heaps", "_ticked")

    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[int, bytes]]] = {}
        self._current: dict[bytes, tuple[int, int]] = {}
        self._entries = 0
        # Cases taken by pop_due whose tick the agent has not applied yet.
        self._ticked: set[bytes] = set()

    @property
    def ticked(self) -> int:
        """How many cases were due and ticked, and are not yet applied."""
        return len(self._ticked)

    def __len__(self) -> int:
        return len(self._current)

    def partitions(self) -> set[int]:
        """The partitions with an entry."""
        return set(self._heaps)

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
        self._push(partition, due, key)
        if self._entries > 2 * len(self._current) + 1024:
            self._compact()

    def next_due(self) -> int | None:
        """The earliest due instant, or None when nothing is scheduled."""
        tops = [self._top(p) for p in list(self._heaps)]
        return min((t for t in tops if t is not None), default=None)

    def pop_due(
        self, now: int, limit: int, retry_after: int, bounds: Bounds | None = None
    ) -> list[tuple[int, bytes, int]]:
        """Take up to limit cases due at now as (partition, key, due), earliest first, none past
        its partition's bound.

        Each taken case stays scheduled at now + retry_after, so a tick that is lost on its way
        through Kafka is sent again; the agent replaces that instant once it applies the tick.
        """
        bounds = bounds or {}
        heads: list[tuple[int, int, int]] = []  # (due, partition, last due it may take)
        for partition in list(self._heaps):
            until = self._until(partition, now, bounds)
            top = self._top(partition)
            if top is not None and top <= until:
                heads.append((top, partition, until))
        heapq.heapify(heads)
        taken: list[tuple[int, bytes, int]] = []
        while heads and len(taken) < limit:
            _, partition, until = heapq.heappop(heads)
            due, key = heapq.heappop(self._heaps[partition])
            self._entries -= 1
            taken.append((partition, key, due))
            self._ticked.add(key)
            self._current[key] = (now + retry_after, partition)
            self._push(partition, now + retry_after, key)
            top = self._top(partition)
            if top is not None and top <= until:
                heapq.heappush(heads, (top, partition, until))
        return taken

    def held(self, now: int, bounds: Bounds) -> int:
        """How many cases are due at now but wait behind their partition's bound (a case
        already ticked counts as ticked, not held)."""
        # A case scheduled at an instant, then another, then the first again has two entries
        # that both match its current instant: count cases, not entries.
        counted: set[bytes] = set()
        for partition, bound in bounds.items():
            heap = self._heaps.get(partition)
            if not heap:
                continue
            lowest = -1 if bound is None else bound  # due at or after it waits
            # Heap order: only entries due at or before now, and their subtrees, can count.
            stack = [0]
            while stack:
                i = stack.pop()
                if i >= len(heap) or heap[i][0] > now:
                    continue
                due, key = heap[i]
                valid = self._current.get(key) == (due, partition)
                if due >= lowest and valid and key not in self._ticked:
                    counted.add(key)
                stack += (2 * i + 1, 2 * i + 2)
        return len(counted)

    def drop_partitions(self, partitions: Iterable[int]) -> int:
        """Forget every case of the given partitions (revoked from this worker)."""
        gone = set(partitions)
        before = len(self._current)
        self._current = {k: v for k, v in self._current.items() if v[1] not in gone}
        self._ticked &= self._current.keys()
        self._compact()
        return before - len(self._current)

    def _until(self, partition: int, now: int, bounds: Bounds) -> int:
        if partition not in bounds:
            return now
        bound = bounds[partition]
        return -1 if bound is None else min(now, bound - 1)

    def _push(self, partition: int, due: int, key: bytes) -> None:
        heap = self._heaps.get(partition)
        if heap is None:
            heap = self._heaps[partition] = []
        heapq.heappush(heap, (due, key))
        self._entries += 1

    def _top(self, partition: int) -> int | None:
        """The partition's earliest valid due instant (stale entries dropped on the way)."""
        heap, current = self._heaps[partition], self._current
        while heap:
            due, key = heap[0]
            if current.get(key) == (due, partition):
                return due
            heapq.heappop(heap)
            self._entries -= 1
        del self._heaps[partition]
        return None

    def _compact(self) -> None:
        heaps: dict[int, list[tuple[int, bytes]]] = {}
        for key, (due, partition) in self._current.items():
            heaps.setdefault(partition, []).append((due, key))
        for heap in heaps.values():
            heapq.heapify(heap)
        self._heaps = heaps
        self._entries = len(self._current)
